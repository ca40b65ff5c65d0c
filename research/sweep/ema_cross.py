"""The fused EMA-cross sweep kernel that :class:`strategies.ema_cross.EmaCross` supplies.

Per parameter set it computes both EMAs in one pass (the recursion of drydock.indicators:
``y0 = x0; y_t = (1 - a) y_{t-1} + a x_t`` with ``a = 2 / (span + 1)``) into a per-set int8 target
buffer, then reduces it with :func:`research.sweep.kernel.simulate_one`: memory per set is one
bar-length byte buffer, whatever the number of sets.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from research.sweep.kernel import simulate_one

#: Parameter columns the kernel reads, in order.
PARAMS: tuple[str, ...] = ("fast", "slow")


@njit(cache=True, nogil=True)
def ema_cross_targets(close, fast, slow, target):  # type: ignore[no-untyped-def]
    """Fill ``target`` with 1 where EMA(fast) > EMA(slow) from bar ``slow - 1`` on, else 0."""
    a_fast = 2.0 / (fast + 1.0)
    a_slow = 2.0 / (slow + 1.0)
    ef = es = close[0]
    warm = slow - 1
    for i in range(close.shape[0]):
        c = close[i]
        if i:
            ef = (1.0 - a_fast) * ef + a_fast * c
            es = (1.0 - a_slow) * es + a_slow * c
        target[i] = 1 if i >= warm and ef > es else 0


@njit(cache=True, parallel=True)
def sweep(open_, close, params, costs, out):  # type: ignore[no-untyped-def]
    """Metrics of every (fast, slow) row of ``params`` into ``out``, sets spread over the cores."""
    n = close.shape[0]
    for k in prange(params.shape[0]):
        target = np.empty(n, dtype=np.int8)
        ema_cross_targets(close, int(params[k, 0]), int(params[k, 1]), target)
        simulate_one(open_, close, target, costs, out[k])
