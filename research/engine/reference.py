"""The execution model as a plain Python loop: the readable statement of docs/backtesting.md.

It shares no code with the numba kernel beyond the config; the conformance suite runs both on
hand-built scenarios and on real data and requires the same fills, equity and trades.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from research.engine.model import EngineConfig, Reason


@dataclass
class Account:
    """Cash, the open position and the open trade's bookkeeping."""

    cash: float
    qty: float = 0.0
    entry: float = 0.0  # average entry price of the open position
    best: float = 0.0  # best price since entry (trailing-stop reference)
    entry_qty: float = 0.0  # size the scale-out fractions refer to
    ladder_next: int = 0
    trade_pnl: float = 0.0
    orders: list[tuple[int, float, float, float, Reason]] = field(default_factory=list)
    trades: list[float] = field(default_factory=list)
    rejected: int = 0
    liquidations: int = 0
    funding_paid: float = 0.0

    @property
    def side(self) -> float:
        return math.copysign(1.0, self.qty) if self.qty else 0.0


@dataclass
class ReferenceRun:
    equity: list[float]
    position: list[float]
    account: Account


def _lots(qty: float, lot: float) -> float:
    return math.floor(qty / lot + 1e-9) * lot


def _fill_price(cfg: EngineConfig, delta: float, price: float, volume: float) -> float:
    """A market order's fill price: ``price`` slipped adversely (fixed bps plus volume impact)."""
    frac = cfg.execution.slippage + (
        cfg.impact * math.sqrt(abs(delta) / volume) if cfg.impact and volume > 0 else 0.0
    )
    return price * (1 + frac) if delta > 0 else price * (1 - frac)


def _fill(acct: Account, cfg: EngineConfig, bar: int, delta: float, price: float,
          volume: float, reason: Reason) -> None:  # fmt: skip
    e = cfg.execution
    px = _fill_price(cfg, delta, price, volume)
    fee = abs(delta) * px * e.taker_fee + e.fixed_fee
    acct.cash -= delta * px + fee
    acct.orders.append((bar, delta, px, fee, reason))
    new = acct.qty + delta
    if acct.qty == 0:
        acct.entry, acct.best, acct.entry_qty = px, px, abs(new)
        acct.trade_pnl, acct.ladder_next = -fee, 0
    elif (delta > 0) == (acct.qty > 0):
        acct.entry = (acct.entry * abs(acct.qty) + px * abs(delta)) / abs(new)
        acct.entry_qty = abs(new)
        acct.trade_pnl -= fee
    else:
        closed = min(abs(delta), abs(acct.qty))
        share = closed / abs(delta)
        acct.trade_pnl += closed * (px - acct.entry) * acct.side - fee * share
        if abs(delta) >= abs(acct.qty) - 1e-12 * abs(acct.qty):
            acct.trades.append(acct.trade_pnl)
            if abs(new) > 1e-12 * abs(acct.qty):
                acct.entry, acct.best, acct.entry_qty = px, px, abs(new)
                acct.trade_pnl, acct.ladder_next = -fee * (1 - share), 0
            else:
                new = 0.0
                acct.entry = acct.best = acct.entry_qty = acct.trade_pnl = 0.0
                acct.ladder_next = 0
    acct.qty = new


def _rebalance(acct: Account, cfg: EngineConfig, bar: int, target: float, price: float,
               volume: float) -> None:  # fmt: skip
    e = cfg.execution
    if target == 0:
        delta = -acct.qty
    else:
        delta = target * (acct.cash + acct.qty * price) / price - acct.qty
        if cfg.leverage <= 1 and delta > 0:
            affordable = (acct.cash - e.fixed_fee) / ((1 + e.taker_fee) * price * (1 + e.slippage))
            delta = min(delta, max(affordable, 0.0))
        delta = math.copysign(_lots(abs(delta), cfg.lot_size), delta) if delta else 0.0
        cap = cfg.max_participation
        if cap is not None and volume > 0 and abs(delta) > cap * volume:
            delta = math.copysign(_lots(cap * volume, cfg.lot_size), delta)
    if delta == 0:
        return
    if abs(delta) * _fill_price(cfg, delta, price, volume) < cfg.min_notional:  # at the fill
        acct.rejected += 1
        return
    _fill(acct, cfg, bar, delta, price, volume, Reason.SIGNAL)


