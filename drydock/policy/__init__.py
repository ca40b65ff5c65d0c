"""The shared policy engine: every order, in backtests and live, is decided here.

Names load lazily (PEP 562), so importing :mod:`drydock.policy.cli` to register the ``policy``
command group costs no pydantic or polars import on ``drydock --help``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drydock.policy._config import Policy, load_policy, parse_policy
    from drydock.policy._context import (
        PolicyContext,
        deposit_high_water,
        mark_high_water,
        withdraw_high_water,
    )
    from drydock.policy._engine import evaluate
    from drydock.policy._evm_payload import EvmTx
    from drydock.policy._rolling import cap_usage
    from drydock.policy._solana_payload import TOKEN_PROGRAM, SolanaTx
    from drydock.policy._transaction import Payload

__all__ = [
    "TOKEN_PROGRAM",
    "EvmTx",
    "Payload",
    "Policy",
    "PolicyContext",
    "SolanaTx",
    "cap_usage",
    "deposit_high_water",
    "evaluate",
    "load_policy",
    "mark_high_water",
    "parse_policy",
    "withdraw_high_water",
]

_HOMES = {
    "Policy": "drydock.policy._config",
    "load_policy": "drydock.policy._config",
    "parse_policy": "drydock.policy._config",
    "PolicyContext": "drydock.policy._context",
    "evaluate": "drydock.policy._engine",
    "deposit_high_water": "drydock.policy._context",
    "mark_high_water": "drydock.policy._context",
    "withdraw_high_water": "drydock.policy._context",
    "EvmTx": "drydock.policy._evm_payload",
    "cap_usage": "drydock.policy._rolling",
    "SolanaTx": "drydock.policy._solana_payload",
    "TOKEN_PROGRAM": "drydock.policy._solana_payload",
    "Payload": "drydock.policy._transaction",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'drydock.policy' has no attribute {name!r}")
    return getattr(import_module(home), name)
