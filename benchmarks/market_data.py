"""Market-data figures: lake ingest rate, a year of 1m bars through the warehouse, resampling rate.

Each side of a figure does the same job in the same run; inputs are generated per instrument
outside the timed region (:func:`benchmarks.data.market_minutes`), so peak memory stays near one
instrument's frames rather than the whole 10M rows.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.data import market_minutes
from benchmarks.harness import Figure
from drydock import lake, ohlcv, warehouse
from drydock.resample import resample
from drydock.series import SeriesKey
from drydock.settings import Settings

INSTRUMENTS = 20
ROWS = 10_000_000
YEAR_1M = 525_600
BAD_EVERY = 100_003  # a NaN close now and then: validation must quarantine it on both sides
EXCHANGE = "synthetic"
Raw = dict[str, np.ndarray]


def series_key(instrument: int, timeframe: str = "1m") -> SeriesKey:
    """The lake key of synthetic instrument ``instrument``."""
    return SeriesKey(EXCHANGE, f"S{instrument:03d}/USDT", timeframe)


def covered_days(raw: Raw) -> list[date]:
    """Every UTC day from the first to the last bar of ``raw`` (what a download job owns)."""
    first = datetime.fromtimestamp(int(raw["ts"][0]) / 1000, UTC).date()
    last = datetime.fromtimestamp(int(raw["ts"][-1]) / 1000, UTC).date()
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def ingest_ours(key: SeriesKey, raw: Raw, lake_dir: Path) -> ohlcv.WriteReport:
    """Normalize raw epoch-ms bars and write them the way the Dagster asset does: write_bars."""
    frame = pl.DataFrame(raw).with_columns(pl.col("ts").cast(pl.Datetime("ms", "UTC")))
    return ohlcv.write_bars(key, frame, days=covered_days(raw), lake_dir=lake_dir)


def _atomic_arrow(table: pa.Table, path: Path) -> None:
    """pyarrow write to a temp file, fsync, rename (the same durability as the lake's writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    with open(tmp, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def ingest_pandas(key: SeriesKey, raw: Raw, lake_dir: Path) -> tuple[int, int]:
    """The straightforward pandas + pyarrow job: same checks, same period files; (good, bad)."""
    df = pd.DataFrame(raw)
    df["ts"] = pd.to_datetime(df["ts"], unit="ms", utc=True).astype("datetime64[us, UTC]")
    values = df[["open", "high", "low", "close", "volume"]].astype("float64")
    finite = pd.Series(np.isfinite(values.to_numpy()).all(axis=1), index=df.index)
    ok = (
        df["ts"].notna()
        & finite
        & (values[["open", "high", "low", "close"]] > 0).all(axis=1)
        & (values["high"] >= values[["open", "close", "low"]].max(axis=1))
        & (values["low"] <= values[["open", "close", "high"]].min(axis=1))
        & (values["volume"] >= 0)
        & (df["ts"].astype("int64") % 60_000_000 == 0)
    )
    ok &= ~df["ts"].where(ok).duplicated() | ~ok
    stamps = df["ts"].astype("int64").where(ok)
    ok &= ~(stamps < stamps.cummax().shift(1))  # out of order: earlier than a valid row before it
    good = df[ok].sort_values("ts", kind="stable")
    bad = df[~ok]
    keys = key.keys()
    for period, part in good.groupby(good["ts"].dt.strftime("%Y-%m"), sort=True):
        folder = lake.partition_dir("ohlcv", {**keys, "period": str(period)}, lake_dir)
        _atomic_arrow(pa.Table.from_pandas(part, preserve_index=False), folder / lake.PART_FILE)
    if len(bad):
        folder = lake.partition_dir("_quarantine/ohlcv", keys, lake_dir)
        _atomic_arrow(pa.Table.from_pandas(bad, preserve_index=False), folder / lake.PART_FILE)
    return len(good), len(bad)


def _timed_ingests(
    jobs: list[Callable[[SeriesKey, Raw, Path], object]], instruments: int, rows: int
) -> list[float]:
    """Seconds each job spends writing ``instruments`` series of ``rows`` bars into its own fresh
    lake; the jobs alternate per instrument, so a busy shared machine slows them alike."""
    spent = [0.0] * len(jobs)
    with tempfile.TemporaryDirectory(prefix="drydock-bench-") as tmp:
        for instrument in range(instruments):
            raw = market_minutes(instrument, rows, bad_every=BAD_EVERY)
            for i, job in enumerate(jobs):
                start = time.perf_counter()
                job(series_key(instrument), raw, Path(tmp) / str(i))
                spent[i] += time.perf_counter() - start
    return spent


def ingest_rows_per_s(instruments: int = INSTRUMENTS, rows: int = ROWS // INSTRUMENTS) -> Figure:
    """Rows/s normalizing, validating and writing ``instruments`` x ``rows`` 1m bars through
    ``write_bars`` (one call per series with the days it covers) vs the pandas + pyarrow job."""
    total = instruments * rows
    ours_s, base_s = _timed_ingests([ingest_ours, ingest_pandas], instruments, rows)
    ours, base = total / ours_s, total / base_s
    return Figure(
        "ingest_rows_per_s", round(ours), "rows/s", round(base), round(ours / base, 2), total
    )


def _median_ms_pair(
    first: Callable[[], object], second: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Median ms of each of two calls over ``repeat`` alternating rounds, after a warm-up of each
    (page cache, DuckDB's parquet metadata); alternating keeps machine load changes fair."""
    first(), second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for func, spent in zip((first, second), times, strict=True):
            start = time.perf_counter()
            func()
            spent.append(time.perf_counter() - start)
    return statistics.median(times[0]) * 1000, statistics.median(times[1]) * 1000


def build_query_lake(home: Path, rows: int = YEAR_1M, others: int = 4) -> SeriesKey:
    """A lake under ``home`` with one year of 1m bars for one series plus ``others`` small series
    (a week each, so the view's filter has something to prune), and its warehouse views."""
    lake_dir = Settings(home=home).lake_dir
    key = series_key(0)
    ingest_ours(key, market_minutes(0, rows), lake_dir)
    for instrument in range(1, others + 1):
        ingest_ours(series_key(instrument), market_minutes(instrument, 7 * 1440), lake_dir)
    warehouse.refresh_views(Settings(home=home))
    return key


#: No ORDER BY: period files hold sorted bars and their paths sort chronologically, and DuckDB keeps
#: the scan's file order (``preserve_insertion_order``, on by default); sorting again cost ~25 ms.
VIEW_QUERY = (
    "SELECT ts, open, high, low, close, volume FROM ohlcv "
    "WHERE exchange = ? AND symbol = ? AND timeframe = ?"
)


def query_view(con: duckdb.DuckDBPyConnection, key: SeriesKey) -> pl.DataFrame:
    """One series' bars through the warehouse view into polars, on an open connection.

    DuckDB hands TIMESTAMPTZ to polars as zone 'Etc/UTC'; relabelling it 'UTC' (metadata only)
    gives exactly ``BAR_SCHEMA``, as ``ohlcv.read`` does.
    """
    frame = con.execute(VIEW_QUERY, [key.exchange, key.symbol, key.timeframe]).pl()
    return frame.with_columns(pl.col("ts").dt.convert_time_zone("UTC"))


def query_1y_1m_ms(rows: int = YEAR_1M, repeat: int = 20) -> Figure:
    """Median ms to read one series' year of 1m bars through the DuckDB ``ohlcv`` view into
    polars on an open read-only connection (a session's one-off ~20 ms connect is left out);
    baseline = ``drydock.ohlcv.read`` of the same series (ratio > 1: the view is faster)."""
    with tempfile.TemporaryDirectory(prefix="drydock-bench-") as tmp:
        settings = Settings(home=Path(tmp))
        key = build_query_lake(Path(tmp), rows)
        with warehouse.connect(settings) as con:
            ours, base = _median_ms_pair(
                lambda: query_view(con, key),
                lambda: ohlcv.read(key, lake_dir=settings.lake_dir),
                repeat,
            )
    return Figure(
        "query_1y_1m_ms", round(ours, 1), "ms", round(base, 1), round(base / ours, 2), rows
    )


def bars_frame(raw: Raw) -> pl.DataFrame:
    """Raw epoch-ms bars as a ``BAR_SCHEMA`` frame."""
    return ohlcv.conform(pl.DataFrame(raw).with_columns(pl.col("ts").cast(pl.Datetime("ms"))))


def resample_pandas(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas 1m -> 1h with the same rule: complete hours only (60 bars)."""
    out = frame.resample("1h", closed="left", label="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    counts = frame["close"].resample("1h", closed="left", label="left").size()
    return out[counts == 60]


def resample_rows_per_s(instruments: int = INSTRUMENTS, rows: int = ROWS // INSTRUMENTS) -> Figure:
    """Rows/s resampling 1m -> 1h with :func:`drydock.resample.resample`, per instrument, against
    pandas ``resample().agg`` on the same frames (conversion to each library's frame untimed)."""
    ours_s = base_s = 0.0
    for instrument in range(instruments):
        frame = bars_frame(market_minutes(instrument, rows))
        indexed = frame.to_pandas().set_index("ts")
        start = time.perf_counter()
        resample(frame, "1h")
        ours_s += time.perf_counter() - start
        start = time.perf_counter()
        resample_pandas(indexed)
        base_s += time.perf_counter() - start
    total = instruments * rows
    ours, base = total / ours_s, total / base_s
    return Figure(
        "resample_rows_per_s", round(ours), "rows/s", round(base), round(ours / base, 2), total
    )
