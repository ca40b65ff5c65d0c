"""Backtest figures on synthetic 1m bars: one backtest on the default engine (the research engine)
vs a pure-Python loop (120,000 bars), and the numba sweep engine vs raw vectorbt (525,600 bars x
1,000 EMA-cross sets)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from benchmarks.data import minute_bars
from benchmarks.harness import Figure, median_time
from drydock.execution import ExecutionModel
from drydock.markets import instrument_for
from drydock.ohlcv import SeriesKey
from research import reference
from research.backtest import engine_config, simulate_engine
from strategies import get_strategy

BARS = 120_000
FAST, SLOW = 12, 26
# Default fees and slippage; cash large enough that no 1m EMA column bleeds under the venue's min
# notional within 120k bars (skipped orders would make the two sides unlike: see docs/benchmarks.md).
EXECUTION = ExecutionModel(init_cash=1e9)


def _simulate(frame: pl.DataFrame, target: np.ndarray, config: object) -> object:
    """The default engine's simulation (what ``drydock backtest`` runs) to an equity curve;
    refuses a run that skipped orders (not like for like)."""
    run = simulate_engine(frame, target, config, "1m", with_metrics=False)
    if run.rejected_min_notional:
        raise RuntimeError(
            f"{run.rejected_min_notional} orders fell under the min notional; raise EXECUTION cash"
        )
    return run.equity_values


def backtest_vs_python_loop_ratio(bars: int = BARS, repeat: int = 5) -> Figure:
    """Loop time / our time for one EMA-cross backtest on the default engine path of ``drydock
    backtest`` (``strategy.signals`` then the research engine), signals + simulation to equity on
    both sides (metrics left out of both). Higher is better; value and ratio are the same number."""
    frame, execution = minute_bars(bars), EXECUTION
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params({"fast": FAST, "slow": SLOW})
    config = engine_config(execution, instrument_for("binance", "BTC/USDT"))
    opens, closes = frame["open"].to_list(), frame["close"].to_list()

    def ours() -> object:
        return _simulate(frame, strategy.signals(frame, params)["target"].to_numpy(), config)

    def loop() -> object:
        return reference.simulate(
            opens, closes, reference.ema_cross_targets(closes, FAST, SLOW), execution
        )

    ratio = median_time(loop, repeat) / median_time(ours, repeat)
    return Figure("backtest_vs_python_loop_ratio", round(ratio, 2), "x", 1.0, round(ratio, 2), bars)


SWEEP_BARS = 525_600  # one year of 1m bars
BTC_1M = SeriesKey("binance", "BTC/USDT", "1m")  # annualization of the synthetic 1m series
#: 1,000 EMA-cross sets: fast 5..50 step 5 x slow 60..258 step 2 (every pair valid).
SWEEP_GRID = [(f, s) for f in range(5, 55, 5) for s in range(60, 260, 2)]
#: The generic path runs signals() per set (polars), so it is timed on fewer sets.
GENERIC_SETS = 100
#: Parameter sets per raw-vectorbt chunk: ~0.5 GB at 525,600 bars (vectorbt needs ~4.9 GB / 100).
PEER_CHUNK = 10
#: The issue's memory target for the whole sweep, the baseline of sweep_peak_rss_mb.
RSS_TARGET_MB = 1_000


def _sets(grid: list[tuple[int, int]]) -> list[dict[str, float]]:
    return [{"fast": f, "slow": s} for f, s in grid]


def _ours(
    frame: pl.DataFrame, grid: list[tuple[int, int]], fused: bool = True,
    stops: list[float] | None = None,
) -> Any:  # fmt: skip
    """One whole sweep through the engine, results table written and then removed."""
    from research.sweep import run_sweep

    with tempfile.TemporaryDirectory() as folder:
        return run_sweep(
            get_strategy("ema_cross"), frame, BTC_1M, EXECUTION, _sets(grid),
            out=Path(folder) / "sweep.parquet", fused=fused, stop_losses=stops,
        )  # fmt: skip


def _vectorbt_chunk(
    frame: pl.DataFrame, grid: list[tuple[int, int]], stop: float | None = None
) -> object:
    """Raw vectorbt on one chunk: ``MA.run`` once per distinct window, crossover targets,
    ``Portfolio.from_signals`` filling at the next bar's open with the same fees and slippage."""
    import pandas as pd
    import vectorbt as vbt

    index = pd.DatetimeIndex(frame["ts"].to_numpy())
    close = pd.Series(frame["close"].to_numpy(), index=index)
    opens = pd.Series(frame["open"].to_numpy(), index=index)
    windows = sorted({w for pair in grid for w in pair})
    ma = vbt.MA.run(close, window=windows, ewm=True).ma.to_numpy()
    column = {w: i for i, w in enumerate(windows)}
    fast = ma[:, [column[f] for f, _ in grid]]
    slow = ma[:, [column[s] for _, s in grid]]
    warm = np.arange(len(close))[:, None] >= np.array([s - 1 for _, s in grid])[None, :]
    target = (fast > slow) & warm
    held = np.vstack([np.zeros((1, len(grid)), dtype=bool), target[:-1]])  # acts at next open
    previous = np.vstack([np.zeros((1, len(grid)), dtype=bool), held[:-1]])
    stops: dict[str, Any] = {}
    if stop is not None:  # intrabar stop against the bar's range, as ours
        stops = {"sl_stop": stop, "open": opens, "high": pd.Series(frame["high"].to_numpy(), index=index),
                 "low": pd.Series(frame["low"].to_numpy(), index=index)}  # fmt: skip
    portfolio = vbt.Portfolio.from_signals(
        close, pd.DataFrame(held & ~previous, index=index), pd.DataFrame(~held & previous, index=index),
        price=opens, fees=EXECUTION.taker_fee, slippage=EXECUTION.slippage,
        init_cash=EXECUTION.init_cash, freq="1min", **stops,
    )  # fmt: skip
    value = portfolio.value()
    del portfolio
    gc.collect()  # vectorbt objects sit in reference cycles (DESIGN.md)
    return value


