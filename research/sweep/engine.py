"""Run a sweep: parameter sets in memory-sized chunks through a numba kernel (the strategy's fused
kernel, or its vectorized signals as int8 targets), metrics streamed to one Parquet table."""

from __future__ import annotations

import importlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel, FillTiming, check_targets
from drydock.logs import get_logger
from drydock.markets import instrument_for
from drydock.timeframes import periods_per_year
from research.sweep import memory
from research.sweep.kernel import (
    METRICS,
    N_METRICS,
    costs_vector,
    simulate_targets,
    simulate_targets_stop,
)
from research.sweep.objectives import Constraints, check_objective, derive
from research.sweep.writer import ResultsWriter
from strategies.base import FusedKernel, Params, Strategy

if TYPE_CHECKING:
    from datetime import datetime

    import polars as pl

    from drydock.series import SeriesKey
    from drydock.types import Instrument

log = get_logger(__name__)

Progress = Callable[[int, int], None]
#: Bytes a generic-path set needs beyond its int8 targets while signals() runs (polars temporaries).
SIGNALS_BYTES_PER_BAR = 64
#: Fused chunks stay small enough for about this many progress updates per sweep...
PROGRESS_STEPS = 50
#: ...yet hold at least this many bar-params (~0.1 s), so short series pay little per chunk.
MIN_CHUNK_BAR_PARAMS = 20_000_000


@dataclass
class SweepResult:
    """Where the results table is and how the sweep ran."""

    path: Path
    strategy_id: str
    objective: str
    sets: int
    bars: int
    seconds: float
    engine: str  # "fused" or "generic"
    chunk_size: int
    chunks: int
    run_id: str
    param_names: tuple[str, ...] = field(default_factory=tuple)

    @property
    def bar_params_per_s(self) -> float:
        """Simulated bars x parameter sets per second of wall time."""
        return self.bars * self.sets / self.seconds if self.seconds > 0 else float("nan")

    def table(self) -> pl.DataFrame:
        """The whole results table."""
        import polars as pl

        return pl.read_parquet(self.path)

    def top(self, n: int = 10) -> pl.DataFrame:
        """The ``n`` best feasible rows by the objective (NaN scores never rank)."""
        import polars as pl

        return (
            pl.scan_parquet(self.path)
            .filter(pl.col("feasible") & pl.col("objective").is_not_nan())
            .sort(["objective", "set"], descending=[True, False])
            .head(n)
            .collect()
        )


def load_kernel(spec: FusedKernel, stop: bool = False) -> Callable[..., None]:
    """The numba function a :class:`FusedKernel` names (``module:function``; its stop-loss
    variant with ``stop``)."""
    entry = spec.stop_entry if stop and spec.stop_entry else spec.entry
    module, _, name = entry.partition(":")
    try:
        kernel: Callable[..., None] = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"Fused kernel {entry!r} cannot be loaded ({exc}); fix the strategy's "
            "fused_kernel() entry, written module:function."
        ) from None
    return kernel


def _param_matrix(sets: Sequence[Params], names: Sequence[str]) -> npt.NDArray[np.float64]:
    return np.array([[p[n] for n in names] for p in sets], dtype=np.float64).reshape(
        len(sets), len(names)
    )


def _generic_targets(
    strategy: Strategy, frame: pl.DataFrame, sets: Sequence[Params]
) -> npt.NDArray[np.int8]:
    """Targets of each set from ``signals()`` as int8 rows, checked like a single backtest."""
    out = np.empty((len(sets), frame.height), dtype=np.int8)
    ts = cast("Sequence[datetime]", frame["ts"])  # indexed only to name a bad target's bar
    for k, params in enumerate(sets):
        target = strategy.signals(frame, params)["target"].to_numpy()
        check_targets(strategy.id, ts, target)
        out[k] = target
    return out


def _check_stops(stops: Sequence[float] | None) -> tuple[float, ...]:
    """Validated stop-loss fractions (each in (0, 1), finite, distinct)."""
    out = tuple(float(s) for s in stops or ())
    for s in out:
        if not (0 < s < 1):  # NaN fails too
            raise ConfigError(
                f"Stop loss {s!r} must be a fraction in (0, 1) of the entry price, e.g. 0.02."
            )
    if len(set(out)) != len(out):
        raise ConfigError(f"Stop losses {list(out)} repeat a value; give each once.")
    return out


def _strip(params: Params) -> Params:
    """A set without the engine's ``stop_loss`` (what the strategy's signals() accepts)."""
    return {k: v for k, v in params.items() if k != "stop_loss"}


def default_path(strategy_id: str, run_id: str) -> Path:
    """``$DRYDOCK_HOME/sweeps/<strategy>-<run id>.parquet``."""
    from drydock.settings import get_settings

    return get_settings().home / "sweeps" / f"{strategy_id}-{run_id}.parquet"


