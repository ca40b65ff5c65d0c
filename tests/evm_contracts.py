"""Deploy the vyper test contracts (``tests/fixtures/contracts``) on an in-process EVM.

Each source compiles once per test process (vyper takes about half a second a contract).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

CONTRACTS = Path(__file__).parent / "fixtures" / "contracts"


@cache
def compiled(name: str) -> tuple[Any, str]:
    """ABI and bytecode of ``contracts/<name>.vy``."""
    import vyper

    out = vyper.compile_code((CONTRACTS / f"{name}.vy").read_text(),
                             output_formats=["abi", "bytecode"])  # fmt: skip
    return out["abi"], out["bytecode"]


def deploy(w3: Any, name: str, *args: Any) -> Any:
    """Deploy ``name`` from ``w3.eth.default_account``; returns the bound contract."""
    abi, bytecode = compiled(name)
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact())
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)
