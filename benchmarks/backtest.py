"""Backtest figures on 120,000 synthetic 1m bars: our vectorbt path vs a pure-Python loop."""

from __future__ import annotations

import numpy as np
import polars as pl

from benchmarks.data import minute_bars
from benchmarks.harness import Figure, median_time
from drydock.execution import ExecutionModel
from research import reference
from research.backtest import simulate_vectorbt
from strategies import get_strategy

BARS = 120_000
FAST, SLOW = 12, 26
GRID = [(f, s) for f in range(4, 24, 2) for s in range(30, 130, 10)]  # 100 parameter sets
LOOP_COLUMNS = 5  # the loop's rate is per bar-param, so a few columns measure it fairly
# Default fees and slippage; cash large enough that no 1m EMA column bleeds under the venue's min
# notional within 120k bars (that case re-simulates once per skipped order: see docs/benchmarks.md).
EXECUTION = ExecutionModel(init_cash=1e9)


def _simulate(frame: pl.DataFrame, target: np.ndarray) -> object:
    """Our simulation to an equity curve; refuses a run that skipped orders (not like for like)."""
    portfolio, skipped = simulate_vectorbt(frame, target, EXECUTION, "1m")
    if skipped:
        raise RuntimeError(f"{skipped} orders fell under the min notional; raise EXECUTION cash")
    return portfolio.value()


def backtest_vs_python_loop_ratio(bars: int = BARS, repeat: int = 5) -> Figure:
    """Loop time / our time for one EMA-cross backtest, signals + simulation to equity on both
    sides (metrics left out of both). Higher is better; value and ratio are the same number."""
    frame, execution = minute_bars(bars), EXECUTION
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params({"fast": FAST, "slow": SLOW})
    opens, closes = frame["open"].to_list(), frame["close"].to_list()

    def ours() -> object:
        return _simulate(frame, strategy.signals(frame, params)["target"].to_numpy())

    def loop() -> object:
        return reference.simulate(
            opens, closes, reference.ema_cross_targets(closes, FAST, SLOW), execution
        )

    ratio = median_time(loop, repeat) / median_time(ours, repeat)
    return Figure("backtest_vs_python_loop_ratio", round(ratio, 2), "x", 1.0, round(ratio, 2), bars)


def sweep_bar_params_per_s(bars: int = BARS, repeat: int = 3) -> Figure:
    """Bar-params per second simulating a 100-set fast/slow grid in one vectorbt call, against
    the pure-Python loop's bar-params per second (measured on a few of the same columns)."""
    frame, execution = minute_bars(bars), EXECUTION
    strategy = get_strategy("ema_cross")
    targets = np.column_stack(
        [strategy.signals(frame, {"fast": f, "slow": s})["target"].to_numpy() for f, s in GRID]
    )
    opens, closes = frame["open"].to_list(), frame["close"].to_list()
    columns = [targets[:, i].tolist() for i in range(LOOP_COLUMNS)]

    def ours() -> object:
        return _simulate(frame, targets)

    def loop() -> object:
        return [reference.simulate(opens, closes, column, execution) for column in columns]

    ours_rate = bars * len(GRID) / median_time(ours, repeat)
    loop_rate = bars * LOOP_COLUMNS / median_time(loop, repeat)
    return Figure(
        "sweep_bar_params_per_s",
        round(ours_rate),
        "bar-params/s",
        round(loop_rate),
        round(ours_rate / loop_rate, 2),
        bars * len(GRID),
    )
