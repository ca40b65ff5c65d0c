"""What an order-level venue needs from an EVM chain beyond sending: ERC-20 and Uniswap V2 router
contract handles from minimal ABIs, the ERC-20 ``Transfer`` logs of a receipt, block times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drydock.adapters.evm._erc20 import decode_transfer
from drydock.onchain import Transfer

__all__ = ["ERC20_ABI", "V2_ROUTER_ABI", "block_time", "erc20", "receipt_transfers", "v2_router"]


def _fn(name: str, inputs: list[tuple[str, str]], outputs: list[str], view: bool) -> dict[str, Any]:
    return {
        "type": "function", "name": name,
        "inputs": [{"name": n, "type": t} for n, t in inputs],
        "outputs": [{"name": "", "type": t} for t in outputs],
        "stateMutability": "view" if view else "nonpayable",
    }  # fmt: skip


ERC20_ABI = [
    _fn("approve", [("spender", "address"), ("amount", "uint256")], ["bool"], False),
    _fn("transfer", [("to", "address"), ("amount", "uint256")], ["bool"], False),
    _fn("allowance", [("owner", "address"), ("spender", "address")], ["uint256"], True),
    _fn("balanceOf", [("owner", "address")], ["uint256"], True),
    _fn("decimals", [], ["uint8"], True),
]
V2_ROUTER_ABI = [
    _fn("swapExactTokensForTokens", [("amountIn", "uint256"), ("amountOutMin", "uint256"),
        ("path", "address[]"), ("to", "address"), ("deadline", "uint256")], ["uint256[]"], False),
    _fn("getAmountsOut", [("amountIn", "uint256"), ("path", "address[]")], ["uint256[]"], True),
]  # fmt: skip


def erc20(w3: Any, address: str) -> Any:
    """An ERC-20 contract handle (approve, transfer, allowance, balanceOf, decimals)."""
    return w3.eth.contract(address=w3.to_checksum_address(address), abi=ERC20_ABI)


def v2_router(w3: Any, address: str) -> Any:
    """A Uniswap V2 router handle (``swapExactTokensForTokens``, ``getAmountsOut``)."""
    return w3.eth.contract(address=w3.to_checksum_address(address), abi=V2_ROUTER_ABI)


def receipt_transfers(receipt: Any) -> list[Transfer]:
    """The ERC-20 ``Transfer`` logs of a mined receipt, decoded (other logs are skipped)."""
    found = [decode_transfer(log) for log in receipt.get("logs", [])]
    return [t for t in found if isinstance(t, Transfer)]


def block_time(w3: Any, block: int) -> datetime:
    """The UTC timestamp of ``block``."""
    return datetime.fromtimestamp(int(w3.eth.get_block(block)["timestamp"]), UTC)
