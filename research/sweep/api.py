"""Sweep a strategy over lake bars: the Python entry point behind ``drydock sweep``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from drydock.execution import ExecutionModel
from drydock.series import SeriesKey
from research.sweep.engine import Progress, SweepResult, run_sweep
from research.sweep.objectives import Constraints
from strategies.base import Params, Strategy


def sweep(
    strategy: Strategy,
    key: SeriesKey,
    sets: Sequence[Params],
    execution: ExecutionModel | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    objective: str = "sharpe",
    constraints: Constraints | None = None,
    out: Path | None = None,
    max_memory: int | None = None,
    progress: Progress | None = None,
    fused: bool = True,
    stop_losses: Sequence[float] | None = None,
) -> SweepResult:
    """Read ``key``'s lake bars in ``[start, end)`` and sweep ``sets`` over them; the window must
    hold the longest warm-up among the sets (the same check as a single backtest)."""
    from drydock import ohlcv
    from drydock.markets import instrument_for

    execution = execution or ExecutionModel()
    instrument = instrument_for(key.exchange, key.symbol, execution.overrides())
    frame = ohlcv.read(key, start, end)
    if sets:
        longest = max(sets, key=strategy.warmup)
        strategy.require_history(frame, key, longest, start, end)
    return run_sweep(
        strategy, frame, key, execution, sets, objective=objective, constraints=constraints,
        out=out, max_memory=max_memory, instrument=instrument, progress=progress, fused=fused,
        stop_losses=stop_losses,
    )  # fmt: skip
