"""Whale transfers read from an EVM chain: ERC-20 ``Transfer`` logs from the cursor to the
confirmed head, decoded, priced and written to the ``whale_transfers`` lake dataset range by range
(the cursor is saved only after its range's rows are written)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drydock.adapters.evm._erc20 import DecimalsCache, decode_transfer
from drydock.adapters.evm._logs import AdaptiveLogReader, Cursor, load_cursor, save_cursor
from drydock.labels import LabelBook
from drydock.onchain import Prices, ScanReport, quarantine_whales, whale_row, write_whales
from drydock.tokens import TokenCatalog

__all__ = ["scan_whales"]


def scan_whales(
    w3: Any, chain: str, labels: LabelBook, catalog: TokenCatalog, lake_dir: Path, *,
    start_block: int = 0, threshold_usd: float = 100_000.0, prices: Prices | None = None,
    symbols: Mapping[str, str] | None = None, reader: AdaptiveLogReader | None = None,
    decimals: DecimalsCache | None = None,
) -> ScanReport:  # fmt: skip
    """Read Transfer logs from the cursor (or ``start_block``) to the confirmed head; write the
    transfers worth at least ``threshold_usd``; advance the cursor range by range.
    ``symbols`` maps extra token addresses to catalog symbols (a private or test chain)."""
    reader = reader or AdaptiveLogReader(w3)
    decimals = decimals or DecimalsCache(w3)
    prices = prices or Prices(lake_dir)
    extra = {k.lower(): v for k, v in (symbols or {}).items()}
    cursor_path = lake_dir / "onchain" / "cursors" / f"{chain}.json"
    first = reader.start_block(load_cursor(cursor_path), start_block)
    head = reader.safe_head()
    report = ScanReport(first_block=first, last_block=first - 1)
    times: dict[int, datetime] = {}
    for _start, end, logs in reader.read(first, head) if first <= head else ():
        rows: list[dict[str, Any]] = []
        bad: list[dict[str, Any]] = []
        for log in logs:
            report.logs += 1
            decoded = decode_transfer(log)
            if isinstance(decoded, str):
                bad.append({"chain": chain, "tx_hash": str(log.get("transactionHash", "")), "log_index":
                            int(log.get("logIndex", -1)), "block": int(log.get("blockNumber", -1)), "reason": decoded})  # fmt: skip
                continue
            t = decoded
            token = catalog.by_address("ethereum", t.token) if chain == "ethereum" else None
            symbol = extra.get(t.token) or (token.symbol if token else None)
            places = decimals.get(t.token)
            if places is None or symbol is None:
                reason = "unknown_decimals" if places is None else "unpriced_token"
                bad.append(
                    {
                        "chain": chain,
                        "tx_hash": t.tx_hash,
                        "log_index": t.log_index,
                        "block": t.block,
                        "reason": reason,
                    }
                )
                continue
            if t.block not in times:
                times[t.block] = datetime.fromtimestamp(
                    int(w3.eth.get_block(t.block)["timestamp"]), UTC
                )
            ts = times[t.block]
            price = prices.usd(symbol, ts)
            if price is None:
                bad.append({"chain": chain, "tx_hash": t.tx_hash, "log_index": t.log_index, "block": t.block,
                            "reason": "unpriced_token"})  # fmt: skip
                continue
            amount = t.value / 10**places
            usd = amount * price
            if usd < threshold_usd:
                report.below_threshold += 1
                continue
            rows.append(
                whale_row(
                    chain,
                    t,
                    ts,
                    symbol,
                    amount,
                    usd,
                    labels,
                    prices.daily_volume_usd(symbol, ts.date()),
                )
            )
        write_whales(rows, lake_dir)
        quarantine_whales(bad, lake_dir)
        for b in bad:
            reason = str(b["reason"])
            report.quarantined[reason] = report.quarantined.get(reason, 0) + 1
        report.whales += len(rows)
        block_hash = w3.eth.get_block(end)["hash"]
        save_cursor(
            cursor_path,
            Cursor(end, block_hash.hex() if hasattr(block_hash, "hex") else str(block_hash)),
        )
        report.last_block = end
    report.shrinks = reader.shrinks
    return report
