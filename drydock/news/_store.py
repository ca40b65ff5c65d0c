"""The ``news`` lake dataset: one Parquet file per UTC publication day, one row per story.

Rows merge by content hash under the partition's lock: the first row seen for a story stays (its
source, URL and fetch time), later feeds carrying it are added to its ``sources`` list; a rerun
with the same items leaves the file byte-identical. Quarantined items go to
``_quarantine/news/date=<fetch day>`` with their reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from drydock import lake
from drydock.news._normalize import COLUMNS

DATASET = "news"
QUARANTINE = "_quarantine/news"
SCHEMA: dict[str, pl.DataType] = {
    "content_hash": pl.String(), "published_at": pl.Datetime("us", "UTC"),
    "fetched_at": pl.Datetime("us", "UTC"), "source": pl.String(), "sources": pl.List(pl.String()),
    "title": pl.String(), "summary": pl.String(), "url": pl.String(), "language": pl.String(),
    "currencies": pl.List(pl.String()),
}  # fmt: skip
REBUILD = "drydock news fetch"


def _frame(items: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """The items as a frame, column by column (from a list of row dicts polars builds one Series
    per list cell, ~10x slower); list and datetime columns go through Arrow."""
    import pyarrow as pa

    columns = []
    for c in COLUMNS:
        cells = [i[c] for i in items]
        if SCHEMA[c] == pl.List(pl.String()) and all(cell is not None for cell in cells):
            columns.append(_strings(c, cells))
        elif isinstance(SCHEMA[c], pl.Datetime):
            stamps = pa.array(cells, pa.timestamp("us", tz="UTC"))
            columns.append(pl.Series(c, stamps).cast(SCHEMA[c]))
        else:
            columns.append(pl.Series(c, cells, dtype=SCHEMA[c]))
    return pl.DataFrame(columns)


def _strings(name: str, cells: list[Any]) -> pl.Series:
    """A List(String) column from Python lists of strings, built from flat values and offsets."""
    import pyarrow as pa

    offsets = [0]
    for cell in cells:
        offsets.append(offsets[-1] + len(cell))
    values = pa.array([v for cell in cells for v in cell], pa.large_string())
    array = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values)
    return pl.Series(name, array).cast(pl.List(pl.String()))


def _merge(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    both = pl.concat([old, new]).sort("fetched_at", "source", maintain_order=True)
    sources = both.group_by("content_hash").agg(pl.col("sources").explode().unique().sort())
    first = both.unique("content_hash", keep="first", maintain_order=True).drop("sources")
    return (
        first.join(sources, on="content_hash").select(COLUMNS).sort("published_at", "content_hash")
    )


def write_news(items: Sequence[dict[str, Any]], lake_dir: Path | None = None) -> dict[str, int]:
    """Merge ``items`` into their day partitions; returns {day: rows in that partition}."""
    if not items:
        return {}
    rows = _frame(items)
    frame = _merge(rows.head(0), rows)
    counts: dict[str, int] = {}
    for (day,), part in frame.group_by(pl.col("published_at").dt.date(), maintain_order=True):
        keys = {"date": str(day)}
        folder = lake.partition_dir(DATASET, keys, lake_dir)
        path = folder / lake.PART_FILE
        with lake.partition_lock(folder, lake_dir):
            old = lake.read_partition_file(path, REBUILD) if path.exists() else None
            merged = part if old is None else _merge(old, part)  # part is merged already
            if old is None or not merged.equals(old):
                lake.atomic_write_parquet(merged, path)
        counts[str(day)] = merged.height
    return counts


def quarantine(
    rows: Sequence[dict[str, Any]], day: date, lake_dir: Path | None = None
) -> Path | None:
    """Append quarantined items (with ``reason``) to the fetch day's quarantine file."""
    if not rows:
        return None
    frame = pl.DataFrame([{**{c: r.get(c) for c in COLUMNS}, "reason": r["reason"]} for r in rows],
                         schema={**SCHEMA, "reason": pl.String()})  # fmt: skip
    folder = lake.partition_dir(QUARANTINE, {"date": str(day)}, lake_dir)
    path = folder / lake.PART_FILE
    with lake.partition_lock(folder, lake_dir):
        if path.exists():
            frame = pl.concat([lake.read_partition_file(path, REBUILD), frame]).unique(
                maintain_order=True
            )
        lake.atomic_write_parquet(frame, path)
    return path


def read_news(start: datetime | None = None, end: datetime | None = None,
              sources: Sequence[str] | None = None, lake_dir: Path | None = None) -> pl.DataFrame:  # fmt: skip
    """Stories published in ``[start, end)`` (optionally from ``sources``), oldest first."""
    files = lake.partition_files(DATASET, {}, lake_dir)
    if not files:
        return pl.DataFrame(schema=SCHEMA)
    frame = pl.concat([lake.read_partition_file(f, REBUILD) for f in files])
    if start is not None:
        frame = frame.filter(pl.col("published_at") >= start)
    if end is not None:
        frame = frame.filter(pl.col("published_at") < end)
    if sources:
        frame = frame.filter(
            pl.col("sources").list.eval(pl.element().is_in(list(sources))).list.any()
        )
    return frame.sort("published_at", "content_hash")
