"""Resting orders against OHLC bars: market, limit and stop orders with a documented path rule.

The rules (docs/backtesting.md, "Order intents"), shared by research and the paper venue:

- An order placed at bar t's close is live from bar t+1; a market order fills at t+1's open.
- A buy limit at P fills when the bar's low reaches P (a touch fills), at ``min(open, P)``: a gap
  below the limit fills at the better open. A sell limit mirrors it. Limits pay the maker fee and
  no slippage.
- A buy stop at S triggers when the high reaches S and fills at ``max(open, S)`` plus slippage: a
  gap through the stop fills at the worse open. A sell stop mirrors it. Stops and market orders
  pay the taker fee.
- Within one bar the price is assumed to travel open -> low -> high -> close when the bar closes
  at or above its open, and open -> high -> low -> close otherwise. Orders fill in the order the
  path reaches their prices (orders that the open already crosses first); ties keep placement
  order. An order placed in reaction to a fill is live from the next bar.
- Spot never borrows or shorts: a buy worth more than the cash is cut to what the cash affords
  (whole lots) and a sell larger than the position is cut to it; what is left below the min
  notional is rejected and counted. Quantities round down to the lot.
- ``expire_after=N``: an order not filled within N live bars is cancelled.
- Contingent orders, emulated here for venues that lack them (NautilusTrader's OrderEmulator
  does the same): ``oco="group"`` (one cancels the others: when an order of the group fills,
  the group's other orders are cancelled, also one the same bar would have filled later on its
  path) and ``after="tag"`` (one triggers the other: the order waits, not live, until the order
  ``tag`` fills, and is live from the next bar; it is dropped when ``tag`` is cancelled, expires
  or is rejected). An OTO bracket is an entry with a stop and a take profit ``after`` it in one
  ``oco`` group.

The live core matches with the same book: with a ``gate`` set, each execution the book decides
is sent (policy, journal, venue) instead of booked here, and the venue's fill is booked back
with :meth:`OrderBook.book` (live/order_keeper.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel
from drydock.types import Bar, Side

__all__ = [
    "CancelOrder",
    "Execution",
    "OrderBook",
    "OrderGate",
    "OrderKind",
    "PlaceOrder",
    "TradeLedger",
]


class OrderKind(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """A strategy's order: ``qty`` units, or ``notional`` in quote (sized at the fill price)."""

    tag: str
    side: Side
    kind: OrderKind = OrderKind.MARKET
    qty: float | None = None
    notional: float | None = None
    price: float | None = None  # limit or stop price
    expire_after: int | None = None  # live bars; None: good till cancelled
    oco: str | None = None  # one-cancels-other group
    after: str | None = None  # waits for the order with this tag to fill (one-triggers-other)

    def __post_init__(self) -> None:
        what = f"Order {self.tag!r}"
        if not self.tag or self.tag != self.tag.strip():
            raise ConfigError(
                f"{what}: a tag must be a non-empty name without padding, e.g. 'grid-3'."
            )
        if (self.qty is None) == (self.notional is None):
            raise ConfigError(f"{what}: give exactly one of qty (units) or notional (quote).")
        size = self.qty if self.qty is not None else self.notional
        if not (isinstance(size, int | float) and math.isfinite(size) and size > 0):
            raise ConfigError(f"{what}: size {size!r} must be a finite number > 0.")
        if self.kind is OrderKind.MARKET:
            if self.price is not None:
                raise ConfigError(f"{what}: a market order takes no price; use kind=limit.")
        elif not (
            isinstance(self.price, int | float) and math.isfinite(self.price) and self.price > 0
        ):
            raise ConfigError(
                f"{what}: a {self.kind} order needs a finite price > 0, got {self.price!r}."
            )
        for name in ("oco", "after"):
            value = getattr(self, name)
            if value is not None and (not value or value != value.strip()):
                raise ConfigError(
                    f"{what}: {name}={value!r} must be a non-empty name without padding."
                )
        if self.after == self.tag:
            raise ConfigError(f"{what}: an order cannot wait for itself (after={self.after!r}).")
        if self.expire_after is not None and self.expire_after < 1:
            raise ConfigError(f"{what}: expire_after={self.expire_after!r} must be >= 1 bar.")


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel the live order with ``tag`` (``"*"``: every live order)."""

    tag: str


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill: which order, signed units, price after slippage, fee, and its kind."""

    bar: int
    tag: str
    qty: float  # signed: + bought, - sold
    price: float
    fee: float
    kind: OrderKind


