"""Helius enhanced transactions -> swaps of watched wallets.

A ``SWAP`` is read from ``events.swap`` (what the wallet put in and took out: native SOL in
lamports or SPL tokens with their decimals); when that event is absent the wallet's net token
flows in ``tokenTransfers`` are used. A payload missing the fields a swap needs (signature,
timestamp, wallet, one side of the trade) is quarantined with the reason, never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

SOL_MINT = "So11111111111111111111111111111111111111112"


def _side(
    entries: list[Mapping[str, Any]], native: Mapping[str, Any] | None
) -> tuple[str, float] | None:
    if native and native.get("amount") not in (None, "0", 0):
        return SOL_MINT, int(native["amount"]) / 1e9
    for entry in entries:
        raw = entry.get("rawTokenAmount") or {}
        if "tokenAmount" in raw and "decimals" in raw and entry.get("mint"):
            return str(entry["mint"]), int(raw["tokenAmount"]) / 10 ** int(raw["decimals"])
    return None


def _from_transfers(
    tx: Mapping[str, Any], wallet: str
) -> tuple[tuple[str, float] | None, tuple[str, float] | None]:
    net: dict[str, float] = {}
    for t in tx.get("tokenTransfers") or []:
        amount = float(t.get("tokenAmount") or 0)
        if t.get("fromUserAccount") == wallet:
            net[t["mint"]] = net.get(t["mint"], 0.0) - amount
        if t.get("toUserAccount") == wallet:
            net[t["mint"]] = net.get(t["mint"], 0.0) + amount
    for n in tx.get("nativeTransfers") or []:
        lamports = int(n.get("amount") or 0) / 1e9
        if n.get("fromUserAccount") == wallet:
            net[SOL_MINT] = net.get(SOL_MINT, 0.0) - lamports
        if n.get("toUserAccount") == wallet:
            net[SOL_MINT] = net.get(SOL_MINT, 0.0) + lamports
    spent = min(net.items(), key=lambda kv: kv[1], default=None)
    got = max(net.items(), key=lambda kv: kv[1], default=None)
    return ((spent[0], -spent[1]) if spent and spent[1] < 0 else None,
            (got[0], got[1]) if got and got[1] > 0 else None)  # fmt: skip


def parse_swap(tx: Mapping[str, Any]) -> dict[str, Any] | str:
    """The swap row of one enhanced transaction, or why it cannot be one."""
    if tx.get("type") != "SWAP":
        return f"not a swap ({tx.get('type')})"
    signature, ts = tx.get("signature"), tx.get("timestamp") or tx.get("blockTime")
    if not signature or not isinstance(ts, int):
        return "missing signature or timestamp"
    if tx.get("transactionError"):
        return "failed transaction"
    swap = (tx.get("events") or {}).get("swap")
    wallet = tx.get("feePayer")
    if swap:
        inputs = swap.get("tokenInputs") or []
        wallet = (
            (inputs[0].get("userAccount") if inputs else None)
            or (swap.get("nativeInput") or {}).get("account")
            or wallet
        )
        spent, got = (
            _side(inputs, swap.get("nativeInput")),
            _side(swap.get("tokenOutputs") or [], swap.get("nativeOutput")),
        )
    elif wallet:
        spent, got = _from_transfers(tx, str(wallet))
    else:
        return "missing events.swap and feePayer"
    if not wallet or spent is None or got is None:
        return "swap without both sides"
    return {
        "chain": "solana", "tx_id": str(signature), "index": 0,
        "ts": datetime.fromtimestamp(ts, UTC), "wallet": str(wallet), "source": str(tx.get("source") or ""),
        "token_in": spent[0], "amount_in": spent[1], "token_out": got[0], "amount_out": got[1],
        "description": str(tx.get("description") or "")[:300],
    }  # fmt: skip