def _adverse_level(acct: Account, cfg: EngineConfig) -> tuple[float, Reason] | None:
    """The nearest adverse exit level below (long) or above (short) the price, and its reason."""
    s = acct.side
    levels: list[tuple[float, Reason]] = []
    mm = cfg.maintenance_margin
    if mm is not None:
        liq = acct.cash / (acct.qty * (mm - 1)) if s > 0 else -acct.cash / (acct.qty * (1 + mm))
        if liq > 0:
            levels.append((liq, Reason.LIQUIDATION))
    if cfg.stop_loss is not None:
        levels.append((acct.entry * (1 - s * cfg.stop_loss), Reason.STOP_LOSS))
    if (
        cfg.trailing_stop is not None
        and s * (acct.best - acct.entry) >= cfg.trailing_activation * acct.entry
    ):
        levels.append((acct.best * (1 - s * cfg.trailing_stop), Reason.TRAILING_STOP))
    if not levels:
        return None
    # The first level listed wins ties (liquidation, then stop, then trailing), as in the kernel.
    nearest = levels[0]
    for level in levels[1:]:
        if s * (level[0] - nearest[0]) > 0:
            nearest = level
    return nearest


def _intrabar(acct: Account, cfg: EngineConfig, bar: int, o: float, h: float, lo: float,
              volume: float) -> None:  # fmt: skip
    s = acct.side
    adverse = _adverse_level(acct, cfg)
    if adverse is not None:
        level, reason = adverse
        gapped = o <= level if s > 0 else o >= level
        touched = lo <= level if s > 0 else h >= level
        if gapped or touched:
            _fill(acct, cfg, bar, -acct.qty, o if gapped else level, volume, reason)
            if reason is Reason.LIQUIDATION:
                acct.liquidations += 1
            return
    extreme = h if s > 0 else lo
    while acct.ladder_next < len(cfg.scale_out) and acct.qty:
        gain, share = cfg.scale_out[acct.ladder_next]
        level = acct.entry * (1 + s * gain)
        if s * (extreme - level) < 0:
            break
        at = o if s * (o - level) >= 0 else level
        part = min(_lots(share * acct.entry_qty, cfg.lot_size), abs(acct.qty))
        acct.ladder_next += 1
        if part <= 0:
            continue
        if part * _fill_price(cfg, -s * part, at, volume) < cfg.min_notional:
            acct.rejected += 1
            continue
        keep = (acct.entry_qty, acct.ladder_next)
        _fill(acct, cfg, bar, -s * part, at, volume, Reason.SCALE_OUT)
        acct.entry_qty, acct.ladder_next = keep
    if acct.qty and cfg.take_profit is not None:
        level = acct.entry * (1 + s * cfg.take_profit)
        if s * (extreme - level) >= 0:
            _fill(acct, cfg, bar, -acct.qty, o if s * (o - level) >= 0 else level, volume,
                  Reason.TAKE_PROFIT)  # fmt: skip


def simulate(
    bars: list[tuple[float, float, float, float, float]],
    targets: list[float],
    cfg: EngineConfig,
    funding: list[float] | None = None,
) -> ReferenceRun:
    """Run the model over ``bars`` of (open, high, low, close, volume) tuples."""
    next_open = cfg.execution.fill.value == "next_open"
    acct = Account(cfg.execution.init_cash)
    equity, position = [], []
    active, pending = 0.0, None
    for t, (o, h, lo, c, v) in enumerate(bars):
        rate = funding[t] if funding else 0.0
        if rate and acct.qty:
            paid = acct.qty * o * rate
            acct.cash -= paid
            acct.trade_pnl -= paid
            acct.funding_paid += paid
        if pending is not None:
            _rebalance(acct, cfg, t, pending, o, v)
            pending = None
        if acct.qty:
            _intrabar(acct, cfg, t, o, h, lo, v)
            if acct.qty:
                acct.best = max(acct.best, h) if acct.qty > 0 else min(acct.best, lo)
        if targets[t] != active:
            if next_open:
                pending = targets[t]
            else:
                _rebalance(acct, cfg, t, targets[t], c, v)
            active = targets[t]
        equity.append(acct.cash + acct.qty * c)
        position.append(acct.qty)
    if cfg.close_at_end and acct.qty and bars:
        o, h, lo, c, v = bars[-1]
        _fill(acct, cfg, len(bars) - 1, -acct.qty, c, v, Reason.END_CLOSE)
        equity[-1], position[-1] = acct.cash, 0.0
    return ReferenceRun(equity, position, acct)
