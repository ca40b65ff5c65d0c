"""Research-engine figures: one backtest with stops, ladder and fees over 120,000 synthetic 1m
bars, numba kernel vs the pure-Python reference of the same model; and the conformance suite's
scenario count."""

from __future__ import annotations

import numpy as np

from benchmarks.data import minute_bars
from benchmarks.harness import Figure, median_time
from drydock.execution import ExecutionModel
from drydock.fills import reference as ref
from drydock.indicators import ema
from research.engine import EngineConfig, run_backtest

BARS = 120_000
CONFIG = EngineConfig(
    execution=ExecutionModel(init_cash=1e6),
    lot_size=1e-5,
    min_notional=5.0,
    allow_short=True,
    stop_loss=0.01,
    trailing_stop=0.015,
    trailing_activation=0.005,
    take_profit=0.03,
    scale_out=((0.01, 0.5),),
)


def engine_vs_python_loop_ratio(bars: int = BARS, repeat: int = 5) -> Figure:
    """Reference-loop time / kernel time for one EMA-cross long/short backtest with every exit
    rule on. Both sides get the same targets; higher is better."""
    frame = minute_bars(bars)
    lines = frame.select(ema("close", 12).alias("f"), ema("close", 26).alias("s"))
    target = np.where(lines["f"].to_numpy() > lines["s"].to_numpy(), 1.0, -1.0)
    target[:26] = 0.0
    rows = list(
        zip(*(frame[c].to_list() for c in ("open", "high", "low", "close", "volume")), strict=True)
    )
    targets = target.tolist()

    def ours() -> object:
        return run_backtest(frame, target, CONFIG, with_metrics=False)  # records, like the loop

    def loop() -> object:
        return ref.simulate(rows, targets, CONFIG)

    ratio = median_time(loop, repeat) / median_time(ours, repeat)
    return Figure("engine_vs_python_loop_ratio", round(ratio, 1), "x", 1.0, round(ratio, 1), bars)


def conformance_cases() -> Figure:
    """How many hand-computed conformance scenarios the suites hold (all must pass in CI)."""
    from pathlib import Path

    suites = Path(__file__).parents[1] / "tests" / "research"
    count = sum(
        (suites / name).read_text(encoding="utf-8").count("\ndef test_")
        for name in ("test_engine_conformance.py", "test_portfolio_conformance.py")
    )
    return Figure("conformance_cases", count, "scenarios", 0, 1.0, count)
