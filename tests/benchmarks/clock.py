"""A stand-in for ``benchmarks.harness.median_time``: each timed function runs once for real (its
result is kept, so a test can check the work) and takes the next of a fixed list of durations, so
a figure's arithmetic is exact and no test asserts a wall-clock time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


class Clock:
    def __init__(self, *seconds: float) -> None:
        self.seconds = list(seconds)
        self.results: list[Any] = []

    def __call__(self, func: Callable[[], object], repeat: int) -> float:
        assert repeat >= 1
        self.results.append(func())
        return self.seconds[len(self.results) - 1]


def install(monkeypatch: pytest.MonkeyPatch, module: object, *seconds: float) -> Clock:
    """Replace ``module.median_time`` with a :class:`Clock` of ``seconds`` (in call order)."""
    clock = Clock(*seconds)
    monkeypatch.setattr(module, "median_time", clock)
    return clock
