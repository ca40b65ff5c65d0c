"""Numba forms of incremental strategy steps (imported on first use: numba loads slowly).

Each kernel repeats the strategy's ``step`` recurrence with the same float64 operations in the
same order (numba without fastmath contracts nothing), so the state it leaves and the targets it
returns are bit-identical to stepping bar by bar; tests hold them to that.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def ema_cross_steps(
    close: np.ndarray,
    fast: float,
    slow: float,
    seeded: bool,
    bars: int,
    fast_alpha: float,
    slow_alpha: float,
    warmup: int,
    out: np.ndarray,
) -> tuple[float, float, int]:  # pragma: no cover - compiled
    """EMA cross targets into ``out``; returns the final (fast, slow, bars)."""
    for i in range(close.shape[0]):
        x = close[i]
        if not seeded:
            fast = x
            slow = x
            seeded = True
        else:
            fast = (1.0 - fast_alpha) * fast + fast_alpha * x
            slow = (1.0 - slow_alpha) * slow + slow_alpha * x
        bars += 1
        out[i] = 1.0 if bars >= warmup and fast > slow else 0.0
    return fast, slow, bars
