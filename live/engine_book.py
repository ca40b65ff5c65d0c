"""A run's account kept by the shared execution model (drydock.fills), every order sent for real.

The research engine's model decides what to trade on each bar: the target at the next open
(shorts, fractions and leverage up to its cap), a capped order's remainder, and the exits it
manages for every position (stop loss, trailing stop with its activation, take profit, the
scale-out ladder, the end-of-run rule). Here its account carries a gate: each order it decides
becomes a journaled decision of the policy engine and, if allowed, an order to the venue; only
the venue's fills are booked back (:func:`drydock.fills.book_fill`). So a paper run over history
trades what the engine trades, fill for fill, while a denial, a venue rejection or a partial fill
leaves the model holding what the venue really holds.

An exit that triggers inside a bar is emulated by the core, as NautilusTrader's OrderEmulator
does for venues without native stops: when the bar reveals the level, the exit is released as a
market order at that level (the simulated venue is moved to it: the rest of the bar opens
there). A denied or failed exit is tried again on the next bar while its level stays breached
(then at that bar's open).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from drydock.fills import Account, EngineConfig, Reason, Stepper, book_fill
from drydock.types import Bar, Fill, Position, Side

#: Sends one sized order: (order index within the bar, side, quantity, reference price, the bar
#: the order belongs to, the bar as the simulated venue should see it, why it was sent, its kind:
#: market, limit or stop[, its symbol when the run holds several]).
Send = Callable[..., None]


def _dec(value: float) -> Decimal:
    """A float as the shortest Decimal that reads back as it (0.1 -> Decimal('0.1'))."""
    return Decimal(repr(float(value)))


def whole_lots(qty: float, lot: Decimal) -> Decimal:
    """|``qty``| as the nearest whole number of lots: a model's quantities are whole lots up to
    float residue (a position summed from fills), and the venue takes whole lots."""
    return round(abs(qty) / float(lot)) * lot


class EngineBook:
    """The run's book as the replay reads it (cash, signed quantity, trades, equity, position),
    kept by the shared model with every order going out through ``send``."""

    def __init__(self, strategy_id: str, symbol: str, config: EngineConfig) -> None:
        self.strategy_id, self.symbol, self.config = strategy_id, symbol, config
        self.stepper = Stepper(config)
        self.acct: Account = self.stepper.acct
        self.acct.gate = self._gate
        self.send: Send | None = None  # set by the session before the first bar
        self._bar: Bar | None = None
        self._index = 0  # model bar index of the bar being stepped
        self._seq = 0  # orders sent for the current bar (part of their client order id)
        self._booking: tuple[int, Reason] = (0, Reason.SIGNAL)
        self._lot = _dec(config.lot_size)
        #: Funding rates by bar open time, (stamped at the open, stamped inside the bar), for a
        #: perpetual (:func:`drydock.funding.split_funding`); empty for spot.
        self.funding: dict[datetime, tuple[float, float]] = {}
        #: The run had no rules: the spot 0/1 book of a plain target strategy (its targets are
        #: checked as spot 0/1 and its open orders keep the spot book's client order ids).
        self.spot_default = False
        #: When the order due at the next open was decided (the intent's time: the bar whose
        #: close, or the event whose arrival, changed the target); its client order id's time.
        self.decided: datetime | None = None
        self._prev_ts: datetime | None = None
        self._opening = False
        #: Counted into the run's counts: a due order that traded nothing, below min notional.
        self.skipped = 0
        self.below_min_notional = 0
        rules = (config.stop_loss, config.trailing_stop, config.take_profit,
                 config.maintenance_margin)  # fmt: skip
        #: Whether a held position can trade inside a bar (exits the core manages).
        self.manages_exits = any(r is not None for r in rules) or bool(config.scale_out)

    # -- the Book surface the replay reads ---------------------------------------------------

    @property
    def cash(self) -> Decimal:
        return _dec(self.acct.cash)

    @property
    def qty(self) -> Decimal:
        return _dec(self.acct.qty)

    @property
    def trade_pnl(self) -> list[float]:
        return self.acct.trades

    def equity(self, price: float | Decimal) -> Decimal:
        """Cash plus the signed position marked at ``price``."""
        return _dec(self.acct.cash + self.acct.qty * float(price))

    def position(self) -> Position:
        return Position(self.strategy_id, self.symbol, self.qty, _dec(self.acct.entry))

    def apply(self, fill: Fill) -> None:
        """Book one venue fill of the order being sent (its reason and bar)."""
        bar, reason = self._booking
        signed = float(fill.qty) if fill.side is Side.BUY else -float(fill.qty)
        book_fill(self.acct, bar, signed, float(fill.price), float(fill.fee), reason)

    # -- stepping ----------------------------------------------------------------------------

    def fund(self, ts: Any, funding: Any) -> None:
        """Book the perpetual's ``funding`` (ts, rate) at the bars opening at ``ts`` (added to
        what earlier calls gave: a runner funds each batch of new bars)."""
        from drydock.funding import split_funding

        at_open, inside = split_funding(ts, funding)
        self.funding.update(
            (t, (float(a), float(b)))
            for t, a, b in zip(ts.to_list(), at_open, inside, strict=True)
            if a or b
        )

    @property
    def busy(self) -> bool:
        """Whether the next bar can trade without a new target: a position (its exits), an
        order due at the open or a capped order's remainder."""
        held = bool(self.acct.qty) and (self.manages_exits or bool(self.funding))
        return held or self.stepper.pending is not None or self.acct.goal is not None

    def open(self, index: int, bar: Bar) -> None:
        """Bar ``index`` up to its close: the order due at its open, then the exits it reveals."""
        self._bar, self._index, self._seq = bar, index, 0
        at_open, inside = self.funding.get(bar.ts, (0.0, 0.0))
        row = (bar.open, bar.high, bar.low, bar.close, bar.volume)
        due = self.stepper.pending is not None
        sent, rejected = self._seq, self.acct.rejected
        self._opening = True
        try:
            self.stepper.at_open(index, row, at_open, inside)
        finally:
            self._opening = False
        if due and self._seq == sent:  # the due order traded nothing (at target, or too small)
            self.skipped += 1
            self.below_min_notional += self.acct.rejected - rejected
        self.stepper.inside(index, row)
        self._prev_ts, self.decided = bar.ts, None

    def close(self, index: int, bar: Bar, target: float) -> float:
        """The target decided at ``bar``'s close; the equity marked there."""
        return self.stepper.close(index, (bar.open, bar.high, bar.low, bar.close, bar.volume),
                                  target)  # fmt: skip

    @property
    def last_close(self) -> float | None:
        """The close of the last bar stepped (None before the first)."""
        return None if self._bar is None else self._bar.close

    def finish(self) -> bool:
        """The engine's end-of-run rule at the last bar stepped; whether it sent a close."""
        bar = self._bar
        if bar is None:
            return False
        return self.stepper.end(self._index, (bar.open, bar.high, bar.low, bar.close, bar.volume))

    def _gate(self, acct: Account, index: int, delta: float, price: float, px: float,
              fee: float, reason: Reason) -> None:  # fmt: skip
        """The model decided an order: send it (policy, journal, venue); fills book back."""
        bar, send = self._bar, self.send
        if bar is None or send is None:
            raise RuntimeError("EngineBook stepped outside a session (no bar or no send)")
        qty = whole_lots(delta, self._lot)
        if qty == 0:
            return
        seq, self._seq = self._seq, self._seq + 1
        at = bar if price == bar.open else replace(bar, open=price)
        self._booking = (index, reason)
        side = Side.BUY if delta > 0 else Side.SELL
        before = acct.qty
        # An order at the open carries the time it was decided in its client order id (the
        # spot book's ids: a run resumed across versions never sends an order twice); an exit
        # released inside the bar, its index in the bar.
        decided = (self.decided or self._prev_ts) if self._opening else None
        # a liquidation is a market order a paper venue charges the liquidation fee on
        kind = "liquidation" if reason is Reason.LIQUIDATION else "market"
        send(seq, side, qty, _dec(price), bar, at, reason, kind, None, decided)
        missed = abs(acct.qty - (before + delta)) > float(self._lot) / 2  # float residue aside
        if before and (delta > 0) != (before > 0) and missed:
            # an exit got no fill or a part of one: the model works towards the position it
            # aimed at from the next open, as a capped order's remainder. Only the exit is
            # worked: a reversal's new side is an entry (a missed entry is missed), and
            # retrying it would re-send a size computed from a stale price and equity.
            aimed = before + delta
            acct.goal = aimed if aimed and (aimed > 0) == (before > 0) else 0.0
            acct.goal_reason = reason