def run_sweep(
    strategy: Strategy,
    frame: pl.DataFrame,
    key: SeriesKey,
    execution: ExecutionModel,
    sets: Sequence[Params],
    *,
    objective: str = "sharpe",
    constraints: Constraints | None = None,
    out: Path | None = None,
    max_memory: int | None = None,
    instrument: Instrument | None = None,
    progress: Progress | None = None,
    fused: bool = True,
    stop_losses: Sequence[float] | None = None,
) -> SweepResult:
    """Simulate every parameter set of ``sets`` on ``frame`` and stream one row per set (params,
    metrics, ``objective``, ``feasible``) to Parquet; ``fused=False`` forces the generic path.

    ``stop_losses`` adds the research engine's stop loss as one more swept dimension (every set
    once per stop fraction, a ``stop_loss`` column in the table): the same rule and figures as
    ``run_backtest(..., EngineConfig(stop_loss=s))``.
    """
    from drydock import ohlcv

    check_objective(objective)
    stops = _check_stops(stop_losses)
    if not sets:
        raise ConfigError(
            f"The sweep of {strategy.id!r} has no valid parameter set; widen the --grid ranges "
            "(combinations the strategy rejects, e.g. fast >= slow, are dropped)."
        )
    constraints = constraints or Constraints()
    instrument = instrument or instrument_for(key.exchange, key.symbol, execution.overrides())
    costs = costs_vector(
        execution.init_cash,
        execution.taker_fee,
        execution.fixed_fee,
        execution.slippage,
        float(instrument.lot_size),
        float(instrument.min_notional),
        execution.fill == FillTiming.NEXT_OPEN,
        periods_per_year(key.timeframe),
    )
    open_ = np.ascontiguousarray(frame["open"].to_numpy(), dtype=np.float64)
    close = np.ascontiguousarray(frame["close"].to_numpy(), dtype=np.float64)
    low = np.ascontiguousarray(frame["low"].to_numpy(), dtype=np.float64)
    if stops:
        sets = [p | {"stop_loss": s} for p in sets for s in stops]
    bars, total = frame.height, len(sets)
    spec = strategy.fused_kernel() if fused else None
    if stops and spec is not None and spec.stop_entry is None:
        spec = None  # no fused stop variant: the generic path applies the stop
    budget = memory.budget(max_memory)
    if spec is not None:
        kernel = load_kernel(spec, stop=bool(stops))
        per_set = bars + 8 * N_METRICS
        ceiling = max(8, -(-total // PROGRESS_STEPS), MIN_CHUNK_BAR_PARAMS // max(bars, 1))
        size = memory.chunk_size(per_set, budget, total, ceiling=ceiling)
    else:
        per_set = bars  # one int8 row per set; signals() temporaries are counted once below
        size = memory.chunk_size(per_set, budget - SIGNALS_BYTES_PER_BAR * bars, total)
    names = tuple(p.name for p in strategy.params) + (("stop_loss",) if stops else ())
    integer = {p.name: p.integer for p in strategy.params} | {"stop_loss": False}
    run_id = uuid.uuid4().hex[:12]
    path = out or default_path(strategy.id, run_id)
    meta = {
        "drydock.sweep": json.dumps(
            {
                "run_id": run_id,
                "strategy": strategy.id,
                "series": str(key),
                "start": str(frame["ts"][0]),
                "end": str(frame["ts"][-1]),
                "bars": bars,
                "objective": objective,
                "engine": "fused" if spec else "generic",
                "stop_losses": list(stops),
                "data_fingerprint": ohlcv.fingerprint(frame),
                "execution": execution.as_params(),
                "lot_size": float(instrument.lot_size),
                "min_notional": float(instrument.min_notional),
            }
        )
    }
    started = time.perf_counter()
    chunks = 0
    with ResultsWriter(path, meta) as writer:
        for first in range(0, total, size):
            chunk = sets[first : first + size]
            result = np.empty((len(chunk), N_METRICS), dtype=np.float64)
            if spec is not None and stops:
                matrix = _param_matrix(chunk, (*spec.params, "stop_loss"))
                kernel(open_, low, close, matrix, costs, result)
            elif spec is not None:
                kernel(open_, close, _param_matrix(chunk, spec.params), costs, result)
            elif stops:
                stop_column = np.array([p["stop_loss"] for p in chunk], dtype=np.float64)
                targets = _generic_targets(strategy, frame, [_strip(p) for p in chunk])
                simulate_targets_stop(open_, low, close, targets, stop_column, costs, result)
            else:
                simulate_targets(
                    open_, close, _generic_targets(strategy, frame, chunk), costs, result
                )
            writer.append(_rows(first, chunk, names, integer, result, objective, constraints))
            chunks += 1
            if progress is not None:
                progress(first + len(chunk), total)
        writer.commit()
    seconds = time.perf_counter() - started
    summary = SweepResult(
        path, strategy.id, objective, total, bars, seconds, "fused" if spec else "generic",
        size, chunks, run_id, names,
    )  # fmt: skip
    log.info(
        "sweep.finished", run_id=run_id, strategy=strategy.id, series=str(key), sets=total,
        bars=bars, engine=summary.engine, chunk_size=size, chunks=chunks,
        seconds=round(seconds, 3), path=str(path),
    )  # fmt: skip
    return summary


def _rows(
    first: int,
    chunk: Sequence[Params],
    names: Sequence[str],
    integer: dict[str, bool],
    result: npt.NDArray[np.float64],
    objective: str,
    constraints: Constraints,
) -> dict[str, npt.NDArray[Any]]:
    """One chunk's columns: set index, params, metrics, derived ratios, objective, feasible."""
    columns = derive({name: result[:, i] for i, name in enumerate(METRICS)})
    for name in ("trade_count", "orders", "skipped_min_notional"):
        columns[name] = columns[name].astype(np.int64)
    params: dict[str, npt.NDArray[Any]] = {
        n: np.array([p[n] for p in chunk], dtype=np.int64 if integer[n] else np.float64)
        for n in names
    }
    return (
        {"set": np.arange(first, first + len(chunk), dtype=np.int64)}
        | params
        | dict(columns)
        | {"objective": columns[objective], "feasible": constraints.feasible(columns)}
    )
