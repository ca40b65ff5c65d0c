"""Perpetual funding rates in the lake: validation with quarantine, yearly files, reads.

Layout: ``funding_rates/exchange=<ex>/symbol=<perp symbol>/period=<YYYY>/part-0.parquet`` with
:data:`FUNDING_SCHEMA`. ``rate`` is the fraction paid per funding interval (0.0001 = 0.01%; a
positive rate means longs pay shorts), ``interval_hours`` the venue's interval at that time (8 on
Binance for most of its history, 1 on Hyperliquid, 4 on some Binance symbols since 2023), and
``mark_price`` the mark at the funding time when the venue reports it. Reads add ``annualized`` =
rate x 24 x 365 / interval_hours (simple, not compounded).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from drydock import lake
from drydock.errors import DataNotFoundError, DrydockError
from drydock.ohlcv import WriteReport
from drydock.symbols import canonical_exchange, canonical_symbol

__all__ = [
    "DATASET",
    "FUNDING_SCHEMA",
    "PERIOD",
    "QUARANTINE",
    "conform_funding",
    "read_funding",
    "split_funding",
    "split_valid_funding",
    "write_funding",
]

DATASET = "funding_rates"
QUARANTINE = "_quarantine/funding_rates"
PERIOD = "period"
FUNDING_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "rate": pl.Float64(),
    "interval_hours": pl.Float64(),
    "mark_price": pl.Float64(),
}


def conform_funding(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast to :data:`FUNDING_SCHEMA` keeping arrival order (naive ts = UTC); ``mark_price`` optional."""
    required = ["ts", "rate", "interval_hours"]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DrydockError(
            f"Funding frame is missing columns {missing}; expected {list(FUNDING_SCHEMA)} "
            "(ts = funding time in UTC, rate per interval, interval_hours, mark_price optional)."
        )
    if "mark_price" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias("mark_price"))
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
        *[pl.col(c).cast(pl.Float64) for c in FUNDING_SCHEMA if c != "ts"],
    )


