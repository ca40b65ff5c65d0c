"""The ``wallet_swaps`` lake dataset: swaps of watched wallets, from Helius webhook deliveries
(a JSON array of enhanced transactions) dropped in an inbox folder.

Rows are keyed by (chain, tx id, index) and merged per day, so a duplicate delivery changes
nothing. Each inbox file is moved to ``processed/`` once its rows are written, or to
``quarantine/`` when it is not JSON; swaps of wallets not on the watchlist are counted and left
out; transactions that are not usable swaps are counted by reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from drydock import lake

DATASET = "wallet_swaps"
REBUILD = "drydock wallets ingest"
SCHEMA: dict[str, pl.DataType] = {
    "chain": pl.String(), "tx_id": pl.String(), "index": pl.Int64(), "ts": pl.Datetime("us", "UTC"),
    "wallet": pl.String(), "label": pl.String(), "mode": pl.String(), "source": pl.String(),
    "token_in": pl.String(), "amount_in": pl.Float64(), "token_out": pl.String(),
    "amount_out": pl.Float64(), "description": pl.String(),
}  # fmt: skip


@dataclass
class SwapReport:
    files: int = 0
    swaps: int = 0
    unwatched: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    bad_files: int = 0


def write_swaps(rows: Sequence[dict[str, Any]], lake_dir: Path) -> None:
    """Upsert rows keyed by (chain, tx id, index) into their day partitions."""
    if not rows:
        return
    frame = pl.DataFrame(list(rows), schema=SCHEMA)
    for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
        row_key = pl.concat_str(["chain", "tx_id", pl.col("index").cast(pl.String)], separator=":")
        keep = ~row_key.is_in(part.select(row_key.alias("k"))["k"].implode())
        lake.merge_partition(
            DATASET, {"date": str(day)}, part, keep, REBUILD, lake_dir, sort_by="ts"
        )


def read_wallet_swaps(lake_dir: Path) -> pl.DataFrame:
    files = lake.partition_files(DATASET, {}, lake_dir)
    if not files:
        return pl.DataFrame(schema=SCHEMA)
    return pl.concat([lake.read_partition_file(f, REBUILD) for f in files]).sort("ts", "tx_id")