#: ``gate(bar, order, signed qty, price before slippage, fill price, fee)``: sends the
#: execution the book decided and returns what the venue filled (booked with
#: :meth:`OrderBook.book`), or None when nothing filled.
OrderGate = Callable[[int, "PlaceOrder", float, float, float, float], "Execution | None"]


@dataclass(slots=True)
class _Live:
    order: PlaceOrder
    seq: int
    since: int  # first bar the order is live


@dataclass
class OrderBook:
    """Cash, one instrument's position and its live orders, matched bar by bar."""

    execution: ExecutionModel
    lot_size: float = 1e-8
    min_notional: float = 0.0
    cash: float = field(init=False)
    position: float = field(init=False, default=0.0)
    live: dict[str, _Live] = field(init=False, default_factory=dict)
    #: Orders waiting for their ``after`` order to fill, by that order's tag.
    waiting: dict[str, list[PlaceOrder]] = field(init=False, default_factory=dict)
    rejected: int = field(init=False, default=0)
    expired: int = field(init=False, default=0)
    gate: OrderGate | None = field(default=None, repr=False)
    _seq: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.cash = self.execution.init_cash

    def place(self, order: PlaceOrder, bar: int) -> None:
        """Queue ``order`` (decided at ``bar``'s close); it is live from ``bar + 1``."""
        if order.tag in self.live or any(
            order.tag == w.tag for kids in self.waiting.values() for w in kids
        ):
            raise ConfigError(
                f"Order tag {order.tag!r} is already live; cancel it first or use another tag."
            )
        if order.after is not None:
            parent = order.after
            if parent not in self.live and parent not in self._waiting_tags():
                raise ConfigError(
                    f"Order {order.tag!r} waits for {parent!r}, which is not live; place "
                    f"{parent!r} first (in the same answer) or drop after=."
                )
            self.waiting.setdefault(parent, []).append(order)
            return
        self._seq += 1
        self.live[order.tag] = _Live(order, self._seq, bar + 1)

    def _waiting_tags(self) -> set[str]:
        return {w.tag for kids in self.waiting.values() for w in kids}

    def _drop_children(self, tag: str) -> None:
        """``tag`` will never fill: its waiting orders (and theirs) go with it."""
        for child in self.waiting.pop(tag, []):
            self._drop_children(child.tag)

    def _filled(self, t: int, order: PlaceOrder) -> None:
        """After ``order`` filled: cancel its OCO siblings, release the orders waiting for it
        (live from the next bar)."""
        if order.oco is not None:
            for tag in [k for k, v in self.live.items() if v.order.oco == order.oco]:
                del self.live[tag]
                self._drop_children(tag)
        for child in self.waiting.pop(order.tag, []):
            self._seq += 1
            self.live[child.tag] = _Live(child, self._seq, t + 1)

    def take(self, intents: Iterable[PlaceOrder | CancelOrder], bar: int, owner: str) -> None:
        """Apply a strategy's answer at ``bar``'s close: each PlaceOrder queued, each
        CancelOrder done; anything else is one error naming ``owner`` and the fix."""
        for intent in intents:
            if isinstance(intent, CancelOrder):
                self.cancel(intent.tag)
            elif isinstance(intent, PlaceOrder):
                self.place(intent, bar)
            else:
                raise TypeError(
                    f"Strategy {owner!r} returned {intent!r}; return PlaceOrder or CancelOrder "
                    "objects."
                )

    def cancel(self, tag: str) -> bool:
        """Cancel one live order (or all with ``"*"``); whether anything was cancelled."""
        if tag == "*":
            had = bool(self.live) or bool(self.waiting)
            self.live.clear()
            self.waiting.clear()
            return had
        for kids in self.waiting.values():  # a waiting order can be cancelled too
            for child in kids:
                if child.tag == tag:
                    kids.remove(child)
                    self._drop_children(tag)
                    return True
        cancelled = self.live.pop(tag, None) is not None
        self._drop_children(tag)
        return cancelled

    def match(self, t: int, bar: Bar) -> list[Execution]:
        """Fill the orders ``bar`` (index ``t``) reaches, in path order; expire stale ones."""
        due: list[tuple[int, float, int, _Live]] = []
        bullish = bar.close >= bar.open
        for live in self.live.values():
            if live.since > t:
                continue
            hit = _trigger(live.order, bar, bullish)
            if hit is not None:
                stage, at = hit
                # Stage 0: at the open (placement order); 1 and 2: the first and second leg.
                # A falling leg reaches higher prices first, a rising leg lower ones.
                falling = (stage == 1) == bullish
                key = 0.0 if stage == 0 else (-at if falling else at)
                due.append((stage, key, live.seq, live))
        due.sort(key=lambda d: d[:3])
        fills = []
        for _, _, _, live in due:
            order = live.order
            if self.live.get(order.tag) is not live:  # an OCO sibling filled first
                continue
            del self.live[order.tag]
            fill = self._fill(t, order, _fill_price(order, bar))
            if fill is not None:
                fills.append(fill)
                self._filled(t, order)
            else:
                self._drop_children(order.tag)
        for tag, live in list(self.live.items()):
            after = live.order.expire_after
            if after is not None and t - live.since + 1 >= after:
                del self.live[tag]
                self._drop_children(tag)
                self.expired += 1
        return fills

    def _fill(self, t: int, order: PlaceOrder, price: float) -> Execution | None:
        e = self.execution
        buy = order.side is Side.BUY
        maker = order.kind is OrderKind.LIMIT
        px = price if maker else e.slipped_price(price, buy)
        fee_rate = e.maker_fee if maker else e.taker_fee
        qty = order.qty if order.qty is not None else order.notional / px  # type: ignore[operator]
        if buy:
            affordable = (self.cash - e.fixed_fee) / (px * (1 + fee_rate))
            qty = min(qty, max(affordable, 0.0))
        else:
            qty = min(qty, max(self.position, 0.0))
        qty = math.floor(qty / self.lot_size * (1 + 1e-12) + 1e-9) * self.lot_size
        if qty <= 0 or qty * px < self.min_notional:
            self.rejected += 1
            return None
        fee = qty * px * fee_rate + e.fixed_fee
        signed = qty if buy else -qty
        if self.gate is not None:
            return self.gate(t, order, signed, price, px, fee)
        return self.book(t, order, signed, px, fee)

    def book(self, t: int, order: PlaceOrder, signed: float, px: float, fee: float) -> Execution:
        """Book one fill of ``order``: cash and position; the execution the strategy sees."""
        self.cash -= signed * px + fee
        self.position += signed
        if abs(self.position) < 1e-12 * max(abs(signed), 1.0):
            self.position = 0.0
        return Execution(t, order.tag, signed, px, fee, order.kind)


