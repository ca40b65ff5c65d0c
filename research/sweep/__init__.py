"""Memory-bounded parameter sweeps: numba kernels reduce each parameter set to its metrics in the
loop, results stream to a Parquet table queryable in DuckDB (see docs/sweeps.md)."""

from __future__ import annotations

from research.sweep.api import sweep
from research.sweep.engine import SweepResult, run_sweep
from research.sweep.objectives import OBJECTIVES, Constraints
from research.sweep.space import axes, grid_sets, parse_grid_options, random_sets

__all__ = [
    "OBJECTIVES",
    "Constraints",
    "SweepResult",
    "axes",
    "grid_sets",
    "parse_grid_options",
    "random_sets",
    "run_sweep",
    "sweep",
]
