"""The execution model as a plain Python loop: the readable statement of docs/backtesting.md.

It shares no code with the numba kernel beyond the config; the conformance suite runs both on
hand-built scenarios and on real data and requires the same fills, equity and trades. The live
core steps the same model bar by bar (:class:`Stepper`) with a ``gate`` on the account: every
order the model decides goes through the gate (policy, journal, venue) instead of filling here,
and the venue's fills are booked back with :func:`book_fill`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from drydock.fills.model import EndRule, EngineConfig, Reason, floor_lots

__all__ = [
    "Account",
    "Gate",
    "ReferenceRun",
    "Stepper",
    "book_fill",
    "simulate",
]

#: ``gate(account, bar, delta, price, fill_price, fee, reason)``: sends the order the model
#: decided (``delta`` units at the reference ``price``; the model's own ``fill_price`` and
#: ``fee``) and books what filled with :func:`book_fill` (nothing when it was denied or failed).
Gate = Callable[["Account", int, float, float, float, float, "Reason"], None]


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
    capped: int = 0  # orders cut by max_participation
    goal: float | None = None  # position (units) an order capped by participation still works to
    goal_reason: Reason = Reason.SIGNAL
    ruined_at: int = -1  # bar where equity fell to <= 0 (no orders after it); -1: never
    gate: Gate | None = None  # the live core's order path; None: fill here (research)

    @property
    def side(self) -> float:
        return math.copysign(1.0, self.qty) if self.qty else 0.0

    @property
    def ruined(self) -> bool:
        return self.ruined_at >= 0


@dataclass
class ReferenceRun:
    equity: list[float]
    position: list[float]
    account: Account


def _lots(qty: float, lot: float) -> float:
    return floor_lots(qty, lot)


def _fill_price(cfg: EngineConfig, delta: float, price: float, volume: float) -> float:
    """A market order's fill price: ``price`` slipped adversely (fixed bps plus volume impact)."""
    frac = cfg.execution.slippage + (
        cfg.impact * math.sqrt(abs(delta) / volume) if cfg.impact and volume > 0 else 0.0
    )
    return price * (1 + frac) if delta > 0 else price * (1 - frac)


def _buy_cost(cfg: EngineConfig, qty: float, price: float, volume: float) -> float:
    """Cash a buy of ``qty`` takes at ``price``: the slipped (impact included) notional and the
    percentage fee (the fixed fee is left to the caller)."""
    return qty * _fill_price(cfg, qty, price, volume) * (1 + cfg.execution.taker_fee)


def _affordable(cfg: EngineConfig, cash: float, price: float, volume: float) -> float:
    """The most whole lots a spot buy can pay for with ``cash``, slippage, volume impact and fees
    included: it never borrows."""
    e = cfg.execution
    budget = cash - e.fixed_fee
    if budget <= 0:
        return 0.0
    q = budget / ((1 + e.taker_fee) * (price * (1 + e.slippage)))
    if cfg.impact > 0 and volume > 0:
        # The cost is convex and increasing in q; Newton from the impact-free size (above the
        # root) walks down to it.
        for _ in range(60):
            root = math.sqrt(q / volume)
            cost = q * price * (1 + e.slippage + cfg.impact * root) * (1 + e.taker_fee)
            slope = price * (1 + e.slippage + 1.5 * cfg.impact * root) * (1 + e.taker_fee)
            step = (cost - budget) / slope
            if not step > 1e-15 * q:
                break
            q -= step
    q = _lots(q, cfg.lot_size)
    # Float residue beyond a relative 1e-12 (the lot slack's own size): one lot less.
    while q > 0 and _buy_cost(cfg, q, price, volume) > budget * (1 + 1e-12):
        q = _lots(q - cfg.lot_size, cfg.lot_size)
    return q


def _ruin_check(acct: Account, bar: int) -> None:
    if acct.qty == 0 and acct.cash <= 0 and not acct.ruined:
        acct.ruined_at = bar


