"""The execution model as one numba pass over the bars (the semantics are docs/backtesting.md).

Per bar t: (1) funding due at t's open is charged on the position held into it; (2) a target that
changed at t-1's close fills at t's open (``next_open``), or the rest of an order cut by
``max_participation`` is worked there; (3) funding stamped inside the bar is charged on the
position held after the open; (4) exits are checked intrabar against the bar's range in the
order the bar reveals them: an adverse gap at the open, favourable levels the open passed, adverse
levels touched (liquidation, stop loss, trailing stop: the nearest wins), then scale-out levels
and take profit; (5) a target that changed at t's close is queued for t+1's open (or, with
``close`` fills, filled at t's close); (6) equity is marked at the close. A stop or take-profit
exit disarms the target: the position re-enters only when the target changes again. An account
whose equity falls to <= 0 is ruined: it sends no signal order after that bar.

The account lives in the small state vector ``st`` (S_* positions) that the helpers update in
place; the Python reference (:mod:`drydock.fills.reference`) is the same model as a loop.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from drydock.runtime import prepare_numba

prepare_numba()
from numba import njit  # noqa: E402  (NUMBA_CACHE_DIR must be set before numba loads)

from drydock.fills.model import (  # noqa: E402
    LOT_ABS_SLACK,
    LOT_REL_SLACK,
    P_CASH,
    P_CLOSE_END,
    P_FEE,
    P_FIXED,
    P_IMPACT,
    P_LEVERAGE,
    P_LIQ_FEE,
    P_LOT,
    P_MAX_PART,
    P_MIN_NOTIONAL,
    P_MM,
    P_NEXT_OPEN,
    P_SL,
    P_SLIP,
    P_TP,
    P_TSL,
    P_TSL_ACT,
)

SIGNAL, STOP_LOSS, TRAILING, TAKE_PROFIT, SCALE_OUT, LIQUIDATION, END_CLOSE = range(7)
#: Columns of the order records: bar, signed qty, fill price, fee, reason.
ORDER_COLUMNS = 5
#: Counters: orders, trades, min-notional rejections, liquidations, funding paid, open pnl,
#: participation-capped orders, the bar the account was ruined at (-1: never).
C_ORDERS, C_TRADES, C_REJECTS, C_LIQ, C_FUNDING, C_OPEN_PNL, C_PART_CAPPED, C_RUINED = range(8)
N_COUNTERS = 8
#: The account state vector: cash, position, average entry, best price since entry, entry
#: quantity (ladder base), open trade PnL, next ladder level, orders and trades written, the
#: position a capped order still works to (S_GOAL_ON > 0) and that order's reason.
S_CASH, S_QTY, S_ENTRY, S_BEST, S_EQTY, S_PNL, S_LADDER, S_NORD, S_NTRD = range(9)
S_GOAL, S_GOAL_ON, S_GOAL_REASON = range(9, 12)
N_STATE = 12


@njit(cache=True)
def _sign(x: float) -> float:
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


@njit(cache=True)
def floor_lots(qty: float, lot: float) -> float:
    """:func:`drydock.fills.model.floor_lots` for numba (one rule, relative slack)."""
    return math.floor(qty / lot * (1 + LOT_REL_SLACK) + LOT_ABS_SLACK) * lot


@njit(cache=True)
def simulate(
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    volume: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    funding: npt.NDArray[np.float64],
    funding_in: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64],
    gains: npt.NDArray[np.float64],
    shares: npt.NDArray[np.float64],
    equity: npt.NDArray[np.float64],
    position: npt.NDArray[np.float64],
    orders: npt.NDArray[np.float64],
    trades: npt.NDArray[np.float64],
    counters: npt.NDArray[np.float64],
) -> None:
    """Run the model; fills ``equity``, ``position``, ``orders``, ``trades`` (closed-trade PnL)
    and ``counters`` in place. ``funding`` is the rate due at each bar's open, ``funding_in``
    the rate of stamps inside each bar."""
    n = open_.shape[0]
    sl, tsl, tsl_act, tp, mm = p[P_SL], p[P_TSL], p[P_TSL_ACT], p[P_TP], p[P_MM]
    next_open, end_rule = p[P_NEXT_OPEN] > 0, p[P_CLOSE_END]
    st = np.zeros(N_STATE)
    st[S_CASH] = p[P_CASH]
    last_target, pending, has_pending = 0.0, 0.0, False
    # No exit rule set (the plain backtest): the intrabar exit checks are skipped entirely.
    exits_on = sl == sl or tsl == tsl or tp == tp or mm == mm or gains.shape[0] > 0
    # A ladder whose fractions sum to 1: its last slice closes what lot flooring left.
    full = gains.shape[0] > 0 and bool(np.sum(shares) >= 1 - 1e-12)
    for i in range(C_ORDERS, N_COUNTERS):
        counters[i] = 0.0
    counters[C_RUINED] = -1.0
    t = 0
    while t < n:
        if not exits_on and not has_pending and st[S_GOAL_ON] == 0.0:
            # Quiet bars (no funding due, nothing queued, the same target) only mark equity, as at
            # the end of the body below: one tight loop over them, the same arithmetic.
            t = _mark_quiet(t, funding, funding_in, target, last_target, st[S_CASH], st[S_QTY],
                            close, equity, position)  # fmt: skip
            if t == n:
                break
        # (1) funding on the position held into this bar's open
        if funding[t] != 0.0 and st[S_QTY] != 0.0:
            _pay(st, st[S_QTY] * open_[t] * funding[t], counters)
        # (2) the queued target, or the rest of a capped order, at the open
        if has_pending:
            has_pending = False
            _rebalance(t, pending, open_[t], volume[t], st, p, orders, trades, counters)
        elif st[S_GOAL_ON] > 0.0:
            _work(t, open_[t], volume[t], st, p, orders, trades, counters)
        # (3) funding stamped inside this bar, on the position held after its open
        if funding_in[t] != 0.0 and st[S_QTY] != 0.0:
            _pay(st, st[S_QTY] * open_[t] * funding_in[t], counters)
        # (4) intrabar exits
        if exits_on and st[S_QTY] != 0.0:
            s = _sign(st[S_QTY])
            o = open_[t]
            level, reason = _adverse(st, sl, tsl, tsl_act, mm)
            if level == level and ((o <= level) if s > 0 else (o >= level)):
                _exit_all(t, o, volume[t], reason, st, p, orders, trades, counters)
            else:
                sent = st[S_NORD]
                if _reaches(st, o, gains, tp):  # favourable levels the open already passed
                    _favourable(t, o, o, volume[t], gains, shares, full, tp, st, p, orders,
                                trades, counters)  # fmt: skip
                if st[S_QTY] != 0.0:
                    if st[S_NORD] != sent:  # fills at the open moved the liquidation level
                        level, reason = _adverse(st, sl, tsl, tsl_act, mm)
                    if level == level and ((low[t] <= level) if s > 0 else (high[t] >= level)):
                        _exit_all(t, level, volume[t], reason, st, p, orders, trades, counters)
                    else:
                        favourable = high[t] if s > 0 else low[t]
                        if _reaches(st, favourable, gains, tp):
                            _favourable(t, o, favourable, volume[t], gains, shares, full, tp,
                                        st, p, orders, trades, counters)  # fmt: skip
            # After an exit the target stays the active one, so the position re-enters only when
            # the target changes (a stop does not re-buy on the next bar).
            q = st[S_QTY]
            if q != 0.0:  # the trailing reference moves only after this bar's checks
                st[S_BEST] = max(st[S_BEST], high[t]) if q > 0 else min(st[S_BEST], low[t])
        # (5) the new target, decided at this close
        new = target[t]
        if new != last_target:
            if new == new:
                if next_open:
                    pending, has_pending = new, True
                else:
                    _rebalance(t, new, close[t], volume[t], st, p, orders, trades, counters)
            last_target = new
        equity[t] = st[S_CASH] + st[S_QTY] * close[t]
        position[t] = st[S_QTY]
        t += 1
    if end_rule > 0 and st[S_QTY] != 0.0 and n > 0:
        at = open_[n - 1] if end_rule > 1.5 else close[n - 1]
        _fill(n - 1, -st[S_QTY], at, volume[n - 1], END_CLOSE, st, p, orders, trades, counters)
        equity[n - 1] = st[S_CASH]
        position[n - 1] = 0.0
    qty = st[S_QTY]
    counters[C_ORDERS] = st[S_NORD]
    counters[C_TRADES] = st[S_NTRD]
    counters[C_OPEN_PNL] = (
        st[S_PNL] + qty * (close[n - 1] - st[S_ENTRY]) if qty != 0.0 and n > 0 else 0.0
    )


@njit(cache=True, inline="always")
def _pay(st: Any, paid: float, counters: Any) -> None:
    st[S_CASH] -= paid
    st[S_PNL] -= paid
    counters[C_FUNDING] += paid


@njit(cache=True, inline="always")
def _fill_price(delta: float, price: float, vol: float, slip: float, impact: float) -> float:
    """A market order's fill price: ``price`` slipped adversely (fixed bps plus volume impact)."""
    frac = slip
    if impact > 0.0 and vol > 0.0:
        frac += impact * math.sqrt(abs(delta) / vol)
    return price * (1.0 + frac) if delta > 0 else price * (1.0 - frac)


