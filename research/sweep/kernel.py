"""The numba simulation core of sweeps: one parameter set's 0/1 targets reduced to its metrics.

Same semantics as :mod:`research.reference` and :mod:`research.backtest` (drydock.execution's
model: long-only all-in/flat, fill at the next open or the signal close, percent + fixed fee,
adverse slippage, whole lots rounded down, orders under the min notional skipped and counted,
equity marked at each close), with the metrics of :mod:`drydock.metrics` accumulated inside the
loop: no equity curve or order records are kept.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit, prange

#: Columns of a kernel's output row, in order (ratios derived from them live in objectives.py).
METRICS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "trade_count",
    "win_rate",
    "orders",
    "exposure",
    "fees_paid",
    "skipped_min_notional",
    "final_equity",
)
N_METRICS = len(METRICS)

#: Layout of the ``costs`` vector every kernel takes (see :func:`costs_vector`).
COSTS: tuple[str, ...] = (
    "init_cash",
    "taker_fee",
    "fixed_fee",
    "slippage",
    "lot_size",
    "min_notional",
    "next_open",
    "periods_per_year",
)


def costs_vector(
    init_cash: float,
    taker_fee: float,
    fixed_fee: float,
    slippage: float,
    lot_size: float,
    min_notional: float,
    next_open: bool,
    periods_per_year: float,
) -> npt.NDArray[np.float64]:
    """The execution model and annualization as the float64 vector kernels read (:data:`COSTS`)."""
    return np.array(
        [
            init_cash,
            taker_fee,
            fixed_fee,
            slippage,
            lot_size,
            min_notional,
            1.0 if next_open else 0.0,
            periods_per_year,
        ],
        dtype=np.float64,
    )


#: A fresh account: cash, qty, cost basis, fees, orders, skipped, closed trades, winning trades.
Account = tuple[float, float, float, float, float, float, float, float]
#: Running statistics: first mark, previous mark, peak, max drawdown, sum r, sum r^2,
#: sum of negative r^2, bars exposed.
Stats = tuple[float, float, float, float, float, float, float, float]


@njit(cache=True, inline="always")
def open_account(costs):  # type: ignore[no-untyped-def]
    """The :data:`Account` tuple at the start of a run."""
    return (costs[0], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@njit(cache=True, inline="always")
def order(buy, price, acct, costs):  # type: ignore[no-untyped-def]
    """Apply one target change at ``price``: an all-in buy in whole lots or a sell of everything,
    skipped (and counted) under the min notional, exactly as research.reference.run."""
    cash, qty, basis, fees, orders, skipped, trades, wins = acct
    fee, fixed_fee, slip, lot, min_notional = costs[1], costs[2], costs[3], costs[4], costs[5]
    if buy:
        fill = price * (1.0 + slip)
        budget = (cash - fixed_fee) / (1.0 + fee)
        size = 0.0
        if budget > 0:
            size = math.floor(budget / fill / lot + 1e-9) * lot
        if size > 0:
            if size * fill < min_notional:
                skipped += 1.0
            else:
                paid = size * fill * fee + fixed_fee
                cash -= size * fill + paid
                basis += size * fill + paid
                qty += size
                fees += paid
                orders += 1.0
    elif qty > 0:
        fill = price * (1.0 - slip)
        if qty * fill < min_notional:
            skipped += 1.0
        else:
            paid = qty * fill * fee + fixed_fee
            proceeds = qty * fill - paid
            cash += proceeds
            trades += 1.0
            if proceeds - basis > 0:
                wins += 1.0
            fees += paid
            orders += 1.0
            qty = 0.0
            basis = 0.0
    return (cash, qty, basis, fees, orders, skipped, trades, wins)


@njit(cache=True, inline="always")
def mark(i, acct, close, stats):  # type: ignore[no-untyped-def]
    """Mark equity at bar ``i``'s close and fold it into the running :data:`Stats`."""
    first, prev, peak, mdd, s1, s2, sneg, exposed = stats
    qty = acct[1]
    eq = acct[0] + qty * close
    if qty != 0:
        exposed += 1.0
    if i == 0:
        first = eq
        peak = eq
    elif eq != prev:  # an unchanged mark adds a zero return and no new drawdown
        r = eq / prev - 1.0
        s1 += r
        s2 += r * r
        if r < 0:
            sneg += r * r
        if eq > peak:
            peak = eq
        else:
            dd = eq / peak - 1.0
            if dd < mdd:
                mdd = dd
    return (first, eq, peak, mdd, s1, s2, sneg, exposed)