def _fill(acct: Account, cfg: EngineConfig, bar: int, delta: float, price: float,
          volume: float, reason: Reason) -> None:  # fmt: skip
    e = cfg.execution
    px = _fill_price(cfg, delta, price, volume)
    rate = e.taker_fee + (cfg.liquidation_fee if reason is Reason.LIQUIDATION else 0.0)
    fee = abs(delta) * px * rate + e.fixed_fee
    if acct.gate is not None:
        acct.gate(acct, bar, delta, price, px, fee, reason)
        return
    book_fill(acct, bar, delta, px, fee, reason)


def book_fill(acct: Account, bar: int, delta: float, px: float, fee: float,
              reason: Reason) -> None:  # fmt: skip
    """Book one fill of ``delta`` units at ``px`` paying ``fee``: cash, position, average entry,
    trade PnL and the closed trades."""
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
    _ruin_check(acct, bar)


def _send(acct: Account, cfg: EngineConfig, bar: int, delta: float, goal: float, price: float,
          volume: float, reason: Reason, check_min: bool) -> None:  # fmt: skip
    """Send the order ``delta`` (whole lots) towards the position ``goal``: cut to
    ``max_participation`` of the bar's volume (the rest is worked at the next opens), rejected
    below the min notional at the fill price when ``check_min``."""
    acct.goal = None
    cap = cfg.max_participation
    if cap is not None and volume > 0 and abs(delta) > cap * volume:
        delta = math.copysign(_lots(cap * volume, cfg.lot_size), delta)
        acct.capped += 1
        acct.goal, acct.goal_reason = goal, reason
    if delta == 0:
        return
    if check_min and abs(delta) * _fill_price(cfg, delta, price, volume) < cfg.min_notional:
        acct.rejected += 1  # at the fill price; a remainder is dropped with it
        acct.goal = None
        return
    _fill(acct, cfg, bar, delta, price, volume, reason)


def _order(acct: Account, cfg: EngineConfig, bar: int, delta: float, price: float,
           volume: float, reason: Reason) -> None:  # fmt: skip
    """A signal order (or a capped order's remainder): closing what is held goes as it is (no
    dust from rounding); otherwise a spot buy is cut to the cash, the order rounded down to whole
    lots and sent towards the position it then aims at."""
    goal = 0.0
    if delta != -acct.qty:
        if cfg.leverage <= 1 and delta > 0:  # spot: a buy never borrows cash
            delta = min(delta, _affordable(cfg, acct.cash, price, volume))
        delta = math.copysign(_lots(abs(delta), cfg.lot_size), delta) if delta else 0.0
        goal = acct.qty + delta
    if delta == 0:
        acct.goal = None
        return
    _send(acct, cfg, bar, delta, goal, price, volume, reason,
          reason in (Reason.SIGNAL, Reason.SCALE_OUT))  # fmt: skip


def _rebalance(acct: Account, cfg: EngineConfig, bar: int, target: float, price: float,
               volume: float) -> None:  # fmt: skip
    acct.goal = None
    if acct.ruined:
        return
    if target == 0:
        _order(acct, cfg, bar, -acct.qty, price, volume, Reason.SIGNAL)
        return
    equity = acct.cash + acct.qty * price
    if equity <= 0:  # nothing left to size from: ruined; what is held is liquidated
        acct.ruined_at = bar
        if acct.qty:
            _fill(acct, cfg, bar, -acct.qty, price, volume, Reason.LIQUIDATION)
            acct.liquidations += 1
        return
    _order(acct, cfg, bar, target * equity / price - acct.qty, price, volume, Reason.SIGNAL)


