"""The execution model as one numba pass over the bars (the semantics are docs/backtesting.md).

Per bar t: (1) funding due at t's open is charged on the position held into it; (2) a target that
changed at t-1's close fills at t's open (``next_open``); (3) exits are checked intrabar against
the bar's range: the adverse ones first (liquidation, stop loss, trailing stop: the nearest to the
open wins; a gap through the level fills at the open), then scale-out levels and take profit;
(4) equity is marked at the close; (5) a target that changed at t's close is queued for t+1's open
(or, with ``close`` fills, filled at t's close). A stop or take-profit exit disarms the target: the
position re-enters only when the target changes again.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from drydock.runtime import prepare_numba

prepare_numba()
from numba import njit  # noqa: E402  (NUMBA_CACHE_DIR must be set before numba loads)

from research.engine.model import (  # noqa: E402
    P_CASH,
    P_CLOSE_END,
    P_FEE,
    P_FIXED,
    P_IMPACT,
    P_LEVERAGE,
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
#: Counters: orders, trades, min-notional rejections, liquidations, funding paid, open pnl.
C_ORDERS, C_TRADES, C_REJECTS, C_LIQ, C_FUNDING, C_OPEN_PNL, C_PART_CAPPED = range(7)
N_COUNTERS = 7


@njit(cache=True)
def _sign(x: float) -> float:
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


@njit(cache=True)
def _floor_lots(qty: float, lot: float) -> float:
    return math.floor(qty / lot + 1e-9) * lot


@njit(cache=True)
def simulate(
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    volume: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    funding: npt.NDArray[np.float64],
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
    and ``counters`` in place."""
    n = open_.shape[0]
    fee, fixed, slip, impact = p[P_FEE], p[P_FIXED], p[P_SLIP], p[P_IMPACT]
    lot, min_notional, leverage = p[P_LOT], p[P_MIN_NOTIONAL], p[P_LEVERAGE]
    sl, tsl, tsl_act, tp, mm = p[P_SL], p[P_TSL], p[P_TSL_ACT], p[P_TP], p[P_MM]
    next_open, close_end, max_part = p[P_NEXT_OPEN] > 0, p[P_CLOSE_END] > 0, p[P_MAX_PART]
    cash, qty, entry, best, entry_qty, trade_pnl = p[P_CASH], 0.0, 0.0, 0.0, 0.0, 0.0
    ladder_i, n_orders, n_trades = 0, 0, 0
    last_target, pending, has_pending = 0.0, 0.0, False
    # No exit rule set (the plain backtest): the intrabar exit checks are skipped entirely.
    exits_on = sl == sl or tsl == tsl or tp == tp or mm == mm or gains.shape[0] > 0
    for i in range(C_ORDERS, N_COUNTERS):
        counters[i] = 0.0
    t = 0
    while t < n:
        if not exits_on and not has_pending:
            # Quiet bars (no funding due, nothing queued, the same target) only mark equity, as at
            # the end of the body below: one tight loop over them, the same arithmetic.
            t = _mark_quiet(t, funding, target, last_target, cash, qty, close, equity, position)
            if t == n:
                break
        # (1) funding on the position held into this bar's open
        if funding[t] != 0.0 and qty != 0.0:
            paid = qty * open_[t] * funding[t]
            cash -= paid
            trade_pnl -= paid
            counters[C_FUNDING] += paid
        # (2) the queued target fills at the open
        if has_pending:
            has_pending = False
            cash, qty, entry, best, entry_qty, trade_pnl, ladder_i, n_orders, n_trades = _to_target(
                t, pending, open_[t], volume[t], cash, qty, entry, best, entry_qty, trade_pnl,
                ladder_i, n_orders, n_trades, fee, fixed, slip, impact, lot, min_notional,
                leverage, max_part, orders, trades, counters,
            )  # fmt: skip
        # (3) intrabar exits
        if exits_on and qty != 0.0:
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
            if tsl == tsl and s * (best - entry) >= tsl_act * entry:
                level = best * (1.0 - s * tsl)
                if adverse != adverse or (s > 0 and level > adverse) or (s < 0 and level < adverse):
                    adverse, reason = level, TRAILING
            exited = False
            if adverse == adverse:
                gapped = (open_[t] <= adverse) if s > 0 else (open_[t] >= adverse)
                touched = (low[t] <= adverse) if s > 0 else (high[t] >= adverse)
                if gapped or touched:
                    at = open_[t] if gapped else adverse
                    cash, qty, entry, best, entry_qty, trade_pnl, ladder_i, n_orders, n_trades = _fill(
                        t, -qty, at, volume[t], reason, cash, qty, entry, best, entry_qty,
                        trade_pnl, ladder_i, n_orders, n_trades, fee, fixed, slip, impact,
                        orders, trades,
                    )  # fmt: skip
                    if reason == LIQUIDATION:
                        counters[C_LIQ] += 1
                    exited = True
            if not exited:
                favourable = high[t] if s > 0 else low[t]
                while ladder_i < gains.shape[0] and qty != 0.0:
                    level = entry * (1.0 + s * gains[ladder_i])
                    if s * (favourable - level) < 0:
                        break
                    at = open_[t] if s * (open_[t] - level) >= 0 else level
                    part = min(_floor_lots(shares[ladder_i] * entry_qty, lot), abs(qty))
                    ladder_i += 1
                    if part <= 0:
                        continue
                    if part * _fill_price(-s * part, at, volume[t], slip, impact) < min_notional:
                        counters[C_REJECTS] += 1
                        continue
                    keep_entry_qty, keep_i = entry_qty, ladder_i
                    cash, qty, entry, best, entry_qty, trade_pnl, ladder_i, n_orders, n_trades = _fill(
                        t, -s * part, at, volume[t], SCALE_OUT, cash, qty, entry, best,
                        entry_qty, trade_pnl, ladder_i, n_orders, n_trades, fee, fixed, slip,
                        impact, orders, trades,
                    )  # fmt: skip
                    entry_qty, ladder_i = keep_entry_qty, keep_i
                if qty != 0.0 and tp == tp:
                    level = entry * (1.0 + s * tp)
                    if s * (favourable - level) >= 0:
                        at = open_[t] if s * (open_[t] - level) >= 0 else level
                        cash, qty, entry, best, entry_qty, trade_pnl, ladder_i, n_orders, n_trades = _fill(
                            t, -qty, at, volume[t], TAKE_PROFIT, cash, qty, entry, best,
                            entry_qty, trade_pnl, ladder_i, n_orders, n_trades, fee, fixed,
                            slip, impact, orders, trades,
                        )  # fmt: skip
                        exited = True
            # After an exit the target stays the active one, so the position re-enters only when
            # the target changes (a stop does not re-buy on the next bar).
            if qty != 0.0:  # the trailing reference moves only after this bar's checks
                best = max(best, high[t]) if qty > 0 else min(best, low[t])
        # (4) the new target, decided at this close
        new = target[t]
        if new != last_target:
            if new == new:
                if next_open:
                    pending, has_pending = new, True
                else:
                    cash, qty, entry, best, entry_qty, trade_pnl, ladder_i, n_orders, n_trades = _to_target(
                        t, new, close[t], volume[t], cash, qty, entry, best, entry_qty,
                        trade_pnl, ladder_i, n_orders, n_trades, fee, fixed, slip, impact, lot,
                        min_notional, leverage, max_part, orders, trades, counters,
                    )  # fmt: skip
            last_target = new
        equity[t] = cash + qty * close[t]
        position[t] = qty
        t += 1
    if close_end and qty != 0.0 and n > 0:
        cash, qty, entry, best, entry_qty, trade_pnl, ladder_i, n_orders, n_trades = _fill(
            n - 1, -qty, close[n - 1], volume[n - 1], END_CLOSE, cash, qty, entry, best,
            entry_qty, trade_pnl, ladder_i, n_orders, n_trades, fee, fixed, slip, impact,
            orders, trades,
        )  # fmt: skip
        equity[n - 1] = cash
        position[n - 1] = 0.0
    counters[C_ORDERS] = n_orders
    counters[C_TRADES] = n_trades
    counters[C_OPEN_PNL] = trade_pnl + qty * (close[n - 1] - entry) if qty != 0.0 and n > 0 else 0.0


