"""Vectorized backtests of library strategies with vectorbt, under research.semantics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import polars as pl

from drydock import metrics, ohlcv
from drydock.ohlcv import SeriesKey
from drydock.timeframes import periods_per_year
from research.semantics import ExecutionConfig
from strategies.base import Params, Strategy


@dataclass
class BacktestResult:
    """What a backtest produced: the inputs that define it and its outputs."""

    strategy_id: str
    params: Params
    key: SeriesKey
    execution: ExecutionConfig
    ts: np.ndarray
    equity: np.ndarray
    position: np.ndarray
    trade_pnl: np.ndarray
    metrics: dict[str, float]
    data_fingerprint: str
    bars: int
    start: datetime
    end: datetime
    orders: int = 0

    def equity_frame(self) -> pl.DataFrame:
        """Equity, drawdown and position per bar."""
        return pl.DataFrame(
            {
                "ts": self.ts,
                "equity": self.equity,
                "drawdown": metrics.drawdown_series(self.equity),
                "position": self.position,
            }
        ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def order_sizes(target: np.ndarray, fill: str) -> np.ndarray:
    """Order per bar (NaN = no order) under the fill timing of research.semantics.

    Targets are all-in (1) or flat (0), so an entry buys as much as cash allows after fees
    (``+inf`` amount) and an exit sells the whole position (``-inf``). This matches the reference
    loop and paper venue exactly, where vectorbt's target-percent sizing would leave lot-size dust.
    """
    if not np.isin(target, (0.0, 1.0)).all():
        raise ValueError("only long-only all-in/flat targets (0 or 1) are supported for now")

    def lag(values: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros_like(values[:1]), values[:-1]])

    held = lag(target) if fill == "next_open" else target
    previous = lag(held)
    return np.where(held == previous, np.nan, np.where(held > previous, np.inf, -np.inf))


def run_vectorbt(
    frame: pl.DataFrame, target: np.ndarray, execution: ExecutionConfig, timeframe: str
):  # type: ignore[no-untyped-def]
    """Simulate target exposures (one column per 2-D column: a sweep) with vectorbt."""
    import vectorbt as vbt

    index = pd.DatetimeIndex(frame["ts"].to_numpy(), name="ts")
    close = pd.Series(frame["close"].to_numpy(), index=index)
    price = (
        pd.Series(frame["open"].to_numpy(), index=index) if execution.fill == "next_open" else close
    )
    sizes = order_sizes(target, execution.fill)
    # Round entries down to whole lots; exits sell everything held (rounding the float position
    # again could leave one lot of dust behind).
    granularity = np.where(sizes > 0, execution.lot_size, np.nan)
    return vbt.Portfolio.from_orders(
        close=close,
        size=pd.DataFrame(sizes, index=index) if sizes.ndim == 2 else pd.Series(sizes, index=index),
        size_type="amount",
        direction="longonly",
        price=price,
        val_price=price,
        fees=execution.fee,
        slippage=execution.slippage,
        size_granularity=granularity,
        init_cash=execution.init_cash,
        freq=pd.Timedelta(timeframe.replace("m", "min")),
    )


def backtest_frame(
    strategy: Strategy,
    params: Params,
    frame: pl.DataFrame,
    key: SeriesKey,
    execution: ExecutionConfig,
) -> BacktestResult:
    """Backtest ``strategy`` on an in-memory bar frame."""
    target = strategy.signals(frame, params)["target"].to_numpy()
    pf = run_vectorbt(frame, target, execution, key.timeframe)
    equity = pf.value().to_numpy()
    position = pf.assets().to_numpy()
    trade_pnl = pf.trades.closed.pnl.values
    return BacktestResult(
        strategy_id=strategy.id,
        params=params,
        key=key,
        execution=execution,
        ts=frame["ts"].to_numpy(),
        equity=equity,
        position=position,
        trade_pnl=np.asarray(trade_pnl, dtype=np.float64),
        metrics=metrics.summarize(equity, trade_pnl, periods_per_year(key.timeframe))
        | {"exposure": metrics.exposure(position)},
        data_fingerprint=ohlcv.fingerprint(frame),
        bars=frame.height,
        start=frame["ts"][0],
        end=frame["ts"][-1],
        orders=int(pf.orders.count()),
    )


def backtest(
    strategy: Strategy,
    params: Params,
    key: SeriesKey,
    execution: ExecutionConfig | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` on lake bars of ``key`` in ``[start, end)``."""
    frame = ohlcv.read(key, start, end)
    return backtest_frame(strategy, params, frame, key, execution or ExecutionConfig())