def _work(acct: Account, cfg: EngineConfig, bar: int, price: float, volume: float) -> None:
    """The next slice of an order cut by ``max_participation``, at this bar's open."""
    goal, reason = acct.goal, acct.goal_reason
    if goal is None or (reason is Reason.SIGNAL and acct.ruined):
        acct.goal = None
        return
    _order(acct, cfg, bar, -acct.qty if goal == 0 else goal - acct.qty, price, volume, reason)


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


def _exit_all(acct: Account, cfg: EngineConfig, bar: int, at: float, volume: float,
              reason: Reason) -> None:  # fmt: skip
    if reason is Reason.LIQUIDATION:  # the venue's liquidation engine is not volume-capped
        acct.goal = None
        _fill(acct, cfg, bar, -acct.qty, at, volume, reason)
        acct.liquidations += 1
    else:
        _send(acct, cfg, bar, -acct.qty, 0.0, at, volume, reason, False)


def _favourable(acct: Account, cfg: EngineConfig, bar: int, o: float, extreme: float,
                volume: float) -> None:  # fmt: skip
    """Scale-out levels, then take profit, reached by ``extreme`` (each at its level, or at the
    open if the bar opened beyond it)."""
    s = acct.side
    n = len(cfg.scale_out)
    full = n > 0 and sum(f for _, f in cfg.scale_out) >= 1 - 1e-12
    while acct.ladder_next < n and acct.qty:
        gain, share = cfg.scale_out[acct.ladder_next]
        level = acct.entry * (1 + s * gain)
        if s * (extreme - level) < 0:
            break
        at = o if s * (o - level) >= 0 else level
        carried = acct.goal is not None and acct.goal_reason is not Reason.SIGNAL
        base = acct.goal if carried and acct.goal is not None else acct.qty
        last = full and acct.ladder_next == n - 1  # the last slice closes what remains
        part = abs(base) if last else min(_lots(share * acct.entry_qty, cfg.lot_size), abs(base))
        acct.ladder_next += 1
        if part <= 0:
            continue
        keep = (acct.entry_qty, acct.ladder_next)
        goal = 0.0 if last else base - s * part
        delta = -acct.qty if last else (base - acct.qty) - s * part
        _send(acct, cfg, bar, delta, goal, at, volume, Reason.SCALE_OUT, True)
        acct.entry_qty, acct.ladder_next = keep
    if acct.qty and cfg.take_profit is not None:
        level = acct.entry * (1 + s * cfg.take_profit)
        if s * (extreme - level) >= 0:
            _exit_all(acct, cfg, bar, o if s * (o - level) >= 0 else level, volume,
                      Reason.TAKE_PROFIT)  # fmt: skip


def _intrabar(acct: Account, cfg: EngineConfig, bar: int, o: float, h: float, lo: float,
              volume: float) -> None:  # fmt: skip
    """Exits in the order the bar reveals them: an adverse gap at the open; favourable levels the
    open already passed (they fill at the open, before anything inside the bar); adverse levels
    touched inside the bar (assumed before any favourable one: pessimistic); then favourable
    levels touched inside the bar."""
    s = acct.side
    adverse = _adverse_level(acct, cfg)
    if adverse is not None and (o <= adverse[0] if s > 0 else o >= adverse[0]):
        _exit_all(acct, cfg, bar, o, volume, adverse[1])
        return
    _favourable(acct, cfg, bar, o, o, volume)
    if not acct.qty or acct.side != s:
        return
    adverse = _adverse_level(acct, cfg)
    if adverse is not None and (lo <= adverse[0] if s > 0 else h >= adverse[0]):
        _exit_all(acct, cfg, bar, adverse[0], volume, adverse[1])
        return
    _favourable(acct, cfg, bar, o, h if s > 0 else lo, volume)