def _trigger(order: PlaceOrder, bar: Bar, bullish: bool) -> tuple[int, float] | None:
    """(path stage, price) where ``bar`` reaches ``order``, or None if it does not."""
    if order.kind is OrderKind.MARKET:
        return (0, bar.open)
    p = order.price
    assert p is not None
    buy = order.side is Side.BUY
    falls_to = order.kind is OrderKind.LIMIT if buy else order.kind is OrderKind.STOP
    if falls_to:  # needs the price to come down to p: buy limit, sell stop
        if bar.open <= p:
            return (0, bar.open)
        if bar.low > p:
            return None
        return (1 if bullish else 2, p)
    if bar.open >= p:  # needs the price to rise to p: sell limit, buy stop
        return (0, bar.open)
    if bar.high < p:
        return None
    return (2 if bullish else 1, p)


def _fill_price(order: PlaceOrder, bar: Bar) -> float:
    """The price before slippage: the open on a gap or a market order, else the order's price."""
    if order.kind is OrderKind.MARKET:
        return bar.open
    p = order.price
    assert p is not None
    buy = order.side is Side.BUY
    if order.kind is OrderKind.LIMIT:
        return min(bar.open, p) if buy else max(bar.open, p)
    return max(bar.open, p) if buy else min(bar.open, p)


class TradeLedger:
    """Average entry and closed-trade PnL (fees in) of one long-only position, from fills."""

    def __init__(self) -> None:
        self.qty = self.avg = self.pnl = 0.0
        self.closed: list[float] = []

    def add(self, fill: Execution) -> None:
        if fill.qty > 0:
            if self.qty == 0:
                self.pnl = 0.0
            self.avg = (self.avg * self.qty + fill.price * fill.qty) / (self.qty + fill.qty)
            self.qty += fill.qty
            self.pnl -= fill.fee
            return
        sold = -fill.qty
        self.pnl += sold * (fill.price - self.avg) - fill.fee
        self.qty -= sold
        if self.qty <= 1e-12 * sold:
            self.closed.append(self.pnl)
            self.qty = self.avg = self.pnl = 0.0