@njit(cache=True, inline="always")
def _fill_price(delta: float, price: float, vol: float, slip: float, impact: float) -> float:
    """A market order's fill price: ``price`` slipped adversely (fixed bps plus volume impact)."""
    frac = slip
    if impact > 0.0 and vol > 0.0:
        frac += impact * math.sqrt(abs(delta) / vol)
    return price * (1.0 + frac) if delta > 0 else price * (1.0 - frac)


@njit(cache=True, inline="always")
def _mark_quiet(
    t: int, funding: Any, target: Any, last_target: float, cash: float, qty: float, close: Any,
    equity: Any, position: Any,
) -> int:  # fmt: skip
    """Mark equity from bar ``t`` while nothing happens; the first bar where something does."""
    n = target.shape[0]
    t = max(t, 0)  # a provably non-negative index compiles without wraparound checks
    while t < n and funding[t] == 0.0 and target[t] == last_target:
        equity[t] = cash + qty * close[t]
        position[t] = qty
        t += 1
    return t


@njit(cache=True, inline="always")
def _to_target(
    t: int, tgt: float, price: float, vol: float, cash: float, qty: float, entry: float,
    best: float, entry_qty: float, trade_pnl: float, ladder_i: int, n_orders: int, n_trades: int,
    fee: float, fixed: float, slip: float, impact: float, lot: float, min_notional: float,
    leverage: float, max_part: float, orders: Any, trades: Any, counters: Any,
) -> Any:  # fmt: skip
    """Trade from ``qty`` toward ``tgt`` x equity at ``price`` (one order, reversals included)."""
    if tgt == 0.0:
        delta = -qty  # close exactly what is held: no dust from rounding
    else:
        desired = tgt * (cash + qty * price) / price
        delta = desired - qty
        if leverage <= 1.0 and delta > 0:  # spot: a buy never borrows cash
            buy_px = price * (1.0 + slip)
            affordable = (cash - fixed) / ((1.0 + fee) * buy_px)
            delta = min(delta, max(affordable, 0.0))
        delta = _sign(delta) * _floor_lots(abs(delta), lot)
        if max_part == max_part and vol > 0 and abs(delta) > max_part * vol:
            delta = _sign(delta) * _floor_lots(max_part * vol, lot)
            counters[C_PART_CAPPED] += 1
    if delta == 0.0:
        return cash, qty, entry, best, entry_qty, trade_pnl, ladder_i, n_orders, n_trades
    if abs(delta) * _fill_price(delta, price, vol, slip, impact) < min_notional:  # at the fill
        counters[C_REJECTS] += 1
        return cash, qty, entry, best, entry_qty, trade_pnl, ladder_i, n_orders, n_trades
    return _fill(
        t, delta, price, vol, SIGNAL, cash, qty, entry, best, entry_qty, trade_pnl, ladder_i,
        n_orders, n_trades, fee, fixed, slip, impact, orders, trades,
    )  # fmt: skip


