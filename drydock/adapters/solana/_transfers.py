"""Large SOL and SPL transfers from Helius enhanced transactions into ``whale_transfers``
(chain ``solana``, the signature as the transaction id, the transfer's position in the
transaction as the index).

SOL amounts come from ``nativeTransfers`` (lamports), SPL amounts from ``tokenTransfers``
(already scaled by decimals); a token is priced when its mint is in the token catalog (USDC,
USDT at 1; SOL and wrapped SOL from the ohlcv lake). Unpriced mints and payloads missing fields
are counted by reason, not stored; the same classification and significance as EVM transfers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drydock.adapters.solana._helius import SOL_MINT
from drydock.labels import LabelBook
from drydock.onchain import Prices, Transfer
from drydock.onchain import whale_row as _row
from drydock.onchain import write_whales as _write
from drydock.tokens import TokenCatalog


def scan_helius_transfers(
    txs: Sequence[Any], labels: LabelBook, catalog: TokenCatalog, lake_dir: Path, *,
    threshold_usd: float = 100_000.0, prices: Prices | None = None,
) -> dict[str, int]:  # fmt: skip
    """Write the transfers worth at least ``threshold_usd``; returns counts by outcome."""
    prices = prices or Prices(lake_dir)
    counts = {"whales": 0, "below_threshold": 0, "unpriced": 0, "malformed": 0}
    rows = []
    for tx in txs:
        if (
            not isinstance(tx, dict)
            or not tx.get("signature")
            or not isinstance(tx.get("timestamp"), int)
        ):
            counts["malformed"] += 1
            continue
        if tx.get("transactionError"):
            continue
        ts = datetime.fromtimestamp(tx["timestamp"], UTC)
        moves: list[tuple[str, str, str, float]] = []
        for n in tx.get("nativeTransfers") or []:
            moves.append((SOL_MINT, str(n.get("fromUserAccount") or ""), str(n.get("toUserAccount") or ""),
                          int(n.get("amount") or 0) / 1e9))  # fmt: skip
        for t in tx.get("tokenTransfers") or []:
            moves.append((str(t.get("mint") or ""), str(t.get("fromUserAccount") or ""),
                          str(t.get("toUserAccount") or ""), float(t.get("tokenAmount") or 0)))  # fmt: skip
        for index, (mint, sender, receiver, amount) in enumerate(moves):
            if amount <= 0:
                continue
            token = catalog.by_address("solana", mint) if mint else None
            price = prices.usd(token.symbol, ts) if token else None
            if token is None or price is None:
                counts["unpriced"] += 1
                continue
            usd = amount * price
            if usd < threshold_usd:
                counts["below_threshold"] += 1
                continue
            move = Transfer(
                mint, sender, receiver, 0, str(tx["signature"]), index, int(tx.get("slot") or 0)
            )
            rows.append(_row("solana", move, ts, token.symbol, amount, usd, labels,
                             prices.daily_volume_usd(token.symbol, ts.date())))  # fmt: skip
    _write(rows, lake_dir)
    counts["whales"] = len(rows)
    return counts
