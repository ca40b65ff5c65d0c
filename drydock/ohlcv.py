"""OHLCV in the lake: validation with quarantine, daily partitions, and range reads.

Layout: ``ohlcv/exchange=<ex>/symbol=<symbol>/timeframe=<tf>/date=<YYYY-MM-DD>/part-0.parquet``,
values percent-encoded by :mod:`drydock.lake` (``BTC/USDT`` -> ``BTC%2FUSDT``). Rows failing sanity
checks (null timestamp, a null/NaN/inf value, non-positive prices, high/low not enclosing
open/close, negative volume, duplicate timestamps) are written to ``_quarantine/ohlcv/...`` with a
reason, never to the lake.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from drydock import lake
from drydock.errors import DataNotFoundError, DrydockError
from drydock.series import SeriesKey as SeriesKey  # re-exported
from drydock.settings import get_settings
from drydock.timeframes import timeframe_delta, timeframe_seconds
from drydock.types import BAR_SCHEMA

DATASET = "ohlcv"
QUARANTINE = "_quarantine/ohlcv"
NUMERIC = ("open", "high", "low", "close", "volume")


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast a frame to the bar schema (UTC microsecond ``ts``, float64 values), sorted by ``ts``.

    The sort is stable: rows sharing a timestamp keep their arrival order, which is what lets
    :func:`split_valid` keep the first-arriving duplicate.
    """
    missing = [c for c in BAR_SCHEMA if c not in frame.columns]
    if missing:
        raise DrydockError(
            f"OHLCV frame is missing columns {missing}; expected {list(BAR_SCHEMA)} "
            "(ts = bar open time in UTC)."
        )
    ts = pl.col("ts")
    dtype = frame.schema["ts"]
    if isinstance(dtype, pl.Datetime):
        ts = (
            ts.dt.replace_time_zone("UTC")
            if dtype.time_zone is None
            else ts.dt.convert_time_zone("UTC")
        )
    return frame.select(
        ts.cast(pl.Datetime("us", "UTC")).alias("ts"),
        *[pl.col(c).cast(pl.Float64) for c in BAR_SCHEMA if c != "ts"],
    ).sort("ts", maintain_order=True)


def _non_finite_reason() -> pl.Expr:
    """First numeric column holding a null, NaN or inf value, as a quarantine reason."""
    reasons = [pl.when(pl.col("ts").is_null()).then(pl.lit("null timestamp"))]
    reasons += [
        pl.when(~pl.col(c).is_finite().fill_null(False)).then(pl.lit(f"non-finite value in {c}"))
        for c in NUMERIC
    ]
    return pl.coalesce(reasons)