@njit(cache=True, inline="always")
def _mark_quiet(
    t: int, funding: Any, funding_in: Any, target: Any, last_target: float, cash: float,
    qty: float, close: Any, equity: Any, position: Any,
) -> int:  # fmt: skip
    """Mark equity from bar ``t`` while nothing happens; the first bar where something does."""
    n = target.shape[0]
    t = max(t, 0)  # a provably non-negative index compiles without wraparound checks
    while t < n and funding[t] == 0.0 and funding_in[t] == 0.0 and target[t] == last_target:
        equity[t] = cash + qty * close[t]
        position[t] = qty
        t += 1
    return t


@njit(cache=True)
def _affordable(cash: float, price: float, vol: float, p: Any) -> float:
    """The most whole lots a spot buy can pay for with ``cash`` (slippage, impact and fees in)."""
    fee, fixed, slip, impact, lot = p[P_FEE], p[P_FIXED], p[P_SLIP], p[P_IMPACT], p[P_LOT]
    budget = cash - fixed
    if budget <= 0:
        return 0.0
    q = budget / ((1 + fee) * (price * (1 + slip)))
    if impact > 0 and vol > 0:
        for _ in range(60):  # Newton from above on the convex, increasing cost
            root = math.sqrt(q / vol)
            cost = q * price * (1 + slip + impact * root) * (1 + fee)
            slope = price * (1 + slip + 1.5 * impact * root) * (1 + fee)
            step = (cost - budget) / slope
            if not step > 1e-15 * q:
                break
            q -= step
    q = floor_lots(q, lot)
    while q > 0 and q * _fill_price(q, price, vol, slip, impact) * (1 + fee) > budget * (1 + 1e-12):
        q = floor_lots(q - lot, lot)
    return q


