"""The fused EMA-cross sweep kernel that :class:`strategies.ema_cross.EmaCross` supplies.

Per parameter set one pass over the bars updates both EMAs (the recursion of drydock.indicators:
``y0 = x0; y_t = (1 - a) y_{t-1} + a x_t`` with ``a = 2 / (span + 1)``), decides the target and
feeds it to the shared order/mark steps of :mod:`research.sweep.kernel`: no per-set arrays at all.
"""

from __future__ import annotations

from numba import njit, prange

from research.sweep.kernel import finish, mark, open_account, order, stop_exit, target_step

#: Parameter columns the kernel reads, in order.
PARAMS: tuple[str, ...] = ("fast", "slow")


@njit(cache=True, nogil=True)
def simulate_ema_cross(open_, close, fast, slow, costs, out):  # type: ignore[no-untyped-def]
    """One (fast, slow) set: EMAs, crossover target and simulation in a single pass over the bars
    (the loop of :func:`research.sweep.kernel.simulate_one` with the target computed in place)."""
    next_open = costs[6] > 0.5
    acct = open_account(costs)
    stats = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    a_fast = 2.0 / (fast + 1.0)
    a_slow = 2.0 / (slow + 1.0)
    ef = es = close[0]
    held = signal = 0
    for i in range(close.shape[0]):
        c = close[i]
        if i:
            ef = (1.0 - a_fast) * ef + a_fast * c
            es = (1.0 - a_slow) * es + a_slow * c
        now = 1 if i >= slow - 1 and ef > es else 0
        want, price = (signal, open_[i]) if next_open else (now, c)
        signal = now
        if want != held:
            acct = order(want > held, price, acct, costs)
            held = want
        stats = mark(i, acct, c, stats)
    finish(close.shape[0], acct, stats, costs, out)


@njit(cache=True, parallel=True)
def sweep(open_, close, params, costs, out):  # type: ignore[no-untyped-def]
    """Metrics of every (fast, slow) row of ``params`` into ``out``, sets spread over the cores."""
    for k in prange(params.shape[0]):
        simulate_ema_cross(open_, close, int(params[k, 0]), int(params[k, 1]), costs, out[k])


@njit(cache=True, nogil=True)
def simulate_ema_cross_stop(open_, low, close, fast, slow, stop, costs, out):  # type: ignore[no-untyped-def]
    """:func:`simulate_ema_cross` with the research engine's stop loss (see
    :func:`research.sweep.kernel.simulate_one_stop` for the order of events)."""
    next_open = costs[6] > 0.5
    acct = open_account(costs)
    stats = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    a_fast = 2.0 / (fast + 1.0)
    a_slow = 2.0 / (slow + 1.0)
    ef = es = close[0]
    active = signal = 0
    entry = 0.0
    for i in range(close.shape[0]):
        c = close[i]
        if i:
            ef = (1.0 - a_fast) * ef + a_fast * c
            es = (1.0 - a_slow) * es + a_slow * c
        now = 1 if i >= slow - 1 and ef > es else 0
        if next_open:
            acct, active, entry = target_step(signal, active, open_[i], acct, entry, costs)
            acct, _ = stop_exit(open_[i], low[i], acct, entry, stop, costs)
        else:
            acct, _ = stop_exit(open_[i], low[i], acct, entry, stop, costs)
            acct, active, entry = target_step(now, active, c, acct, entry, costs)
        signal = now
        stats = mark(i, acct, c, stats)
    finish(close.shape[0], acct, stats, costs, out)


@njit(cache=True, parallel=True)
def sweep_stop(open_, low, close, params, costs, out):  # type: ignore[no-untyped-def]
    """Metrics of every (fast, slow, stop) row of ``params`` into ``out``, over the cores."""
    for k in prange(params.shape[0]):
        simulate_ema_cross_stop(
            open_, low, close, int(params[k, 0]), int(params[k, 1]), params[k, 2], costs, out[k]
        )
