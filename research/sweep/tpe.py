"""Optuna TPE search over a strategy's parameter grid, scored by the sweep kernels in batches.

Each parameter is searched as an index into its grid values (``space.axes``), so TPE sees an
ordered axis and every proposal is a point the grid sweep could also run. Trials are asked in
batches (default 64) and each batch is one :func:`run_sweep` call, so the numba kernel's per-call
cost is shared; a proposal already scored reuses its score. Infeasible sets (the constraints) and
combinations the strategy rejects are told to TPE as constraint violations (``set_constraint``),
so it learns to avoid them; a NaN score (no trades) is a failed trial. Seeded: the same seed,
batch size and data propose the same sets in the same order.

The search returns the distinct sets in proposal order; the caller sweeps them once more to write
the usual results table (cheap next to the search, and one code path for the table).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel
from drydock.series import SeriesKey
from drydock.types import Instrument
from research.sweep.engine import Progress, run_sweep
from research.sweep.objectives import Constraints
from research.sweep.space import _typed, _valid
from strategies.base import Params, Strategy

#: Trials asked per kernel call (TPE's proposals within a batch do not see each other's scores).
BATCH = 64


@dataclass(frozen=True)
class TpeSearch:
    """What a TPE search proposed: distinct sets in order and the best score it saw."""

    sets: list[Params]
    trials: int
    best_score: float
    best_params: Params | None


def tpe_search(
    strategy: Strategy,
    frame: pl.DataFrame,
    key: SeriesKey,
    execution: ExecutionModel,
    values: Mapping[str, Sequence[float]],
    trials: int,
    *,
    seed: int = 0,
    objective: str = "sharpe",
    constraints: Constraints | None = None,
    instrument: Instrument | None = None,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> TpeSearch:
    """Run ``trials`` TPE trials (maximizing ``objective``) over the grid ``values``."""
    import optuna

    if trials < 1:
        raise ConfigError(f"--tpe {trials} must be at least 1, e.g. --tpe 300.")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = list(values)
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    scores: dict[tuple[float, ...], tuple[float, bool]] = {}
    order: list[Params] = []
    with tempfile.TemporaryDirectory(prefix="drydock-tpe-") as tmp:
        done = 0
        while done < trials:
            asked = [study.ask() for _ in range(min(batch, trials - done))]
            proposals = [_propose(trial, names, values) for trial in asked]
            fresh: dict[tuple[float, ...], Params] = {}
            for row in proposals:
                params = _typed(strategy, names, row)
                if row not in scores and row not in fresh and _valid(strategy, params):
                    fresh[row] = params
            if fresh:
                _score(
                    strategy, frame, key, execution, fresh, scores, Path(tmp) / f"{done}.parquet",
                    objective, constraints, instrument,
                )  # fmt: skip
                order.extend(fresh.values())
            for trial, row in zip(asked, proposals, strict=True):
                _tell(study, trial, scores.get(row))
            done += len(asked)
            if progress is not None:
                progress(done, trials)
    best = [(score, row) for row, (score, ok) in scores.items() if ok and not math.isnan(score)]
    if not best:
        return TpeSearch(order, trials, math.nan, None)
    score, row = max(best, key=lambda item: item[0])
    return TpeSearch(order, trials, score, _typed(strategy, names, row))


def _propose(
    trial: Any, names: list[str], values: Mapping[str, Sequence[float]]
) -> tuple[float, ...]:
    """One grid point: an index per parameter, suggested as an integer (ordered for TPE)."""
    return tuple(float(values[n][trial.suggest_int(n, 0, len(values[n]) - 1)]) for n in names)


def _score(
    strategy: Strategy,
    frame: pl.DataFrame,
    key: SeriesKey,
    execution: ExecutionModel,
    fresh: dict[tuple[float, ...], Params],
    scores: dict[tuple[float, ...], tuple[float, bool]],
    path: Path,
    objective: str,
    constraints: Constraints | None,
    instrument: Instrument | None,
) -> None:
    """Sweep the fresh sets in one kernel call and record (objective, feasible) per grid point."""
    result = run_sweep(
        strategy, frame, key, execution, list(fresh.values()), objective=objective,
        constraints=constraints, out=path, instrument=instrument,
    )  # fmt: skip
    table = result.table().sort("set")
    rows = list(fresh)
    for index, score, feasible in table.select("set", "objective", "feasible").iter_rows():
        scores[rows[index]] = (float(score), bool(feasible))


def _tell(study: Any, trial: Any, scored: tuple[float, bool] | None) -> None:
    """Report a trial: a rejected combination or an infeasible set violates the constraint; a
    NaN score fails the trial."""
    import optuna

    if scored is None:  # the strategy rejects the combination (e.g. fast >= slow)
        trial.set_constraint("valid", 1.0)
        study.tell(trial, -1e9)
        return
    score, feasible = scored
    trial.set_constraint("feasible", 0.0 if feasible else 1.0)
    if math.isnan(score):
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return
    study.tell(trial, score)