@njit(cache=True)
def _ruin_check(t: int, st: Any, counters: Any) -> None:
    if st[S_QTY] == 0.0 and st[S_CASH] <= 0 and counters[C_RUINED] < 0:
        counters[C_RUINED] = t


@njit(cache=True)
def _send(
    t: int, delta: float, goal: float, price: float, vol: float, reason: int, check_min: bool,
    st: Any, p: Any, orders: Any, trades: Any, counters: Any,
) -> None:  # fmt: skip
    """Send ``delta`` towards the position ``goal``: cut to the participation cap (the rest is
    worked at the next opens), rejected below the min notional at the fill price."""
    st[S_GOAL_ON] = 0.0
    cap = p[P_MAX_PART]
    if cap == cap and vol > 0 and abs(delta) > cap * vol:
        delta = _sign(delta) * floor_lots(cap * vol, p[P_LOT])
        counters[C_PART_CAPPED] += 1
        st[S_GOAL], st[S_GOAL_ON], st[S_GOAL_REASON] = goal, 1.0, reason
    if delta == 0.0:
        return
    px = _fill_price(delta, price, vol, p[P_SLIP], p[P_IMPACT])
    if check_min and abs(delta) * px < p[P_MIN_NOTIONAL]:
        counters[C_REJECTS] += 1
        st[S_GOAL_ON] = 0.0
        return
    _fill(t, delta, price, vol, reason, st, p, orders, trades, counters)


