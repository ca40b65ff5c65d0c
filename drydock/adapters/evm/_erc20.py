"""ERC-20 ``Transfer`` logs decoded, with token decimals read on chain once and cached.

A log whose topics or data do not have the Transfer shape (3 topics: signature, from, to; 32
bytes of value) is quarantined with its reason; a token whose ``decimals()`` reverts or returns
nonsense is quarantined as ``unknown_decimals``, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drydock.adapters.evm._logs import TRANSFER_TOPIC
from drydock.onchain import Transfer

DECIMALS_SELECTOR = "0x313ce567"


def _hex(value: Any) -> str:
    text = value.hex() if hasattr(value, "hex") and not isinstance(value, str) else str(value)
    return text if text.startswith("0x") else "0x" + text


def decode_transfer(log: Mapping[str, Any]) -> Transfer | str:
    """The Transfer, or the reason it cannot be one (for the quarantine)."""
    topics = [_hex(t).lower() for t in log.get("topics", [])]
    if not topics or topics[0] != TRANSFER_TOPIC:
        return "not a Transfer event"
    if len(topics) != 3:
        return f"Transfer with {len(topics)} topics (ERC-721 or malformed), expected 3"
    if any(len(t) != 66 or t[2:26] != "0" * 24 for t in topics[1:]):
        return "malformed address topic"
    data = _hex(log.get("data", "0x"))
    if len(data) != 66:
        return f"Transfer data of {(len(data) - 2) // 2} bytes, expected 32"
    return Transfer(
        _hex(log["address"]).lower(), "0x" + topics[1][26:], "0x" + topics[2][26:], int(data, 16),
        _hex(log["transactionHash"]).lower(), int(log["logIndex"]), int(log["blockNumber"]),
    )  # fmt: skip


@dataclass
class DecimalsCache:
    """``decimals()`` of each token, read once through ``eth_call`` (None: unknown)."""

    w3: Any
    known: dict[str, int | None] = field(default_factory=dict)
    calls: int = 0

    def get(self, token: str) -> int | None:
        token = token.lower()
        if token not in self.known:
            self.calls += 1
            try:
                raw = self.w3.eth.call(
                    {"to": self.w3.to_checksum_address(token), "data": DECIMALS_SELECTOR}
                )
                value = int(_hex(raw), 16) if len(_hex(raw)) > 2 else -1
            except Exception:  # a revert, a missing contract, a provider error
                value = -1
            self.known[token] = value if 0 <= value <= 36 else None
        return self.known[token]
