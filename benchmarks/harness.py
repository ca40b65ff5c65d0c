"""Timing helpers and the JSON line format of DESIGN.md's Benchmarks section."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    """One benchmark figure: ``ratio = baseline / value`` (above 1 means Drydock is faster)."""

    name: str
    value: float
    unit: str
    baseline: float
    ratio: float
    n: int

    def json(self) -> str:
        return json.dumps(asdict(self))


def best_of(func: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls after one warm-up call (compilation, caches)."""
    func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(
    name: str, ours: Callable[[], object], peer: Callable[[], object], n: int, repeat: int = 5
) -> Figure:
    """Time ``ours`` against ``peer`` and express the result as a speed ratio."""
    value = best_of(ours, repeat)
    baseline = best_of(peer, repeat)
    return Figure(name, round(value, 6), "s", round(baseline, 6), round(baseline / value, 3), n)