@njit(cache=True)
def _order(
    t: int, delta: float, price: float, vol: float, reason: int, st: Any, p: Any, orders: Any,
    trades: Any, counters: Any,
) -> None:  # fmt: skip
    """A signal order or a capped order's remainder (the reference's ``_order``)."""
    qty = st[S_QTY]
    goal = 0.0
    if delta != -qty:
        if p[P_LEVERAGE] <= 1.0 and delta > 0:  # spot: a buy never borrows cash
            delta = min(delta, _affordable(st[S_CASH], price, vol, p))
        delta = _sign(delta) * floor_lots(abs(delta), p[P_LOT]) if delta != 0.0 else 0.0
        goal = qty + delta
    if delta == 0.0:
        st[S_GOAL_ON] = 0.0
        return
    check_min = reason in (SIGNAL, SCALE_OUT)
    _send(t, delta, goal, price, vol, reason, check_min, st, p, orders, trades, counters)


@njit(cache=True)
def _rebalance(
    t: int, tgt: float, price: float, vol: float, st: Any, p: Any, orders: Any, trades: Any,
    counters: Any,
) -> None:  # fmt: skip
    """Trade towards ``tgt`` x equity at ``price`` (one order, reversals included)."""
    st[S_GOAL_ON] = 0.0
    if counters[C_RUINED] >= 0:
        return
    qty = st[S_QTY]
    if tgt == 0.0:
        _order(t, -qty, price, vol, SIGNAL, st, p, orders, trades, counters)
        return
    eq = st[S_CASH] + qty * price
    if eq <= 0:  # nothing left to size from: ruined; what is held is liquidated
        counters[C_RUINED] = t
        if qty != 0.0:
            _fill(t, -qty, price, vol, LIQUIDATION, st, p, orders, trades, counters)
            counters[C_LIQ] += 1
        return
    _order(t, tgt * eq / price - qty, price, vol, SIGNAL, st, p, orders, trades, counters)


@njit(cache=True)
def _work(
    t: int, price: float, vol: float, st: Any, p: Any, orders: Any, trades: Any, counters: Any
) -> None:
    """The next slice of an order cut by the participation cap, at this bar's open."""
    goal, reason = st[S_GOAL], int(st[S_GOAL_REASON])
    if reason == SIGNAL and counters[C_RUINED] >= 0:
        st[S_GOAL_ON] = 0.0
        return
    delta = -st[S_QTY] if goal == 0.0 else goal - st[S_QTY]
    _order(t, delta, price, vol, reason, st, p, orders, trades, counters)


@njit(cache=True, inline="always")
def _reaches(st: Any, x: float, gains: Any, tp: float) -> bool:
    """Whether the price ``x`` reaches the next scale-out level or the take profit."""
    qty, entry = st[S_QTY], st[S_ENTRY]
    s = _sign(qty)
    i = int(st[S_LADDER])
    if i < gains.shape[0] and s * (x - entry * (1.0 + s * gains[i])) >= 0:
        return True
    return tp == tp and s * (x - entry * (1.0 + s * tp)) >= 0


@njit(cache=True, inline="always")
def _adverse(st: Any, sl: float, tsl: float, tsl_act: float, mm: float) -> Any:
    """The nearest adverse exit level (NaN: none) and its reason."""
    qty, cash, entry = st[S_QTY], st[S_CASH], st[S_ENTRY]
    s = _sign(qty)
    adverse, reason = math.nan, -1
    if mm == mm:  # liquidation price where equity = maintenance margin
        liq = cash / (qty * (mm - 1.0)) if s > 0 else -cash / (qty * (1.0 + mm))
        if liq > 0:
            adverse, reason = liq, LIQUIDATION
    if sl == sl:
        level = entry * (1.0 - s * sl)
        if adverse != adverse or (s > 0 and level > adverse) or (s < 0 and level < adverse):
            adverse, reason = level, STOP_LOSS
    best = st[S_BEST]
    if tsl == tsl and s * (best - entry) >= tsl_act * entry:
        level = best * (1.0 - s * tsl)
        if adverse != adverse or (s > 0 and level > adverse) or (s < 0 and level < adverse):
            adverse, reason = level, TRAILING
    return adverse, reason


@njit(cache=True)
def _exit_all(
    t: int, at: float, vol: float, reason: int, st: Any, p: Any, orders: Any, trades: Any,
    counters: Any,
) -> None:  # fmt: skip
    if reason == LIQUIDATION:  # the venue's liquidation engine is not volume-capped
        st[S_GOAL_ON] = 0.0
        _fill(t, -st[S_QTY], at, vol, reason, st, p, orders, trades, counters)
        counters[C_LIQ] += 1
    else:
        _send(t, -st[S_QTY], 0.0, at, vol, reason, False, st, p, orders, trades, counters)


