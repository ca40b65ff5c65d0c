"""OHLCV in the lake: validation with quarantine, period files merged by day, and range reads.

Layout: ``<dataset>/exchange=<ex>/symbol=<symbol>/timeframe=<tf>/period=<P>/part-0.parquet``,
values percent-encoded by :mod:`drydock.lake` (``BTC/USDT`` -> ``BTC%2FUSDT``). ``P`` is the UTC
month (``2024-03``) for timeframes below 1h and the UTC year (``2024``) from 1h up: a month of 1m
bars is 44,640 rows and a year of 1h bars 8,784, big enough that reads and writes are not
dominated by per-file overhead (docs/data.md has the measurements). Datasets: ``ohlcv`` (trade
bars) and ``mark_prices`` (mark-price bars, same schema).

Writers replace or merge whole UTC days inside a period file under the folder's lock. Rows failing
sanity checks (see :func:`split_valid`) go to ``_quarantine/<dataset>/...`` with a ``day`` and a
``reason``, never to the lake.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

import polars as pl

from drydock import lake
from drydock.errors import CorruptDataError, DataNotFoundError, DrydockError
from drydock.series import SeriesKey as SeriesKey  # re-exported
from drydock.settings import get_settings
from drydock.timeframes import timeframe_seconds

__all__ = [
    "BAR_SCHEMA",
    "DATASET",
    "DATASETS",
    "NUMERIC",
    "PERIOD",
    "QUARANTINE",
    "SeriesKey",
    "WriteMode",
    "WriteReport",
    "available_series",
    "conform",
    "file_rebuild_command",
    "fingerprint",
    "misaligned",
    "period_of",
    "period_span",
    "quarantine_dataset",
    "quarantined",
    "read",
    "require_bars",
    "series_files",
    "shortage",
    "split_valid",
    "window",
    "write_bars",
    "write_day",
]

#: OHLCV bar schema: ``ts`` is the UTC open time of the bar; prices float64; volume in base units.
BAR_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
}

DATASET = "ohlcv"
DATASETS = ("ohlcv", "mark_prices")
QUARANTINE = "_quarantine/ohlcv"
PERIOD = "period"
NUMERIC = ("open", "high", "low", "close", "volume")
_MONDAY_OFFSET_S = 4 * 86_400  # 1970-01-01 was a Thursday; weekly bars open on Mondays
WriteMode = Literal["replace", "merge"]


def quarantine_dataset(dataset: str) -> str:
    """Where the bad rows of ``dataset`` go."""
    return f"_quarantine/{dataset}"


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise DrydockError(f"Unknown bar dataset {dataset!r}; use one of {', '.join(DATASETS)}.")


def period_of(timeframe: str, day: date) -> str:
    """The period file holding ``day``'s bars: 'YYYY-MM' below 1h, 'YYYY' from 1h up."""
    if timeframe_seconds(timeframe) < 3600:
        return f"{day.year:04d}-{day.month:02d}"
    return f"{day.year:04d}"


def period_span(period: str) -> tuple[date, date]:
    """First day and the day after the last day of a period ('2024-03' or '2024')."""
    if len(period) == 7:
        year, month = int(period[:4]), int(period[5:])
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return first, following
    year = int(period)
    return date(year, 1, 1), date(year + 1, 1, 1)


