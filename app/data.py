"""What the app's pages read, as plain frames plus an actionable message when a store is empty."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from drydock import warehouse
from drydock.errors import DrydockError
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


@dataclass(frozen=True)
class Loaded:
    """A frame, or the reason there is none and what to run to get one."""

    frame: pl.DataFrame
    error: str = ""


def data_coverage() -> Loaded:
    """Per-series coverage from the warehouse (read-only)."""
    try:
        frame = warehouse.coverage()
    except DrydockError as exc:
        return Loaded(pl.DataFrame(), str(exc))
    if frame.is_empty():
        return Loaded(
            frame, "The lake is empty. Run `drydock ingest` or `make demo` to load the sample data."
        )
    return Loaded(frame)


def backtest_runs(limit: int = 20) -> Loaded:
    """The latest MLflow backtest runs with their headline metrics."""
    frame = tracking.latest_runs(limit)
    if frame.is_empty():
        return Loaded(
            frame, "No backtests logged yet. Run `drydock backtest ema_cross` or `make demo`."
        )
    return Loaded(frame.select([c for c in RUN_COLUMNS if c in frame.columns]))


def run_equity(run_id: str) -> pl.DataFrame:
    """Equity curve artifact of one run."""
    return tracking.load_equity(run_id)