def _peer_rate(frame: pl.DataFrame, repeat: int, stop: float | None = None) -> float:
    """Raw vectorbt bar-params per second on one chunk of the sweep grid."""
    from drydock.runtime import prepare_numba

    prepare_numba()
    chunk = SWEEP_GRID[:: len(SWEEP_GRID) // PEER_CHUNK][:PEER_CHUNK]
    return (
        frame.height * len(chunk) / median_time(lambda: _vectorbt_chunk(frame, chunk, stop), repeat)
    )


#: The stop-loss variant: 250 (fast, slow) pairs x 4 stop fractions = 1,000 sets.
SWEEP_STOPS = [0.005, 0.01, 0.02, 0.04]


def sweep_stop_bar_params_per_s(
    bars: int = SWEEP_BARS, pairs: int = len(SWEEP_GRID) // 4, repeat: int = 1
) -> Figure:
    """The fused sweep with the research engine's intrabar stop loss as a fourth of the sets'
    dimensions (``pairs`` x 4 stops), against raw vectorbt ``from_signals`` with ``sl_stop`` and
    the bars' high/low on a 10-set chunk."""
    frame = minute_bars(bars)
    grid = SWEEP_GRID[:: max(1, len(SWEEP_GRID) // pairs)][:pairs]
    sets = len(grid) * len(SWEEP_STOPS)
    ours = bars * sets / median_time(lambda: _ours(frame, grid, stops=SWEEP_STOPS), repeat)
    peer = _peer_rate(frame, repeat, stop=0.01)
    return Figure(
        "sweep_stop_bar_params_per_s", round(ours), "bar-params/s", round(peer),
        round(ours / peer, 2), bars * sets,
    )  # fmt: skip


def sweep_bar_params_per_s(
    bars: int = SWEEP_BARS, sets: int = len(SWEEP_GRID), repeat: int = 1
) -> Figure:
    """Bar-params per second of the fused EMA-cross sweep (end to end: kernel, chunks, Parquet)
    over ``sets`` of the 1,000-set grid, against raw vectorbt on a 10-set chunk."""
    frame = minute_bars(bars)
    grid = SWEEP_GRID[:sets]
    ours = bars * len(grid) / median_time(lambda: _ours(frame, grid), repeat)
    peer = _peer_rate(frame, repeat)
    return Figure(
        "sweep_bar_params_per_s", round(ours), "bar-params/s", round(peer),
        round(ours / peer, 2), bars * len(grid),
    )  # fmt: skip


def sweep_generic_bar_params_per_s(
    bars: int = SWEEP_BARS, sets: int = GENERIC_SETS, repeat: int = 1
) -> Figure:
    """The same figure for the generic path (signals() per set as int8 targets, then the numba
    simulation kernel), on ``sets`` sets of the grid."""
    frame = minute_bars(bars)
    grid = SWEEP_GRID[:: max(1, len(SWEEP_GRID) // sets)][:sets]
    ours = bars * len(grid) / median_time(lambda: _ours(frame, grid, fused=False), repeat)
    peer = _peer_rate(frame, repeat)
    return Figure(
        "sweep_generic_bar_params_per_s", round(ours), "bar-params/s", round(peer),
        round(ours / peer, 2), bars * len(grid),
    )  # fmt: skip


_CHILD = """
import json, sys
from drydock.runtime import prepare_numba
prepare_numba()
from benchmarks.backtest import SWEEP_GRID, _ours, minute_bars
bars, sets = int(sys.argv[1]), int(sys.argv[2])
result = _ours(minute_bars(bars), SWEEP_GRID[:sets])
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"peak_kb": peak_kb, "sets": result.sets, "bars": result.bars}))
"""


def sweep_peak_rss_mb(bars: int = SWEEP_BARS, sets: int = len(SWEEP_GRID)) -> Figure:
    """Peak resident memory of a whole fused sweep: ``VmHWM`` of a fresh process that builds the
    bars, runs the sweep and writes its table (interpreter, imports and data included). Not
    ``ru_maxrss``: Linux carries it across exec, so a child would report its parent's peak.
    Baseline is the 1,000 MB target, ratio = target / peak (> 1 is within it)."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(bars), str(sets)],
        capture_output=True, text=True, check=False, timeout=1_800,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"sweep subprocess failed: {done.stderr.strip()[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    peak_mb = report["peak_kb"] / 1024
    return Figure(
        "sweep_peak_rss_mb", round(peak_mb, 1), "MB", RSS_TARGET_MB,
        round(RSS_TARGET_MB / peak_mb, 2), report["bars"] * report["sets"],
    )  # fmt: skip