def conform(frame: pl.DataFrame, *, sort: bool = True) -> pl.DataFrame:
    """Cast a frame to the bar schema (UTC microsecond ``ts``, float64 values).

    Naive timestamps are taken as UTC; zone-aware ones are converted. With ``sort`` the rows are
    ordered by ``ts`` stably (rows sharing a timestamp keep their arrival order); without it the
    arrival order is kept, which is what :func:`split_valid` needs to see out-of-order rows.
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
    out = frame.select(
        ts.cast(pl.Datetime("us", "UTC")).alias("ts"),
        *[pl.col(c).cast(pl.Float64) for c in BAR_SCHEMA if c != "ts"],
    )
    return out.sort("ts", maintain_order=True) if sort else out


def _non_finite_reason() -> pl.Expr:
    """First numeric column holding a null, NaN or inf value, as a quarantine reason."""
    reasons = [pl.when(pl.col("ts").is_null()).then(pl.lit("null timestamp"))]
    reasons += [
        pl.when(~pl.col(c).is_finite().fill_null(False)).then(pl.lit(f"non-finite value in {c}"))
        for c in NUMERIC
    ]
    return pl.coalesce(reasons)


def misaligned(timeframe: str) -> pl.Expr:
    """True where ``ts`` is not a bar open time of ``timeframe`` (weekly bars open on Monday)."""
    step_us = timeframe_seconds(timeframe) * 1_000_000
    offset_us = _MONDAY_OFFSET_S * 1_000_000 if timeframe.endswith("w") else 0
    return ((pl.col("ts").dt.epoch("us") - offset_us) % step_us) != 0


def _valid_row(timeframe: str) -> pl.Expr:
    """True for a row passing every per-row check (the fast path: one boolean pass)."""
    prices = ["open", "high", "low", "close"]
    return (
        pl.col("ts").is_not_null()
        & pl.all_horizontal([pl.col(c).is_finite() for c in NUMERIC])
        & pl.all_horizontal([pl.col(c) > 0 for c in prices])
        & (pl.col("high") >= pl.max_horizontal("open", "close", "low"))
        & (pl.col("low") <= pl.min_horizontal("open", "close", "high"))
        & (pl.col("volume") >= 0)
        & ~misaligned(timeframe)
    ).fill_null(False)


def _reason(timeframe: str) -> pl.Expr:
    """The first per-row check a row fails, as its quarantine reason (run on failing rows only)."""
    prices = ["open", "high", "low", "close"]
    finite = _non_finite_reason()
    return (
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
        .otherwise(pl.lit(f"timestamp not aligned to {timeframe}"))
        .alias("reason")
    )


def split_valid(frame: pl.DataFrame, timeframe: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (valid bars sorted by ts, rejected rows with a ``reason``).

    Reasons, first match wins: null timestamp, non-finite value, non-positive price, high below
    open/close/low, low above open/close/high, negative volume, a timestamp not aligned to the
    timeframe (a shifted clock or wrong timezone), a duplicate timestamp (the first valid arrival
    is kept, whatever its values), an out-of-order timestamp (earlier than a valid row that
    arrived before it). A rejected row never shadows a later valid row with the same timestamp.
    """
    frame = conform(frame, sort=False)
    ok = frame.select(_valid_row(timeframe).alias("ok")).to_series()
    checked = frame if ok.all() else frame.filter(ok)
    failed = frame.filter(~ok).with_columns(_reason(timeframe))
    late = repeats = None
    if checked.height > 1 and not (checked["ts"].dt.epoch("us").diff().drop_nulls() > 0).all():
        duplicate = ~pl.col("ts").is_first_distinct()
        repeats = checked.filter(duplicate).with_columns(
            pl.lit("duplicate timestamp").alias("reason")
        )
        distinct = checked.filter(~duplicate)
        backwards = (pl.col("ts") < pl.col("ts").cum_max().shift(1)).fill_null(False)
        late = distinct.filter(backwards).with_columns(
            pl.lit("out-of-order timestamp").alias("reason")
        )
        checked = distinct.filter(~backwards)
    # else: the common case (a clean download), strictly increasing, nothing late or repeated
    parts = [part for part in (failed, late, repeats) if part is not None and part.height]
    bad = pl.concat(parts) if parts else failed.clear()
    return checked, bad


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What one write did: rows kept and quarantined (by reason), days replaced, files touched."""

    rows_written: int
    rows_quarantined: int
    reasons: dict[str, int]
    days: tuple[date, ...]
    files: tuple[Path, ...]


def _rebuild_command(key: SeriesKey, first: date, stop: date) -> str:
    parts = ["drydock", "ingest", "--exchange", key.exchange, "--symbol", key.symbol]
    parts += ["--timeframe", key.timeframe, "--start", first.isoformat(), "--end", stop.isoformat()]
    return " ".join(shlex.quote(part) for part in parts)


def file_rebuild_command(path: Path) -> str:
    """The ingest command that rewrites the period file ``path`` of a bar dataset, read from its
    hive folders; plain ``drydock ingest`` when the path is not such a file."""
    values = lake.partition_values(path)
    if not {"exchange", "symbol", "timeframe", "period"} <= values.keys():
        return "drydock ingest"
    try:
        first, stop = period_span(values["period"])
        key = SeriesKey(values["exchange"], values["symbol"], values["timeframe"])
    except (ValueError, DrydockError):
        return "drydock ingest"
    return _rebuild_command(key, first, stop)


def _day_set(days: Iterable[date]) -> list[date]:
    out = sorted(set(days))
    for day in out:
        if not isinstance(day, date) or isinstance(day, datetime):
            raise DrydockError(f"write_bars days must be datetime.date values, got {day!r}.")
    return out


def _attach_day(bad: pl.DataFrame, fallback: date) -> pl.DataFrame:
    """Quarantine rows get the UTC day they belong to (rows with no timestamp: ``fallback``)."""
    return bad.with_columns(pl.col("ts").dt.date().fill_null(fallback).alias("day"))


def write_bars(
    key: SeriesKey,
    frame: pl.DataFrame,
    *,
    days: Iterable[date] | None = None,
    mode: WriteMode = "replace",
    dataset: str = DATASET,
    lake_dir: Path | None = None,
    reject: Mapping[datetime, str] | None = None,
) -> WriteReport:
    """Validate ``frame`` and store it by UTC day into the series' period files.

    ``reject`` maps timestamps of valid rows to a quarantine reason (``drydock data import
    --strict``'s outliers): those rows are quarantined with it instead of written.

    ``days`` (default: every day an input row falls on) are the days this write owns. Mode
    ``replace`` (downloads) makes the lake's rows of those days exactly the frame's good rows, so
    a day with none is emptied; mode ``merge`` (imports) keeps the stored rows and lets the
    frame's rows win on equal timestamps. Good rows outside ``days`` are quarantined. The day's
    quarantine rows are replaced the same way (merge: added, exact repeats dropped), so a day
    that is now clean loses its stale quarantine. Each period file is rewritten under its lock,
    atomically, and only when its content changes.
    """
    _check_dataset(dataset)
    if mode not in ("replace", "merge"):
        raise DrydockError(f"write_bars mode must be 'replace' or 'merge', got {mode!r}.")
    series_files(key, dataset, lake_dir)  # refuses a series still in the earlier layout
    good, bad = split_valid(frame, key.timeframe)
    if reject:
        rejected = pl.DataFrame(
            {"ts": list(reject), "reason": list(reject.values())},
            schema={"ts": good.schema["ts"], "reason": pl.String},
        )
        moved = good.join(rejected, on="ts", how="inner")
        if moved.height:
            good = good.join(rejected, on="ts", how="anti")
            bad = pl.concat([bad, moved.select(bad.columns)])
    if days is None:
        seen = pl.concat([good["ts"], bad["ts"].drop_nulls()]).dt.date().unique()
        wanted = _day_set(seen.to_list())
    else:
        wanted = _day_set(days)
        outside = ~good["ts"].dt.date().is_in(pl.Series(wanted, dtype=pl.Date).implode())
        if outside.any():
            stray = good.filter(outside).with_columns(
                pl.lit("outside requested days").alias("reason")
            )
            good = good.filter(~outside)
            bad = pl.concat([bad, stray])
    if not wanted:
        if bad.height:
            raise DrydockError(
                f"None of the {bad.height:,} rows given for {key} has a usable timestamp "
                "(all null); check the timestamp column of the input."
            )
        return WriteReport(0, 0, {}, (), ())
    bad = _attach_day(bad, wanted[0])
    periods: dict[str, list[date]] = {}
    for day in wanted:
        periods.setdefault(period_of(key.timeframe, day), []).append(day)
    good_by = _by_period(good, pl.col("ts").dt.date(), key.timeframe)
    bad_by = _by_period(bad, pl.col("day"), key.timeframe)
    files: list[Path] = []
    for period, period_days in periods.items():
        first, stop = period_span(period)
        rebuild = _rebuild_command(key, first, stop)
        keys = {**key.keys(), PERIOD: period}
        in_days = pl.Series(period_days, dtype=pl.Date).implode()
        new_good = good_by.get(period, good.clear())
        keep = (
            ~pl.col("ts").dt.date().is_in(in_days)
            if mode == "replace"
            else ~pl.col("ts").is_in(new_good["ts"].implode())
        )
        path = lake.merge_partition(dataset, keys, new_good, keep, rebuild, lake_dir)
        if path is not None:
            files.append(path)
        new_bad = bad_by.get(period, bad.clear())
        if mode == "replace":
            q_keep: pl.Expr | None = ~pl.col("day").is_in(in_days)
        else:  # merge: keep what is there, add only rows not already quarantined
            q_keep = None
            new_bad = _not_yet_quarantined(dataset, keys, new_bad, lake_dir)
        if mode == "replace" or new_bad.height:
            lake.merge_partition(
                quarantine_dataset(dataset), keys, new_bad, q_keep, rebuild, lake_dir, "day"
            )
    reasons = bad["reason"].value_counts(sort=True)
    return WriteReport(
        rows_written=good.height,
        rows_quarantined=bad.height,
        reasons={str(r): int(n) for r, n in reasons.iter_rows()},
        days=tuple(wanted),
        files=tuple(files),
    )


def _by_period(frame: pl.DataFrame, day: pl.Expr, timeframe: str) -> dict[str, pl.DataFrame]:
    """Split ``frame`` into its period files' shares (``day`` gives each row's UTC day).

    Sorted bars (the good rows) are cut into zero-copy slices at the period starts found by
    binary search; anything else (quarantine rows) is grouped by a formatted period column.
    """
    if frame.height == 0:
        return {}
    monthly = timeframe_seconds(timeframe) < 3600
    fmt = "%Y-%m" if monthly else "%Y"
    if "day" not in frame.columns and frame["ts"].is_sorted():
        ts = frame["ts"]
        first, last = ts[0], ts[-1]
        assert isinstance(first, datetime) and isinstance(last, datetime)
        start = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if not monthly:
            start = start.replace(month=1)
        bounds = pl.datetime_range(
            start, last, "1mo" if monthly else "1y", eager=True, time_unit="us", time_zone="UTC"
        )
        cuts = [*ts.search_sorted(bounds, side="left").to_list(), frame.height]
        return {
            bound.strftime(fmt): frame.slice(lo, hi - lo)
            for bound, lo, hi in zip(bounds.to_list(), cuts, cuts[1:], strict=False)
            if hi > lo
        }
    tagged = frame.with_columns(day.dt.strftime(fmt).alias("_period"))
    parts = tagged.partition_by("_period", as_dict=True, include_key=False, maintain_order=True)
    return {str(name[0]): part for name, part in parts.items()}


def _not_yet_quarantined(
    dataset: str, keys: dict[str, str], bad: pl.DataFrame, lake_dir: Path | None
) -> pl.DataFrame:
    """Rows of ``bad`` not already in the quarantine file (so merging twice changes nothing)."""
    path = lake.partition_dir(quarantine_dataset(dataset), keys, lake_dir) / lake.PART_FILE
    if bad.height == 0 or not path.exists():
        return bad
    stored = pl.read_parquet(path, hive_partitioning=False).select(bad.columns)
    return bad.join(stored, on=bad.columns, how="anti", nulls_equal=True)


def write_day(
    key: SeriesKey, day: date, frame: pl.DataFrame, lake_dir: Path | None = None
) -> tuple[Path | None, int]:
    """Replace one UTC day of bars; returns (the period file if the day has bars, quarantined).

    Bars outside ``day`` are quarantined ("outside requested days"), so one Dagster partition
    only ever changes its own day.
    """
    report = write_bars(key, frame, days=[day], lake_dir=lake_dir)
    path = lake.partition_dir(
        DATASET, {**key.keys(), PERIOD: period_of(key.timeframe, day)}, lake_dir
    )
    has_bars = report.rows_written > 0
    return (path / lake.PART_FILE if has_bars else None), report.rows_quarantined


def quarantined(
    key: SeriesKey, lake_dir: Path | None = None, dataset: str = DATASET
) -> pl.DataFrame:
    """Quarantined rows of one series (bar columns, ``day``, ``reason``), oldest day first."""
    _check_dataset(dataset)
    files = series_files(key, quarantine_dataset(dataset), lake_dir)
    if not files:
        return pl.DataFrame(schema={**BAR_SCHEMA, "reason": pl.String, "day": pl.Date})
    return pl.concat([pl.read_parquet(f, hive_partitioning=False) for f in files]).sort(
        "day", maintain_order=True
    )


def series_files(
    key: SeriesKey, dataset: str = DATASET, lake_dir: Path | None = None
) -> list[Path]:
    """The period files of one series (or of its quarantine: ``_quarantine/<dataset>``).

    A file in the earlier one-file-per-day layout (``date=`` folders) is refused with the fix,
    rather than read as if it were a period.
    """
    files = lake.partition_files(dataset, key.keys(), lake_dir)
    legacy = [f for f in files if PERIOD not in lake.partition_values(f)]
    if legacy:
        root = lake_dir if lake_dir is not None else get_settings().lake_dir
        raise CorruptDataError(
            f"The lake holds {len(legacy)} file(s) of {key} in the earlier one-file-per-day "
            f"layout (e.g. {legacy[0]}); this version stores one file per month (below 1h) or "
            f"year. Move {root} aside and rebuild it with `drydock ingest` (or `make demo`)."
        )
    return files


def available_series(lake_dir: Path | None = None, dataset: str = DATASET) -> list[SeriesKey]:
    """Every (exchange, symbol, timeframe) with at least one partition in the lake."""
    _check_dataset(dataset)
    seen: set[SeriesKey] = set()
    for path in lake.partition_files(dataset, {}, lake_dir):
        values = lake.partition_values(path)
        seen.add(SeriesKey(values["exchange"], values["symbol"], values["timeframe"]))
    return sorted(seen, key=str)


def _when(moment: datetime | None, open_end: str) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else open_end


def _span(start: datetime | None, end: datetime | None) -> str:
    return f"{_when(start, 'the first bar')} .. {_when(end, 'the last bar')} (end exclusive)"


def _holdings(key: SeriesKey, lake_dir: Path | None) -> str:
    """What the lake holds for ``key`` (first .. last bar, count), or the other series it has."""
    files = series_files(key, DATASET, lake_dir)
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


def _overlapping(files: list[Path], start: datetime | None, end: datetime | None) -> list[Path]:
    """Period files that can hold bars of ``[start, end)``."""
    lo = start.date() if start is not None else date.min
    hi = end.date() if end is not None else date.max
    out = []
    for path in files:
        first, stop = period_span(lake.partition_values(path)[PERIOD])
        if first <= hi and stop > lo:
            out.append(path)
    return out


def _broken_rows(frame: pl.DataFrame) -> pl.Expr:
    """Rows the writer would never have stored: bad values or a timestamp not after the last."""
    prices = ["open", "high", "low", "close"]
    return (
        pl.any_horizontal([~pl.col(c).is_finite().fill_null(False) for c in NUMERIC])
        | pl.any_horizontal([pl.col(c) <= 0 for c in prices])
        | (pl.col("high") < pl.max_horizontal("open", "close"))
        | (pl.col("low") > pl.min_horizontal("open", "close"))
        | (pl.col("volume") < 0)
        | pl.col("ts").is_null()
        | (pl.col("ts") <= pl.col("ts").shift(1)).fill_null(False)
    )


def _read_files(key: SeriesKey, files: list[Path]) -> pl.DataFrame:
    """Read period files, checking each is readable and holds only valid, increasing bars."""
    frames = []
    for path in files:
        first, stop = period_span(lake.partition_values(path)[PERIOD])
        rebuild = _rebuild_command(key, first, stop)
        frame = lake.read_partition_file(path, rebuild)
        if list(frame.columns) != list(BAR_SCHEMA) or frame.schema != pl.Schema(BAR_SCHEMA):
            raise CorruptDataError(
                f"The lake file {path} has columns {dict(frame.schema)}, not the bar schema "
                f"{list(BAR_SCHEMA)}. Rebuild it with `{rebuild}`, or delete it."
            )
        broken = frame.select(_broken_rows(frame).sum()).item()
        if broken:
            raise CorruptDataError(
                f"The lake file {path} holds {broken} invalid or out-of-order bar(s) (written "
                f"outside drydock?). Rebuild it with `{rebuild}`, or delete it."
            )
        frames.append(frame)
    return pl.concat(frames) if len(frames) > 1 else frames[0]


def read(
    key: SeriesKey,
    start: datetime | None = None,
    end: datetime | None = None,
    lake_dir: Path | None = None,
    dataset: str = DATASET,
) -> pl.DataFrame:
    """Bars of one series with ``start <= ts < end``; a clear error when the window has none.

    Every file read is checked (readable, bar schema, finite and sane values, strictly increasing
    timestamps): a damaged file raises :class:`CorruptDataError` naming it and the command that
    rebuilds it, never a silently wrong frame.
    """
    _check_dataset(dataset)
    timeframe_seconds(key.timeframe)  # a malformed timeframe fails the same way in every path
    if start is not None and end is not None and start >= end:
        raise DataNotFoundError(
            f"The window {_span(start, end)} for {key} is empty: the start must be before the "
            "end (the end is exclusive). Swap them or widen the window."
        )
    files = _overlapping(series_files(key, dataset, lake_dir), start, end)
    if not files:
        raise shortage(key, start, end, f"No {_noun(dataset)}", lake_dir)
    frame = window(_read_files(key, files), start, end)
    if frame.height == 0:
        raise shortage(key, start, end, f"No {_noun(dataset)}", lake_dir)
    return frame


def _noun(dataset: str) -> str:
    return "OHLCV bars" if dataset == DATASET else "mark-price bars"


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
