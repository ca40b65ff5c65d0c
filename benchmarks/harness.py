"""Timing helpers and the JSON line format of a benchmark figure."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

FIELDS = ("name", "value", "unit", "baseline", "ratio", "n")


@dataclass(frozen=True)
class Figure:
    """One figure: ``value`` in ``unit``, the peer's ``baseline`` and ``ratio`` (>1: we win)."""

    name: str
    value: float
    unit: str
    baseline: float
    ratio: float
    n: int

    def json(self) -> str:
        """The figure as one JSON object with exactly the keys of :data:`FIELDS`."""
        return json.dumps(asdict(self))


def median_time(func: Callable[[], object], repeat: int) -> float:
    """Median wall time in seconds of ``repeat`` calls, after one untimed warm-up call."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
