"""The portfolio model as one numba pass (semantics: :mod:`drydock.fills.portfolio_reference`).

State per asset lives in small arrays (position, average entry, open trade PnL); cash is one
float shared by every asset. Float operations follow the reference loop's order so both agree
to rounding.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from drydock.runtime import prepare_numba

prepare_numba()
from numba import njit  # noqa: E402  (NUMBA_CACHE_DIR must be set before numba loads)

from drydock.fills.portfolio_model import (  # noqa: E402
    Q_BAND,
    Q_CASH,
    Q_CLOSE_END,
    Q_EVERY,
    Q_FEE,
    Q_FIXED,
    Q_LEVERAGE,
    Q_NEXT_OPEN,
    Q_SLIP,
)
from research.engine.kernel import floor_lots  # noqa: E402

SIGNAL, LIQUIDATION, END_CLOSE = 0, 5, 6  # drydock.fills.model.Reason codes
#: Order record columns: bar, asset, signed qty, fill price, fee, reason.
ORDER_COLUMNS = 6
#: Counters: orders, closed trades, min-notional rejections, band skips, funding, fees, turnover,
#: cash, the bar the book was ruined at (-1: never).
K_ORDERS, K_TRADES, K_REJECTS, K_SKIPPED, K_FUNDING, K_FEES, K_TURNOVER, K_CASH = range(8)
K_RUINED = 8
N_KCOUNTERS = 9

FloatArray = npt.NDArray[np.float64]


_lots = floor_lots  # the one lot rule (relative slack), shared with the single-asset kernel


@njit(cache=True)
def _fill(
    bar: int, j: int, delta: float, price: float, reason: int, p: FloatArray, qty: FloatArray,
    entry: FloatArray, pnl: FloatArray, orders: FloatArray, trades: FloatArray,
    counters: FloatArray,
) -> None:  # fmt: skip
    slip, fee_rate, fixed = p[Q_SLIP], p[Q_FEE], p[Q_FIXED]
    px = price * (1 + slip) if delta > 0 else price * (1 - slip)
    fee = abs(delta) * px * fee_rate + fixed
    counters[K_CASH] -= delta * px + fee
    o = int(counters[K_ORDERS])
    orders[o, 0], orders[o, 1], orders[o, 2] = bar, j, delta
    orders[o, 3], orders[o, 4], orders[o, 5] = px, fee, reason
    counters[K_ORDERS] += 1
    counters[K_FEES] += fee
    counters[K_TURNOVER] += abs(delta) * px
    q = qty[j]
    new = q + delta
    if q == 0:
        entry[j], pnl[j] = px, -fee
    elif (delta > 0) == (q > 0):
        entry[j] = (entry[j] * abs(q) + px * abs(delta)) / abs(new)
        pnl[j] -= fee
    else:
        side = 1.0 if q > 0 else -1.0
        closed = min(abs(delta), abs(q))
        share = closed / abs(delta)
        pnl[j] += closed * (px - entry[j]) * side - fee * share
        if abs(delta) >= abs(q) - 1e-12 * abs(q):
            tr = int(counters[K_TRADES])
            trades[tr, 0], trades[tr, 1] = j, pnl[j]
            counters[K_TRADES] += 1
            if abs(new) > 1e-12 * abs(q):
                entry[j], pnl[j] = px, -fee * (1 - share)
            else:
                new, entry[j], pnl[j] = 0.0, 0.0, 0.0
    qty[j] = new


@njit(cache=True)
def _rebalance(
    bar: int, w: FloatArray, prices: FloatArray, p: FloatArray, lots: FloatArray,
    mins: FloatArray, qty: FloatArray, entry: FloatArray, pnl: FloatArray, deltas: FloatArray,
    orders: FloatArray, trades: FloatArray, counters: FloatArray,
) -> None:  # fmt: skip
    k = prices.shape[0]
    if counters[K_RUINED] >= 0:
        return
    equity = counters[K_CASH]
    for j in range(k):
        equity += qty[j] * prices[j]
    if equity <= 0:  # ruined: liquidate what is held, trade no more
        counters[K_RUINED] = bar
        for j in range(k):
            if qty[j] != 0:
                _fill(bar, j, -qty[j], prices[j], LIQUIDATION, p, qty, entry, pnl, orders, trades,
                      counters)  # fmt: skip
        return
    for j in range(k):
        if w[j] == 0:
            deltas[j] = -qty[j]
        else:
            raw = w[j] * equity / prices[j] - qty[j]
            d = 0.0
            if raw != 0:
                d = math.copysign(_lots(abs(raw), lots[j]), raw)
            if d != 0 and abs(d) * prices[j] < p[Q_BAND]:
                counters[K_SKIPPED] += 1
                d = 0.0
            deltas[j] = d
    for j in range(k):
        if deltas[j] < 0:  # min notional at the fill price (after slippage)
            if -deltas[j] * (prices[j] * (1 - p[Q_SLIP])) < mins[j]:
                counters[K_REJECTS] += 1
            else:
                _fill(bar, j, deltas[j], prices[j], SIGNAL, p, qty, entry, pnl, orders, trades,
                      counters)  # fmt: skip
    if p[Q_LEVERAGE] <= 1:
        cost, n_buys = 0.0, 0
        for j in range(k):
            if deltas[j] > 0:
                cost += deltas[j] * prices[j] * (1 + p[Q_SLIP]) * (1 + p[Q_FEE])
                n_buys += 1
        cash = counters[K_CASH]
        if cost > 0 and cost + n_buys * p[Q_FIXED] > cash:
            scale = max(cash - n_buys * p[Q_FIXED], 0.0) / cost
            for j in range(k):
                if deltas[j] > 0:
                    deltas[j] = _lots(deltas[j] * scale, lots[j])
    for j in range(k):
        if deltas[j] > 0:
            if deltas[j] * (prices[j] * (1 + p[Q_SLIP])) < mins[j]:
                counters[K_REJECTS] += 1
            else:
                _fill(bar, j, deltas[j], prices[j], SIGNAL, p, qty, entry, pnl, orders, trades,
                      counters)  # fmt: skip


@njit(cache=True)
def simulate(
    opens: FloatArray, closes: FloatArray, weights: FloatArray, funding: FloatArray,
    funding_in: FloatArray, p: FloatArray, lots: FloatArray, mins: FloatArray, equity: FloatArray,
    positions: FloatArray, orders: FloatArray, trades: FloatArray, counters: FloatArray,
) -> None:  # fmt: skip
    """Run the portfolio model; fills ``equity`` (n), ``positions`` (n, k), ``orders``,
    ``trades`` (asset, closed-trade PnL) and ``counters`` in place."""
    n, k = opens.shape
    counters[:] = 0.0
    counters[K_CASH] = p[Q_CASH]
    counters[K_RUINED] = -1.0
    qty, entry, pnl = np.zeros(k), np.zeros(k), np.zeros(k)
    deltas, active, pending = np.zeros(k), np.zeros(k), np.zeros(k)
    has_pending, last_decision = False, -1
    next_open, every = p[Q_NEXT_OPEN] > 0, p[Q_EVERY]
    for t in range(n):
        for j in range(k):
            rate = funding[t, j]
            if rate != 0 and qty[j] != 0:
                paid = qty[j] * opens[t, j] * rate
                counters[K_CASH] -= paid
                pnl[j] -= paid
                counters[K_FUNDING] += paid
        if has_pending:
            has_pending = False
            _rebalance(t, pending, opens[t], p, lots, mins, qty, entry, pnl, deltas, orders,
                       trades, counters)  # fmt: skip
        for j in range(k):  # stamps inside the bar: on the positions held after its open
            rate = funding_in[t, j]
            if rate != 0 and qty[j] != 0:
                paid = qty[j] * opens[t, j] * rate
                counters[K_CASH] -= paid
                pnl[j] -= paid
                counters[K_FUNDING] += paid
        changed = False
        for j in range(k):
            if weights[t, j] != active[j]:
                changed = True
        due = every == every and last_decision >= 0 and t - last_decision >= every
        if changed or due:
            active[:] = weights[t]
            last_decision = t
            if next_open:
                pending[:] = weights[t]
                has_pending = True
            else:
                _rebalance(t, active, closes[t], p, lots, mins, qty, entry, pnl, deltas, orders,
                           trades, counters)  # fmt: skip
        value = counters[K_CASH]
        for j in range(k):
            value += qty[j] * closes[t, j]
            positions[t, j] = qty[j]
        equity[t] = value
    if p[Q_CLOSE_END] > 0 and n > 0:
        held = False
        for j in range(k):
            if qty[j] != 0:
                held = True
                _fill(n - 1, j, -qty[j], closes[n - 1, j], END_CLOSE, p, qty, entry, pnl,
                      orders, trades, counters)  # fmt: skip
        if held:
            equity[n - 1] = counters[K_CASH]
            positions[n - 1, :] = 0.0