@njit(cache=True)
def _favourable(
    t: int, o: float, extreme: float, vol: float, gains: Any, shares: Any, full: bool, tp: float,
    st: Any, p: Any, orders: Any, trades: Any, counters: Any,
) -> None:  # fmt: skip
    """Scale-out levels, then take profit, reached by ``extreme`` (each at its level, or at the
    open if the bar opened beyond it)."""
    s = _sign(st[S_QTY])
    n = gains.shape[0]
    while int(st[S_LADDER]) < n and st[S_QTY] != 0.0:
        i = int(st[S_LADDER])
        level = st[S_ENTRY] * (1.0 + s * gains[i])
        if s * (extreme - level) < 0:
            break
        at = o if s * (o - level) >= 0 else level
        qty = st[S_QTY]
        carried = st[S_GOAL_ON] > 0.0 and int(st[S_GOAL_REASON]) != SIGNAL
        base = st[S_GOAL] if carried else qty
        last = full and i == n - 1
        part = abs(base) if last else min(floor_lots(shares[i] * st[S_EQTY], p[P_LOT]), abs(base))
        st[S_LADDER] = i + 1
        if part <= 0:
            continue
        keep_eqty, keep_i = st[S_EQTY], st[S_LADDER]
        goal = 0.0 if last else base - s * part
        delta = -qty if last else (base - qty) - s * part
        _send(t, delta, goal, at, vol, SCALE_OUT, True, st, p, orders, trades, counters)
        st[S_EQTY], st[S_LADDER] = keep_eqty, keep_i
    if st[S_QTY] != 0.0 and tp == tp:
        level = st[S_ENTRY] * (1.0 + s * tp)
        if s * (extreme - level) >= 0:
            at = o if s * (o - level) >= 0 else level
            _exit_all(t, at, vol, TAKE_PROFIT, st, p, orders, trades, counters)


@njit(cache=True)
def _fill(
    t: int, delta: float, price: float, vol: float, reason: int, st: Any, p: Any, orders: Any,
    trades: Any, counters: Any,
) -> None:  # fmt: skip
    """One market fill of ``delta`` units at ``price`` (slipped adversely), fees and trade PnL."""
    px = _fill_price(delta, price, vol, p[P_SLIP], p[P_IMPACT])
    rate = p[P_FEE] + (p[P_LIQ_FEE] if reason == LIQUIDATION else 0.0)
    cost = abs(delta) * px * rate + p[P_FIXED]
    st[S_CASH] -= delta * px + cost
    k = int(st[S_NORD])
    orders[k, 0] = t
    orders[k, 1] = delta
    orders[k, 2] = px
    orders[k, 3] = cost
    orders[k, 4] = reason
    st[S_NORD] = k + 1
    qty, entry = st[S_QTY], st[S_ENTRY]
    new = qty + delta
    if qty == 0.0:  # a trade opens
        st[S_ENTRY], st[S_BEST], st[S_EQTY], st[S_PNL], st[S_LADDER] = px, px, abs(new), -cost, 0
    elif _sign(delta) == _sign(qty):  # adding to the position
        st[S_ENTRY] = (entry * abs(qty) + px * abs(delta)) / abs(new)
        st[S_EQTY] = abs(new)
        st[S_PNL] -= cost
    else:  # reducing, closing or reversing
        closed = min(abs(delta), abs(qty))
        share = closed / abs(delta)
        st[S_PNL] += closed * (px - entry) * _sign(qty) - cost * share
        if abs(delta) >= abs(qty) - 1e-12 * abs(qty):
            k = int(st[S_NTRD])
            trades[k] = st[S_PNL]
            st[S_NTRD] = k + 1
            if abs(new) > 1e-12 * abs(qty):  # reversal: the remainder opens a new trade
                st[S_ENTRY], st[S_BEST], st[S_EQTY] = px, px, abs(new)
                st[S_PNL], st[S_LADDER] = -cost * (1 - share), 0
            else:
                new = 0.0
                st[S_ENTRY], st[S_BEST], st[S_EQTY], st[S_PNL], st[S_LADDER] = 0.0, 0.0, 0.0, 0.0, 0
    st[S_QTY] = new
    _ruin_check(t, st, counters)
