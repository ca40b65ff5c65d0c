"""Backtest benchmarks: the demo's vectorbt backtest vs a pure-Python loop of the same strategy."""

from __future__ import annotations

import numpy as np
import polars as pl

from benchmarks.harness import Figure, compare
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample
from research import reference
from research.backtest import run_vectorbt
from research.semantics import ExecutionConfig
from strategies import get_strategy

BTC = SeriesKey("binance", "BTC/USDT", "1h")


def _setup() -> tuple[pl.DataFrame, ExecutionConfig]:
    return read_sample(BTC), ExecutionConfig()


def single_backtest() -> Figure:
    """One EMA-cross backtest over the 8,784-bar BTC sample: signals + simulation to an equity
    curve on both sides (metrics and fingerprints are left out of both)."""
    frame, execution = _setup()
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params()
    opens, closes = frame["open"].to_list(), frame["close"].to_list()

    def ours() -> object:
        target = strategy.signals(frame, params)["target"].to_numpy()
        return run_vectorbt(frame, target, execution, "1h").value()

    def loop() -> object:
        targets = reference.ema_cross_targets(closes, 12, 26)
        return reference.simulate(opens, closes, targets, execution)

    return compare("backtest_ema_cross_vs_python_loop", ours, loop, n=frame.height)


def parameter_sweep() -> Figure:
    """A 10x10 fast/slow grid: one vectorbt call over 100 columns vs 100 Python loops."""
    frame, execution = _setup()
    strategy = get_strategy("ema_cross")
    grid = [(f, s) for f in range(4, 24, 2) for s in range(30, 130, 10)]
    targets = np.column_stack(
        [strategy.signals(frame, {"fast": f, "slow": s})["target"].to_numpy() for f, s in grid]
    )
    opens, closes = frame["open"].to_list(), frame["close"].to_list()

    def ours() -> object:
        return run_vectorbt(frame, targets, execution, "1h").value()

    def loop() -> object:
        return [
            reference.simulate(opens, closes, targets[:, i].tolist(), execution)
            for i in range(len(grid))
        ]

    return compare(
        "sweep_100_params_vs_python_loop", ours, loop, n=len(grid) * frame.height, repeat=3
    )


BENCHMARKS = {"backtest": single_backtest, "sweep": parameter_sweep}