def split_valid(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (valid bars, rejected bars with a ``reason`` column).

    Of several valid rows sharing a timestamp the first to arrive (row order of ``frame``) is
    kept, whatever the values; the others are rejected as duplicates. A row rejected for another
    reason does not shadow a later valid row with the same timestamp.
    """
    frame = conform(frame)
    prices = ["open", "high", "low", "close"]
    finite = _non_finite_reason()
    reason = (
        pl.when(finite.is_not_null())
        .then(finite)
        .when(pl.any_horizontal([pl.col(c) <= 0 for c in prices]))
        .then(pl.lit("non-positive price"))
        .when(pl.col("high") < pl.max_horizontal("open", "close", "low"))
        .then(pl.lit("high below open/close/low"))
        .when(pl.col("low") > pl.min_horizontal("open", "close", "high"))
        .then(pl.lit("low above open/close/high"))
        .when(pl.col("volume") < 0)
        .then(pl.lit("negative volume"))
        .otherwise(None)
        .alias("reason")
    )
    tagged = frame.with_columns(reason)
    checked = tagged.filter(pl.col("reason").is_null())
    duplicate = ~pl.col("ts").is_first_distinct()
    good = checked.filter(~duplicate).drop("reason")
    repeats = checked.filter(duplicate).with_columns(pl.lit("duplicate timestamp").alias("reason"))
    bad = pl.concat([tagged.filter(pl.col("reason").is_not_null()), repeats]).sort(
        "ts", maintain_order=True
    )
    return good, bad


def write_day(
    key: SeriesKey, day: date, frame: pl.DataFrame, lake_dir: Path | None = None
) -> tuple[Path | None, int]:
    """Validate and atomically write one UTC day of bars; returns (path, quarantined row count).

    Bars outside ``day`` are rejected, so one Dagster partition always writes exactly one file.
    A day that is now clean loses its stale quarantine file, removed only after the good file is
    in place, so an interrupted write never leaves the day with neither.
    """
    good, bad = split_valid(frame)
    in_day = good["ts"].dt.date() == day
    outside = good.filter(~in_day).with_columns(pl.lit("outside partition day").alias("reason"))
    good = good.filter(in_day)
    bad = pl.concat([bad, outside]) if outside.height else bad
    partition = {**key.keys(), "date": day.isoformat()}
    if bad.height:
        lake.write_partition(QUARANTINE, partition, bad, lake_dir)
    if good.height == 0:
        return None, bad.height
    path = lake.write_partition(DATASET, partition, good, lake_dir)
    if not bad.height:
        lake.remove_partition(QUARANTINE, partition, lake_dir)
    return path, bad.height


def available_series(lake_dir: Path | None = None) -> list[SeriesKey]:
    """Every (exchange, symbol, timeframe) with at least one partition in the lake."""
    seen: set[SeriesKey] = set()
    for path in lake.partition_files(DATASET, {}, lake_dir):
        values = lake.partition_values(path)
        seen.add(SeriesKey(values["exchange"], values["symbol"], values["timeframe"]))
    return sorted(seen, key=str)


def _when(moment: datetime | None, open_end: str) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else open_end


def _span(start: datetime | None, end: datetime | None) -> str:
    return f"{_when(start, 'the first bar')} .. {_when(end, 'the last bar')} (end exclusive)"


def _holdings(key: SeriesKey, lake_dir: Path | None) -> str:
    """What the lake holds for ``key`` (first .. last bar, count), or the other series it has."""
    files = lake.partition_files(DATASET, key.keys(), lake_dir)
    if files:
        ts = pl.read_parquet(files, columns=["ts"], hive_partitioning=False)["ts"]
        first, last = ts.min(), ts.max()
        assert isinstance(first, datetime) and isinstance(last, datetime)
        return (
            f"the lake holds {_when(first, '')} .. {_when(last, '')} ({ts.len():,} bars) for {key}"
        )
    root = lake_dir if lake_dir is not None else get_settings().lake_dir
    others = ", ".join(str(s) for s in available_series(lake_dir)) or "nothing yet"
    return f"the lake at {root} holds no {key} bars; it holds: {others}"


def _fill_command(key: SeriesKey, start: datetime | None, end: datetime | None) -> str:
    """The ``drydock ingest`` command that fills ``key`` over the window (UTC days, end exclusive
    like every ``--end``: the day after the last day the window touches)."""
    parts = ["drydock", "ingest", "--exchange", key.exchange, "--symbol", key.symbol]
    parts += ["--timeframe", key.timeframe]
    if start is not None:
        parts += ["--start", start.date().isoformat()]
    if end is not None:
        last_day = (end - timedelta(microseconds=1)).date()
        parts += ["--end", (last_day + timedelta(days=1)).isoformat()]
    return " ".join(shlex.quote(part) for part in parts)


def shortage(
    key: SeriesKey,
    start: datetime | None,
    end: datetime | None,
    found: str,
    lake_dir: Path | None = None,
) -> DataNotFoundError:
    """One-line error: the series, the window, what was found, what the lake holds, the fix."""
    return DataNotFoundError(
        f"{found} for {key} in {_span(start, end)}; {_holdings(key, lake_dir)}. "
        f"Fill it with `{_fill_command(key, start, end)}`, or pick a window inside what it holds."
    )


def read(
    key: SeriesKey,
    start: datetime | None = None,
    end: datetime | None = None,
    lake_dir: Path | None = None,
) -> pl.DataFrame:
    """Bars of one series with ``start <= ts < end``; a clear error when the window has none."""
    timeframe_seconds(key.timeframe)  # a malformed timeframe fails the same way in every path
    if start is not None and end is not None and start >= end:
        raise DataNotFoundError(
            f"The window {_span(start, end)} for {key} is empty: the start must be before the "
            "end (the end is exclusive). Swap them or widen the window."
        )
    files = lake.partition_files(DATASET, key.keys(), lake_dir)
    if start is not None or end is not None:
        lo = (start - timedelta(days=1)).date() if start and start.date() > date.min else date.min
        hi = end.date() if end else date.max
        files = [
            f for f in files if lo <= date.fromisoformat(lake.partition_values(f)["date"]) <= hi
        ]
    if not files:
        raise shortage(key, start, end, "No OHLCV bars", lake_dir)
    frame = pl.read_parquet(files, hive_partitioning=False).select(list(BAR_SCHEMA)).sort("ts")
    frame = window(frame, start, end)
    if frame.height == 0:
        raise shortage(key, start, end, "No OHLCV bars", lake_dir)
    return frame


def require_bars(
    frame: pl.DataFrame,
    key: SeriesKey,
    start: datetime | None,
    end: datetime | None,
    needed: int,
    purpose: str,
    lake_dir: Path | None = None,
) -> None:
    """Raise a one-line DataNotFoundError when ``frame`` has fewer than ``needed`` bars.

    ``purpose`` says what needs them, e.g. "ema_cross needs 51 bars (warm-up 50 + 1)".
    """
    if frame.height < needed:
        found = f"Only {frame.height:,} OHLCV bars but {purpose} needs at least {needed:,}"
        raise shortage(key, start, end, found, lake_dir)


def window(frame: pl.DataFrame, start: datetime | None, end: datetime | None) -> pl.DataFrame:
    """Bars with ``start <= ts < end``; a missing bound is open."""
    if start is not None:
        frame = frame.filter(pl.col("ts") >= start)
    if end is not None:
        frame = frame.filter(pl.col("ts") < end)
    return frame


def fingerprint(frame: pl.DataFrame) -> str:
    """Content hash of a bar frame (stable across runs) for experiment tracking."""
    digest = hashlib.sha256()
    digest.update(str(frame.schema).encode())
    for col in frame.columns:
        digest.update(frame[col].to_physical().to_numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class BarQuality:
    """Integrity counts of one series' bars over a span (what the Dagster asset check reports)."""

    bars: int
    duplicates: int
    missing: int
    invalid: int

    @property
    def clean(self) -> bool:
        return self.duplicates == self.missing == self.invalid == 0


def bar_quality(
    frame: pl.DataFrame,
    timeframe: str,
    span_start: datetime | None = None,
    span_end: datetime | None = None,
) -> BarQuality:
    """Count duplicate timestamps, missing grid bars and OHLC sanity violations in ``frame``.

    Missing bars are counted on the ``timeframe`` grid from ``span_start`` to ``span_end``
    (inclusive bar open times), which default to the first and last bar of the frame.
    """
    frame = conform(frame)
    prices = ["open", "high", "low", "close"]
    bad = (
        pl.col("ts").is_null()
        | pl.any_horizontal([~pl.col(c).is_finite().fill_null(False) for c in NUMERIC])
        | pl.any_horizontal([pl.col(c) <= 0 for c in prices])
        | (pl.col("high") < pl.max_horizontal("open", "close"))
        | (pl.col("low") > pl.min_horizontal("open", "close"))
        | (pl.col("volume") < 0)
    )
    invalid = frame.select(bad.fill_null(True).sum()).item()
    duplicates = frame.height - frame["ts"].n_unique()
    lo = span_start if span_start is not None else frame["ts"].min()
    hi = span_end if span_end is not None else frame["ts"].max()
    missing = 0
    if isinstance(lo, datetime) and isinstance(hi, datetime) and lo <= hi:
        grid = pl.datetime_range(
            lo, hi, timeframe_delta(timeframe), time_unit="us", time_zone="UTC", eager=True
        )
        missing = int((~grid.is_in(frame["ts"].implode())).sum())
    return BarQuality(
        bars=frame.height, duplicates=duplicates, missing=missing, invalid=int(invalid)
    )
