"""Whale transfers: ERC-20 Transfer logs above a USD threshold, classified by address labels and
scored for significance, in the ``whale_transfers`` lake dataset.

USD value = amount x the token's price at the block time: stablecoins (USDT, USDC, DAI) at 1,
other catalog tokens at the close of the ``<SYMBOL>/USDT`` 1h bar containing the block time from
the ``ohlcv`` lake. A transfer of a token with no price is quarantined as ``unpriced_token`` (it
cannot be ranked), one whose decimals are unknown as ``unknown_decimals``. Rows are keyed by
(chain, tx hash, log index) and merged per day, so re-reading blocks (a resume, a reorg rewind)
changes nothing. The cursor is saved only after the rows of its range are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from drydock import lake
from drydock.labels import LabelBook, classify, significance

DATASET = "whale_transfers"
QUARANTINE = "_quarantine/whale_transfers"
STABLE = frozenset({"USDT", "USDC", "DAI"})
REBUILD = "drydock whales scan"
SCHEMA: dict[str, pl.DataType] = {
    "chain": pl.String(), "tx_hash": pl.String(), "log_index": pl.Int64(), "block": pl.Int64(),
    "ts": pl.Datetime("us", "UTC"), "token": pl.String(), "symbol": pl.String(),
    "sender": pl.String(), "receiver": pl.String(), "amount": pl.Float64(), "usd": pl.Float64(),
    "kind": pl.String(), "significance": pl.Float64(), "sender_entity": pl.String(),
    "receiver_entity": pl.String(),
}  # fmt: skip


@dataclass(frozen=True)
class Transfer:
    """One decoded Transfer log (addresses lower-case, value in raw token units)."""

    token: str
    sender: str
    receiver: str
    value: int
    tx_hash: str
    log_index: int
    block: int


@dataclass
class Prices:
    """USD prices by token symbol at a time (stablecoins 1; others from the ohlcv lake)."""

    lake_dir: Path | None = None
    exchange: str = "binance"
    fixed: dict[str, float] = field(default_factory=dict)  # symbol -> USD, when no bars exist
    _bars: dict[str, pl.DataFrame] = field(default_factory=dict)

    def _frame(self, symbol: str) -> pl.DataFrame:
        if symbol not in self._bars:
            from drydock import ohlcv
            from drydock.errors import DrydockError

            try:
                self._bars[symbol] = ohlcv.read(ohlcv.SeriesKey(self.exchange, f"{symbol}/USDT", "1h"),
                                                lake_dir=self.lake_dir)  # fmt: skip
            except DrydockError:
                self._bars[symbol] = pl.DataFrame()
        return self._bars[symbol]

    def usd(self, symbol: str, at: datetime) -> float | None:
        if symbol in STABLE:
            return 1.0
        if symbol in self.fixed:
            return self.fixed[symbol]
        frame = self._frame("BTC" if symbol == "WBTC" else "ETH" if symbol == "WETH" else symbol)
        if frame.height == 0:
            return None
        hour = frame.filter((pl.col("ts") <= at) & (pl.col("ts") > at - timedelta(hours=1)))
        return float(hour["close"][-1]) if hour.height else None

    def daily_volume_usd(self, symbol: str, day: date) -> float:
        """Quote volume of the symbol's USDT pair that UTC day (0 when unknown)."""
        if symbol in STABLE:
            return 0.0
        frame = self._frame("ETH" if symbol == "WETH" else symbol)
        if frame.height == 0:
            return 0.0
        rows = frame.filter(pl.col("ts").dt.date() == day)
        return float((rows["close"] * rows["volume"]).sum()) if rows.height else 0.0


@dataclass
class ScanReport:
    """What one scan read and wrote."""

    first_block: int = 0
    last_block: int = 0
    logs: int = 0
    whales: int = 0
    below_threshold: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    shrinks: int = 0


def whale_row(chain: str, t: Transfer, ts: datetime, symbol: str, amount: float, usd: float, labels: LabelBook,
         volume: float) -> dict[str, Any]:  # fmt: skip
    kind = classify(labels, chain, t.sender, t.receiver)
    sender, receiver = labels.of(chain, t.sender), labels.of(chain, t.receiver)
    return {
        "chain": chain, "tx_hash": t.tx_hash, "log_index": t.log_index, "block": t.block, "ts": ts,
        "token": t.token, "symbol": symbol, "sender": t.sender, "receiver": t.receiver,
        "amount": amount, "usd": usd, "kind": kind, "significance": significance(usd, volume, kind),
        "sender_entity": sender.entity if sender else None,
        "receiver_entity": receiver.entity if receiver else None,
    }  # fmt: skip


def write_whales(rows: list[dict[str, Any]], lake_dir: Path) -> None:
    if not rows:
        return
    frame = pl.DataFrame(rows, schema=SCHEMA)
    for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
        keys = pl.concat_str(
            ["chain", "tx_hash", pl.col("log_index").cast(pl.String)], separator=":"
        )
        new = part.select(keys.alias("k"))["k"].implode()
        keep = ~pl.concat_str(
            ["chain", "tx_hash", pl.col("log_index").cast(pl.String)], separator=":"
        ).is_in(new)
        lake.merge_partition(
            DATASET, {"date": str(day)}, part, keep, REBUILD, lake_dir, sort_by="ts"
        )


def quarantine_whales(rows: list[dict[str, Any]], lake_dir: Path) -> None:
    if not rows:
        return
    frame = pl.DataFrame(rows, schema={"chain": pl.String(), "tx_hash": pl.String(), "log_index": pl.Int64(),
                                       "block": pl.Int64(), "reason": pl.String()})  # fmt: skip
    lake.merge_partition(QUARANTINE, {"date": str(datetime.now(UTC).date())}, frame, None, REBUILD, lake_dir,
                         sort_by="block")  # fmt: skip


def read_whales(lake_dir: Path) -> pl.DataFrame:
    files = lake.partition_files(DATASET, {}, lake_dir)
    if not files:
        return pl.DataFrame(schema=SCHEMA)
    return pl.concat([lake.read_partition_file(f, REBUILD) for f in files]).sort(
        "ts", "tx_hash", "log_index"
    )