@njit(cache=True, inline="always")
def finish(n, acct, stats, costs, out):  # type: ignore[no-untyped-def]
    """Write the :data:`METRICS` of a run of ``n`` bars into ``out`` (drydock.metrics formulas)."""
    fees, orders, skipped, trades, wins = acct[3], acct[4], acct[5], acct[6], acct[7]
    first, eq, _, mdd, s1, s2, sneg, exposed = stats
    ppy = costs[7]
    m = n - 1
    nan = np.nan
    mean = s1 / m if m > 0 else nan
    sd = math.sqrt(max((s2 - s1 * mean) / (m - 1), 0.0)) if m > 1 else 0.0
    root = math.sqrt(ppy)
    out[0] = eq / first - 1.0
    if m <= 0:
        out[1] = nan
    elif eq <= 0:
        out[1] = -1.0
    else:
        out[1] = (eq / first) ** (ppy / m) - 1.0
    out[2] = sd * root if m > 1 else nan
    out[3] = mean / sd * root if sd > 0 else nan
    downside = math.sqrt(sneg / m) if m > 0 else 0.0
    if downside > 0:
        out[4] = mean / downside * root
    elif m > 0 and mean > 0:
        out[4] = np.inf
    else:
        out[4] = nan
    out[5] = mdd
    out[6] = trades
    out[7] = wins / trades if trades > 0 else nan
    out[8] = orders
    out[9] = exposed / n if n > 0 else nan
    out[10] = fees
    out[11] = skipped
    out[12] = eq


@njit(cache=True, nogil=True)
def simulate_one(open_, close, target, costs, out):  # type: ignore[no-untyped-def]
    """Simulate one int8 target series (0/1) and write its :data:`METRICS` into ``out``."""
    next_open = costs[6] > 0.5
    acct = open_account(costs)
    stats = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    held = 0
    for i in range(close.shape[0]):
        if next_open:
            want = target[i - 1] if i > 0 else 0
            price = open_[i]
        else:
            want = target[i]
            price = close[i]
        if want != held:
            acct = order(want > held, price, acct, costs)
            held = want
        stats = mark(i, acct, close[i], stats)
    finish(close.shape[0], acct, stats, costs, out)


@njit(cache=True, parallel=True)
def simulate_targets(open_, close, targets, costs, out):  # type: ignore[no-untyped-def]
    """Simulate each row of an int8 ``targets`` matrix (sets x bars) into ``out`` (sets x metrics),
    parameter sets spread over the cores."""
    for k in prange(targets.shape[0]):
        simulate_one(open_, close, targets[k], costs, out[k])


@njit(cache=True, inline="always")
def stop_exit(price, low, acct, entry, stop, costs):  # type: ignore[no-untyped-def]
    """The research engine's long stop loss inside a sweep: a held position whose bar trades
    through ``entry * (1 - stop)`` is sold at that level, or at the open when it gaps below
    (``price`` is the bar's open). Returns the account and whether the stop fired."""
    if acct[1] <= 0 or stop != stop:
        return acct, False
    level = entry * (1.0 - stop)
    if price <= level:
        return order(False, price, acct, costs), True
    if low <= level:
        return order(False, level, acct, costs), True
    return acct, False


@njit(cache=True, inline="always")
def target_step(want, active, price, acct, entry, costs):  # type: ignore[no-untyped-def]
    """Act on a target change at ``price``; returns the account, the new active target and the
    entry fill (price plus slippage) when a position was opened."""
    if want != active:
        had = acct[1]
        acct = order(want > active, price, acct, costs)
        if had == 0 and acct[1] > 0:
            entry = price * (1.0 + costs[3])
    return acct, want, entry


@njit(cache=True, nogil=True)
def simulate_one_stop(open_, low, close, target, stop, costs, out):  # type: ignore[no-untyped-def]
    """:func:`simulate_one` with a stop loss of ``stop`` (a fraction of the entry fill), in the
    research engine's order: the open's fill, then the intrabar stop, then the close's decision.
    A stopped position re-enters only when the target changes again."""
    next_open = costs[6] > 0.5
    acct = open_account(costs)
    stats = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    active = 0
    entry = 0.0
    for i in range(close.shape[0]):
        if next_open:
            want = target[i - 1] if i > 0 else 0
            acct, active, entry = target_step(want, active, open_[i], acct, entry, costs)
            acct, _ = stop_exit(open_[i], low[i], acct, entry, stop, costs)
        else:
            acct, _ = stop_exit(open_[i], low[i], acct, entry, stop, costs)
            acct, active, entry = target_step(target[i], active, close[i], acct, entry, costs)
        stats = mark(i, acct, close[i], stats)
    finish(close.shape[0], acct, stats, costs, out)


@njit(cache=True, parallel=True)
def simulate_targets_stop(open_, low, close, targets, stops, costs, out):  # type: ignore[no-untyped-def]
    """:func:`simulate_targets` with one stop-loss fraction per row (``stops``)."""
    for k in prange(targets.shape[0]):
        simulate_one_stop(open_, low, close, targets[k], stops[k], costs, out[k])