class Stepper:
    """The model one bar at a time: funding at the open, the order decided at the previous close
    (or a capped order's next slice), exits inside the bar, then the bar's target."""

    def __init__(self, cfg: EngineConfig, acct: Account | None = None) -> None:
        self.cfg = cfg
        self.acct = acct if acct is not None else Account(cfg.execution.init_cash)
        self.next_open = cfg.execution.fill.value == "next_open"
        self.active = 0.0  # the target in force
        self.pending: float | None = None  # a target decided at a close, due at the next open

    def _fund(self, o: float, rate: float) -> None:
        acct = self.acct
        if rate and acct.qty:
            paid = acct.qty * o * rate
            acct.cash -= paid
            acct.trade_pnl -= paid
            acct.funding_paid += paid

    def open(self, t: int, bar: tuple[float, float, float, float, float],
             rate_open: float = 0.0, rate_inside: float = 0.0) -> None:  # fmt: skip
        """Bar ``t`` up to its close: :meth:`at_open`, then :meth:`inside`."""
        self.at_open(t, bar, rate_open, rate_inside)
        self.inside(t, bar)

    def at_open(self, t: int, bar: tuple[float, float, float, float, float],
                rate_open: float = 0.0, rate_inside: float = 0.0) -> None:  # fmt: skip
        """Funding stamped at the open (on the position held into it), the pending order or a
        capped remainder at the open, funding stamped inside the bar (on the position held
        after the open)."""
        acct, cfg = self.acct, self.cfg
        o, _h, _lo, _c, v = bar
        self._fund(o, rate_open)
        if self.pending is not None:
            pending, self.pending = self.pending, None
            _rebalance(acct, cfg, t, pending, o, v)
        elif acct.goal is not None:
            _work(acct, cfg, t, o, v)
        self._fund(o, rate_inside)

    def inside(self, t: int, bar: tuple[float, float, float, float, float]) -> None:
        """The exits the bar's range reveals, then the best price since entry."""
        acct, cfg = self.acct, self.cfg
        o, h, lo, _c, v = bar
        if acct.qty:
            _intrabar(acct, cfg, t, o, h, lo, v)
            if acct.qty:
                acct.best = max(acct.best, h) if acct.qty > 0 else min(acct.best, lo)

    def close(self, t: int, bar: tuple[float, float, float, float, float],
              target: float) -> float:  # fmt: skip
        """Bar ``t``'s target, decided at its close (due at the next open, or filled at this
        close under ``fill=close``); the equity marked at the close."""
        if target != self.active:
            if self.next_open:
                self.pending = target
            else:
                _rebalance(self.acct, self.cfg, t, target, bar[3], bar[4])
            self.active = target
        return self.acct.cash + self.acct.qty * bar[3]

    def end(self, t: int, bar: tuple[float, float, float, float, float]) -> bool:
        """Apply the end-of-run rule at the last bar ``t``; whether it closed a position."""
        end = self.cfg.end_rule
        if end is EndRule.MARK or not self.acct.qty:
            return False
        o, _h, _lo, c, v = bar
        _fill(self.acct, self.cfg, t, -self.acct.qty, o if end is EndRule.OPEN else c, v,
              Reason.END_CLOSE)  # fmt: skip
        return True


def simulate(
    bars: list[tuple[float, float, float, float, float]],
    targets: list[float],
    cfg: EngineConfig,
    funding: list[float] | None = None,
    funding_inside: list[float] | None = None,
) -> ReferenceRun:
    """Run the model over ``bars`` of (open, high, low, close, volume) tuples; ``funding`` holds
    the rate due at each bar's open, ``funding_inside`` the rate of stamps inside each bar."""
    stepper = Stepper(cfg)
    equity, position = [], []
    for t, bar in enumerate(bars):
        stepper.open(t, bar, funding[t] if funding else 0.0,
                     funding_inside[t] if funding_inside else 0.0)  # fmt: skip
        equity.append(stepper.close(t, bar, targets[t]))
        position.append(stepper.acct.qty)
    if bars and stepper.end(len(bars) - 1, bars[-1]):
        equity[-1], position[-1] = stepper.acct.cash, 0.0
    return ReferenceRun(equity, position, stepper.acct)
