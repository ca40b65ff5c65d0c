"""EMA crossover, long and short: +1 while the fast EMA of closes is above the slow EMA, -1 below.

The target of :class:`~strategies.ema_cross.EmaCross` with the flat side turned short, for a
margin or perpetual account (a run needs ``allow_short`` or leverage > 1); flat (0) through the
warm-up. Stops, trailing stops, take profit and scale-out ladders are the engine's exit rules,
not the strategy's (``EngineConfig``), so the same targets run with or without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strategies.ema_cross import EmaCross, EmaCrossState

if TYPE_CHECKING:
    import numpy as np

    from drydock.types import Bar
    from strategies.base import FusedKernel, Params


class EmaLongShort(EmaCross):
    id = "ema_long_short"
    description = "Long when EMA(fast) > EMA(slow) of closes, short otherwise (needs shorts)."

    def fused_kernel(self) -> FusedKernel | None:
        """No fused sweep kernel: the EMA-cross kernel simulates long/flat only."""
        return None

    def step_many(self, state: EmaCrossState, close: np.ndarray, params: Params) -> np.ndarray:
        """The long/flat recurrence of EMA cross with the warmed-up flat bars turned short."""
        import numpy as np

        seen = state.bars
        out = super().step_many(state, close, params)
        warm = seen + np.arange(1, out.shape[0] + 1) >= self.warmup(params)
        return np.where(warm & (out == 0.0), -1.0, out)

    def step(self, state: EmaCrossState, bar: Bar, params: Params) -> float:
        target = super().step(state, bar, params)
        return -1.0 if target == 0.0 and state.bars >= self.warmup(params) else target
