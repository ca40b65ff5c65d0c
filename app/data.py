"""What the app's pages read, as plain frames plus an actionable message when a store is empty."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from drydock import lake, ohlcv, warehouse
from drydock.errors import DataNotFoundError, DrydockError
from drydock.metrics import format_metric
from drydock.quality import check_bars
from research import tracking

RUN_COLUMNS = [
    "run_id",
    "run_name",
    "start_time",
    "symbol",
    "timeframe",
    "total_return",
    "sharpe",
    "max_drawdown",
    "trade_count",
]
RUN_METRICS = ("total_return", "sharpe", "max_drawdown", "trade_count")
SERIES_COLUMNS = ["exchange", "symbol", "timeframe"]
INGEST_HINT = "Run `drydock ingest` or `make demo` to load the sample data."


@dataclass(frozen=True)
class Loaded:
    """A frame, or the reason there is none and what to run to get one."""

    frame: pl.DataFrame
    error: str = ""
    #: True when a store is broken (shown with st.error), not merely empty (st.warning/info).
    broken: bool = False


def data_coverage() -> Loaded:
    """Per-series coverage from the warehouse (read-only)."""
    try:
        frame = warehouse.coverage()
    except DataNotFoundError as exc:  # no warehouse yet: what to run
        return Loaded(pl.DataFrame(), str(exc))
    except DrydockError as exc:  # an unreadable lake file (named, with its rebuild command), ...
        return Loaded(pl.DataFrame(), str(exc), broken=True)
    if frame.is_empty():
        return Loaded(frame, f"The lake is empty. {INGEST_HINT}")
    return Loaded(frame)


def format_metrics(frame: pl.DataFrame, names: tuple[str, ...] = RUN_METRICS) -> pl.DataFrame:
    """Metric columns as the CLI prints them (percentages, counts, three decimals, 'n/a')."""
    return frame.with_columns(
        pl.Series(name, [_shown(name, v) for v in frame[name].to_list()], dtype=pl.String)
        for name in names
        if name in frame.columns
    )


def _shown(name: str, value: float | None) -> str:
    return format_metric(name, float("nan") if value is None else float(value))


def backtest_runs(limit: int = 20) -> Loaded:
    """The latest MLflow backtest runs with their headline metrics, formatted for display."""
    frame = tracking.latest_runs(limit)
    if frame.is_empty():
        return Loaded(
            frame, "No backtests logged yet. Run `drydock backtest ema_cross` or `make demo`."
        )
    return Loaded(format_metrics(frame.select([c for c in RUN_COLUMNS if c in frame.columns])))


def run_equity(run_id: str) -> pl.DataFrame:
    """Equity curve artifact of one run."""
    return tracking.load_equity(run_id)


def series_quality() -> Loaded:
    """Per-series bar quality of the lake: bars, span, missing grid bars, duplicates, invalid.
    A series whose files cannot be read is left out and named in ``error`` (``broken``), with the
    rebuild command the lake's error gives; the readable series are still shown."""
    rows = []
    problems: list[str] = []
    quarantined = quarantine_rows()
    for key in ohlcv.available_series():
        try:
            frame = ohlcv.read(key)
        except DrydockError as exc:
            problems.append(str(exc))
            continue
        quality = check_bars(frame, key.timeframe)
        mine = quarantined.filter(
            (pl.col("exchange") == key.exchange)
            & (pl.col("symbol") == key.symbol)
            & (pl.col("timeframe") == key.timeframe)
        )
        rows.append(
            {
                "exchange": key.exchange,
                "symbol": key.symbol,
                "timeframe": key.timeframe,
                "first": frame["ts"].min(),
                "last": frame["ts"].max(),
                "bars": quality.bars,
                "missing": quality.missing,
                "duplicates": quality.duplicates,
                "invalid": quality.invalid,
                "quarantined": mine.height,
            }
        )
    if problems:
        return Loaded(pl.DataFrame(rows), " ".join(problems), broken=True)
    if not rows:
        return Loaded(pl.DataFrame(), f"The lake holds no OHLCV bars. {INGEST_HINT}")
    return Loaded(pl.DataFrame(rows))


def quarantine_rows() -> pl.DataFrame:
    """Every row the lake refused, with its series, day and ``reason`` (empty when none)."""
    parts = []
    for path in lake.partition_files(ohlcv.QUARANTINE, {}):
        keys = lake.partition_values(path)
        frame = pl.read_parquet(path, hive_partitioning=False)
        parts.append(
            frame.with_columns(
                *(pl.lit(keys.get(name, "")).alias(name) for name in SERIES_COLUMNS),
                pl.col("day").cast(pl.String).alias("date")
                if "day" in frame.columns  # files of the earlier day layout carry it in the path
                else pl.lit(keys.get("date", "")).alias("date"),
            ).drop("day", strict=False)
        )
    if not parts:
        return pl.DataFrame(
            schema={**dict.fromkeys(SERIES_COLUMNS, pl.String), "reason": pl.String}
        )
    merged = pl.concat(parts, how="diagonal_relaxed")
    first = [*SERIES_COLUMNS, "date", "reason"]
    return merged.select(first + [c for c in merged.columns if c not in first])


def quarantine_reasons(rows: pl.DataFrame) -> pl.DataFrame:
    """Quarantined row counts per series and reason, most frequent first."""
    if rows.is_empty():
        return rows
    return (
        rows.group_by([*SERIES_COLUMNS, "reason"])
        .agg(pl.len().alias("rows"))
        .sort(["rows", *SERIES_COLUMNS, "reason"], descending=[True, False, False, False, False])
    )