@njit(cache=True, inline="always")
def _fill(
    t: int, delta: float, price: float, vol: float, reason: int, cash: float, qty: float,
    entry: float, best: float, entry_qty: float, trade_pnl: float, ladder_i: int, n_orders: int,
    n_trades: int, fee: float, fixed: float, slip: float, impact: float, orders: Any, trades: Any,
) -> Any:  # fmt: skip
    """One market fill of ``delta`` units at ``price`` (slipped adversely), fees and trade PnL."""
    px = _fill_price(delta, price, vol, slip, impact)
    cost = abs(delta) * px * fee + fixed
    cash -= delta * px + cost
    orders[n_orders, 0] = t
    orders[n_orders, 1] = delta
    orders[n_orders, 2] = px
    orders[n_orders, 3] = cost
    orders[n_orders, 4] = reason
    n_orders += 1
    new = qty + delta
    if qty == 0.0:  # a trade opens
        entry, best, entry_qty, trade_pnl, ladder_i = px, px, abs(new), -cost, 0
    elif _sign(delta) == _sign(qty):  # adding to the position
        entry = (entry * abs(qty) + px * abs(delta)) / abs(new)
        entry_qty = abs(new)
        trade_pnl -= cost
    else:  # reducing, closing or reversing
        closed = min(abs(delta), abs(qty))
        share = closed / abs(delta)
        trade_pnl += closed * (px - entry) * _sign(qty) - cost * share
        if abs(delta) >= abs(qty) - 1e-12 * abs(qty):
            trades[n_trades] = trade_pnl
            n_trades += 1
            if abs(new) > 1e-12 * abs(qty):  # reversal: the remainder opens a new trade
                entry, best, entry_qty, trade_pnl, ladder_i = (
                    px,
                    px,
                    abs(new),
                    -cost * (1 - share),
                    0,
                )
            else:
                new, entry, best, entry_qty, trade_pnl, ladder_i = 0.0, 0.0, 0.0, 0.0, 0.0, 0
    return cash, new, entry, best, entry_qty, trade_pnl, ladder_i, n_orders, n_trades
