"""Memory-bounded parameter sweeps: numba kernels reduce each parameter set to its metrics in the
loop, results stream to a Parquet table queryable in DuckDB (see docs/sweeps.md).

Names load on first use, so importing the CLI module stays light (numba loads with a kernel).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "sweep": "research.sweep.api",
    "SweepResult": "research.sweep.engine",
    "run_sweep": "research.sweep.engine",
    "OBJECTIVES": "research.sweep.objectives",
    "Constraints": "research.sweep.objectives",
    "axes": "research.sweep.space",
    "grid_sets": "research.sweep.space",
    "parse_grid_options": "research.sweep.space",
    "random_sets": "research.sweep.space",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'research.sweep' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