def split_valid_funding(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(valid rows sorted by ts, rejected rows with a ``reason``); first duplicate kept."""
    frame = conform_funding(frame)
    reason = (
        pl.when(pl.col("ts").is_null())
        .then(pl.lit("null timestamp"))
        .when(~pl.col("rate").is_finite().fill_null(False))
        .then(pl.lit("non-finite rate"))
        .when(pl.col("rate").abs() >= 1)
        .then(pl.lit("rate outside (-1, 1): not a per-interval fraction"))
        .when(~(pl.col("interval_hours") > 0).fill_null(False))
        .then(pl.lit("interval_hours not positive"))
        .when(~pl.col("interval_hours").is_finite())
        .then(pl.lit("non-finite interval_hours"))
        .when(
            pl.col("mark_price").is_not_null()
            & ~(pl.col("mark_price").is_finite() & (pl.col("mark_price") > 0))
        )
        .then(pl.lit("mark_price not a positive number"))
        .otherwise(None)
        .alias("reason")
    )
    tagged = frame.with_columns(reason)
    checked = tagged.filter(pl.col("reason").is_null())
    duplicate = ~pl.col("ts").is_first_distinct()
    good = checked.filter(~duplicate).drop("reason").sort("ts")
    repeats = checked.filter(duplicate).with_columns(pl.lit("duplicate timestamp").alias("reason"))
    bad = pl.concat([tagged.filter(pl.col("reason").is_not_null()), repeats])
    return good, bad


def _keys(exchange: str, symbol: str) -> dict[str, str]:
    return {"exchange": canonical_exchange(exchange), "symbol": canonical_symbol(symbol)}


def write_funding(
    exchange: str,
    symbol: str,
    frame: pl.DataFrame,
    *,
    days: Iterable[date] | None = None,
    lake_dir: Path | None = None,
) -> WriteReport:
    """Validate and store funding rows, replacing the lake's rows of ``days`` (default: the days
    the input covers); rows outside ``days`` and bad rows are quarantined with a reason."""
    keys = _keys(exchange, symbol)
    good, bad = split_valid_funding(frame)
    if days is None:
        wanted = sorted(set(pl.concat([good["ts"], bad["ts"].drop_nulls()]).dt.date().to_list()))
    else:
        wanted = sorted(set(days))
        outside = ~good["ts"].dt.date().is_in(pl.Series(wanted, dtype=pl.Date).implode())
        bad = pl.concat(
            [
                bad,
                good.filter(outside).with_columns(pl.lit("outside requested days").alias("reason")),
            ]
        )
        good = good.filter(~outside)
    if not wanted:
        return WriteReport(0, bad.height, {}, (), ())
    bad = bad.with_columns(pl.col("ts").dt.date().fill_null(wanted[0]).alias("day"))
    rebuild = (
        f"drydock ingest --exchange {keys['exchange']} --symbol {keys['symbol']} (funding_rates)"
    )
    files: list[Path] = []
    for year in sorted({day.year for day in wanted}):
        in_days = pl.Series([d for d in wanted if d.year == year], dtype=pl.Date).implode()
        part = {**keys, PERIOD: f"{year:04d}"}
        new = good.filter(pl.col("ts").dt.year() == year)
        keep = ~pl.col("ts").dt.date().is_in(in_days)
        path = lake.merge_partition(DATASET, part, new, keep, rebuild, lake_dir)
        if path is not None:
            files.append(path)
        new_bad = bad.filter(pl.col("day").dt.year() == year)
        q_keep = ~pl.col("day").is_in(in_days)
        lake.merge_partition(QUARANTINE, part, new_bad, q_keep, rebuild, lake_dir, "day")
    reasons = {str(r): int(n) for r, n in bad["reason"].value_counts(sort=True).iter_rows()}
    return WriteReport(good.height, bad.height, reasons, tuple(wanted), tuple(files))


def read_funding(
    exchange: str,
    symbol: str,
    start: datetime | None = None,
    end: datetime | None = None,
    lake_dir: Path | None = None,
) -> pl.DataFrame:
    """Funding rows with ``start <= ts < end`` plus ``annualized``; a clear error when none."""
    keys = _keys(exchange, symbol)
    files = lake.partition_files(DATASET, keys, lake_dir)
    lo = start.year if start is not None else 0
    hi = end.year if end is not None else 9999
    files = [f for f in files if lo <= int(lake.partition_values(f)[PERIOD]) <= hi]
    rebuild = f"drydock ingest --exchange {keys['exchange']} --symbol {keys['symbol']}"
    frames = [lake.read_partition_file(f, rebuild) for f in files]
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=FUNDING_SCHEMA)
    if start is not None:
        frame = frame.filter(pl.col("ts") >= start)
    if end is not None:
        frame = frame.filter(pl.col("ts") < end)
    if frame.height == 0:
        raise DataNotFoundError(
            f"No funding rates for {keys['exchange']} {keys['symbol']} in the requested window. "
            f"Ingest them with `{rebuild}` (perpetual series with funding = true in the catalog)."
        )
    return frame.sort("ts").with_columns(
        (pl.col("rate") * 24 * 365 / pl.col("interval_hours")).alias("annualized")
    )


def split_funding(
    ts: pl.Series, funding: pl.DataFrame | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Funding rates per bar: those stamped at the bar's open, and those stamped inside the bar
    (after its open, before the next bar's). The engines charge the first on the position held
    into the open and the second on the position held after the open's fills, so funding follows
    whoever held the position at the stamp (also with ``fill=close``). A stamp after the last
    open counts inside the last bar when it falls within one bar interval of it; stamps before
    the first bar are dropped (nothing was held). Stamps are read at whole seconds: venues record
    a funding a few milliseconds after its stamp (Binance's 08:00:00.003 is the 08:00 funding)."""
    n = len(ts)
    at_open, inside = np.zeros(n, dtype=np.float64), np.zeros(n, dtype=np.float64)
    if funding is None or funding.height == 0 or n == 0:
        return at_open, inside
    bar_ts = ts.to_numpy()
    fund_ts = funding["ts"].dt.truncate("1s").to_numpy()
    rate = funding["rate"].to_numpy().astype(np.float64)
    idx = np.searchsorted(bar_ts, fund_ts, side="left")  # first bar opening at or after it
    on = idx < n
    on[on] = bar_ts[idx[on]] == fund_ts[on]
    np.add.at(at_open, idx[on], rate[on])
    within = ~on & (idx > 0)
    if n > 1:  # after the last open: inside the last bar only within one bar interval
        step = bar_ts[-1] - bar_ts[-2]
        within &= (idx < n) | (fund_ts < bar_ts[-1] + step)
    else:
        within &= idx < n
    np.add.at(inside, idx[within] - 1, rate[within])
    return at_open, inside
