"""Resample bars to a higher timeframe with polars ``group_by_dynamic`` (UTC, left-closed/labelled).

open = first, high = max, low = min, close = last, volume = sum. Buckets align the way exchanges
align them: minutes, hours and days from the Unix epoch, weeks on Monday 00:00 UTC, months
(``1M``) on the first of the calendar month. A bucket missing source bars is dropped unless
``complete_only=False``; the result says how many were dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from drydock.errors import DrydockError
from drydock.ohlcv import BAR_SCHEMA
from drydock.timeframes import timeframe_seconds

__all__ = ["Resampled", "resample"]

_MONTHS = re.compile(r"^([1-9]\d*)M$")
_POLARS_UNIT = {"m": "m", "h": "h", "d": "d", "w": "w"}
_DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class Resampled:
    """Resampled bars (``BAR_SCHEMA``) and the count of incomplete buckets left out."""

    frame: pl.DataFrame
    dropped_incomplete: int


def _every(to: str, source_s: int, source: str) -> str:
    """The polars window string for ``to``, after checking it is a whole multiple of ``source``."""
    months = _MONTHS.fullmatch(to)
    if months:
        if _DAY_S % source_s:
            raise DrydockError(
                f"Cannot resample {source} bars to {to}: calendar months are whole days, so the "
                f"source timeframe must divide one day (e.g. 1m, 1h, 1d)."
            )
        return f"{months.group(1)}mo"
    to_s = timeframe_seconds(to)
    if to_s < source_s or to_s % source_s:
        raise DrydockError(
            f"Cannot resample {source} bars to {to}: the target must be a whole multiple of the "
            f"source timeframe ({source_s}s), e.g. {source} -> "
            f"{'1h' if 3600 % source_s == 0 else '1d'}; use a finer source or another target."
        )
    if to.endswith("w") and _DAY_S % source_s and not source.endswith("w"):
        raise DrydockError(
            f"Cannot resample {source} bars to {to}: weeks start on Monday 00:00 UTC, which "
            f"{source} bars counted from the epoch (a Thursday) do not tile; use 1d or finer bars."
        )
    return to[:-1] + _POLARS_UNIT[to[-1]]


def _check_bars(frame: pl.DataFrame, source: str, source_s: int) -> None:
    """Refuse input that is not sorted, unique, aligned UTC bars in ``BAR_SCHEMA``."""
    wrong = {
        c: str(frame.schema.get(c, "missing"))
        for c, dtype in BAR_SCHEMA.items()
        if frame.schema.get(c) != dtype
    }
    if wrong:
        raise DrydockError(
            f"resample input has the wrong columns/types {wrong}; expected {BAR_SCHEMA} "
            "(pass it through drydock.ohlcv.conform first)."
        )
    epoch = pl.col("ts").dt.epoch("us")
    offset_us = 4 * _DAY_S * 1_000_000 if source.endswith("w") else 0
    nulls, backwards, misaligned = frame.select(  # one parallel pass over the column
        pl.col("ts").null_count().alias("nulls"),
        (epoch.diff() <= 0).any().alias("backwards"),
        ((epoch - offset_us) % (source_s * 1_000_000) != 0).any().alias("misaligned"),
    ).row(0)
    if nulls:
        raise DrydockError(
            "resample input has null timestamps; validate it with ohlcv.split_valid."
        )
    if backwards:
        raise DrydockError(
            "resample input timestamps must be strictly increasing (sorted, no duplicates); "
            "sort and deduplicate it with drydock.ohlcv.split_valid first."
        )
    if misaligned:
        first = frame.filter((epoch - offset_us) % (source_s * 1_000_000) != 0)["ts"][0]
        raise DrydockError(
            f"resample input bar at {first} is not aligned to the source timeframe {source}; "
            "pass the timeframe the bars really have as source=."
        )


def resample(
    frame: pl.DataFrame, to: str, *, source: str = "1m", complete_only: bool = True
) -> Resampled:
    """Aggregate ``source`` bars into ``to`` bars (``to`` a whole multiple of ``source``, or 'NM').

    With ``complete_only`` a bucket is kept only when it holds every source bar it should (60 for
    1m -> 1h, the month's days x 1440 for 1m -> 1M); otherwise partial buckets are kept too.
    """
    source_s = timeframe_seconds(source)
    every = _every(to, source_s, source)
    _check_bars(frame, source, source_s)
    grouped = (
        frame.group_by_dynamic("ts", every=every, closed="left", label="left")
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.len().alias("_bars"),
        )
        .with_columns(
            (
                (pl.col("ts").dt.offset_by(every) - pl.col("ts")).dt.total_microseconds()
                // (source_s * 1_000_000)
            ).alias("_expected")
        )
    )
    complete = pl.col("_bars") == pl.col("_expected")
    dropped = (
        0 if not complete_only else grouped.height - int(grouped.select(complete.sum()).item())
    )
    if complete_only:
        grouped = grouped.filter(complete)
    return Resampled(grouped.select(list(BAR_SCHEMA)), dropped)
