"""The portfolio model as a plain Python loop: the readable statement of its semantics.

Per bar t: (1) funding due at t's open is charged on each position held into it; (2) weights
queued at t-1's close are traded at t's open (``next_open``); (2b) funding stamped inside the bar
is charged on the positions held after that; (3) equity is marked at the close;
(4) if the weights changed at t's close (or ``rebalance_every`` bars passed since the last
rebalance decision) a rebalance is queued (or, with ``close`` fills, done at the close).

A rebalance at prices p: equity E = cash + sum(q_j p_j); each asset's order is
``w_j E / p_j - q_j`` rounded down to its lot (a weight of 0 closes the whole position); orders
towards a non-zero weight worth less than ``min_trade_value`` are skipped (the band); sells run
first, in asset order, then buys. A spot portfolio (leverage 1) never borrows: when the buys
with fees and slippage cost more than the cash, every buy is scaled by the same factor and
rounded down to its lot again. An order whose notional at the fill price (after slippage) is
below its asset's min notional is rejected and counted. A rebalance that finds equity <= 0
(leverage losses) ruins the book: its positions are liquidated at those prices and it trades no
more (sizing from negative equity would invert every weight).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from drydock.fills.model import Reason, floor_lots
from drydock.fills.portfolio_model import PortfolioConfig

__all__ = ["Book", "PortfolioGate", "PortfolioRun", "PortfolioStepper", "book_fill", "simulate"]

#: ``gate(book, bar, asset, delta, price, fill_price, fee, reason)``: sends the order the model
#: decided for asset ``asset`` and books what filled with :func:`book_fill` (the live core).
PortfolioGate = Callable[["Book", int, int, float, float, float, float, Reason], None]


def _lots(qty: float, lot: float) -> float:
    # Relative slack: 5.1 - 5 = 0.09999999999999964 is 0.1 in lots of 1e-8, not 0.09999999.
    return floor_lots(qty, lot)


def _fill_price(cfg: PortfolioConfig, delta: float, price: float) -> float:
    e = cfg.execution
    return price * (1 + e.slippage) if delta > 0 else price * (1 - e.slippage)


@dataclass
class Book:
    """Shared cash, each asset's position and its open trade's bookkeeping."""

    cash: float
    qty: list[float]
    entry: list[float]
    trade_pnl: list[float]
    orders: list[tuple[int, int, float, float, float, Reason]] = field(default_factory=list)
    trades: list[tuple[int, float]] = field(default_factory=list)
    rejected: int = 0
    skipped: int = 0
    funding_paid: float = 0.0
    ruined_at: int = -1  # bar where a rebalance found equity <= 0 (no orders after it)
    gate: PortfolioGate | None = None  # the live core's order path; None: fill here

    def value(self, prices: Sequence[float]) -> float:
        total = self.cash  # summed in asset order, as the kernel does
        for q, p in zip(self.qty, prices, strict=True):
            total += q * p
        return total


@dataclass
class PortfolioRun:
    equity: list[float]
    positions: list[list[float]]
    book: Book


def _fill(book: Book, cfg: PortfolioConfig, bar: int, j: int, delta: float, price: float,
          reason: Reason) -> None:  # fmt: skip
    e = cfg.execution
    px = _fill_price(cfg, delta, price)
    fee = abs(delta) * px * e.taker_fee + e.fixed_fee
    if book.gate is not None:
        book.gate(book, bar, j, delta, price, px, fee, reason)
        return
    book_fill(book, bar, j, delta, px, fee, reason)


def book_fill(book: Book, bar: int, j: int, delta: float, px: float, fee: float,
              reason: Reason) -> None:  # fmt: skip
    """Book one fill of asset ``j``: shared cash, its position, entry and trade PnL."""
    book.cash -= delta * px + fee
    book.orders.append((bar, j, delta, px, fee, reason))
    qty = book.qty[j]
    new = qty + delta
    if qty == 0:
        book.entry[j], book.trade_pnl[j] = px, -fee
    elif (delta > 0) == (qty > 0):
        book.entry[j] = (book.entry[j] * abs(qty) + px * abs(delta)) / abs(new)
        book.trade_pnl[j] -= fee
    else:
        side = 1.0 if qty > 0 else -1.0
        closed = min(abs(delta), abs(qty))
        share = closed / abs(delta)
        book.trade_pnl[j] += closed * (px - book.entry[j]) * side - fee * share
        if abs(delta) >= abs(qty) - 1e-12 * abs(qty):
            book.trades.append((j, book.trade_pnl[j]))
            if abs(new) > 1e-12 * abs(qty):
                book.entry[j], book.trade_pnl[j] = px, -fee * (1 - share)
            else:
                new, book.entry[j], book.trade_pnl[j] = 0.0, 0.0, 0.0
    book.qty[j] = new


def _rebalance(book: Book, cfg: PortfolioConfig, bar: int, weights: Sequence[float],
               prices: Sequence[float]) -> None:  # fmt: skip
    e = cfg.execution
    k = len(prices)
    lots, mins = cfg.lots(k), cfg.min_notionals(k)
    if book.ruined_at >= 0:
        return
    equity = book.value(prices)
    if equity <= 0:  # ruined: what is held is liquidated, and nothing trades after it
        book.ruined_at = bar
        for j in range(k):
            if book.qty[j]:
                _fill(book, cfg, bar, j, -book.qty[j], prices[j], Reason.LIQUIDATION)
        return
    deltas = []
    for j in range(k):
        if weights[j] == 0:
            delta = -book.qty[j]
        else:
            raw = weights[j] * equity / prices[j] - book.qty[j]
            delta = math.copysign(_lots(abs(raw), lots[j]), raw) if raw else 0.0
            if delta and abs(delta) * prices[j] < cfg.min_trade_value:
                book.skipped += 1
                delta = 0.0
        deltas.append(delta)
    for j in range(k):
        if deltas[j] < 0:  # min notional at the fill price (after slippage), as the paper venue
            if -deltas[j] * _fill_price(cfg, deltas[j], prices[j]) < mins[j]:
                book.rejected += 1
            else:
                _fill(book, cfg, bar, j, deltas[j], prices[j], Reason.SIGNAL)
    if cfg.leverage <= 1:
        unit = [
            deltas[j] * prices[j] * (1 + e.slippage) * (1 + e.taker_fee) if deltas[j] > 0 else 0.0
            for j in range(k)
        ]
        cost = sum(unit)
        n_buys = sum(1 for d in deltas if d > 0)
        if cost > 0 and cost + n_buys * e.fixed_fee > book.cash:
            scale = max(book.cash - n_buys * e.fixed_fee, 0.0) / cost
            for j in range(k):
                if deltas[j] > 0:
                    deltas[j] = _lots(deltas[j] * scale, lots[j])
    for j in range(k):
        if deltas[j] > 0:
            if deltas[j] * _fill_price(cfg, deltas[j], prices[j]) < mins[j]:
                book.rejected += 1
            else:
                _fill(book, cfg, bar, j, deltas[j], prices[j], Reason.SIGNAL)


class PortfolioStepper:
    """The portfolio model one bar at a time (the loop of :func:`simulate`)."""

    def __init__(self, cfg: PortfolioConfig, k: int, book: Book | None = None) -> None:
        self.cfg, self.k = cfg, k
        self.book = (
            book
            if book is not None
            else Book(cfg.execution.init_cash, [0.0] * k, [0.0] * k, [0.0] * k)
        )
        self.next_open = cfg.execution.fill == "next_open"
        self.active: list[float] = [0.0] * k
        self.pending: list[float] | None = None
        self.last_decision = -1

    def _fund(self, opens: Sequence[float], rates: Sequence[float] | None) -> None:
        if rates is None:
            return
        book = self.book
        for j in range(self.k):
            rate = rates[j]
            if rate and book.qty[j]:
                paid = book.qty[j] * opens[j] * rate
                book.cash -= paid
                book.trade_pnl[j] -= paid
                book.funding_paid += paid

    def open(self, t: int, opens: Sequence[float], rates_open: Sequence[float] | None = None,
             rates_inside: Sequence[float] | None = None) -> None:  # fmt: skip
        """Bar ``t`` up to its close: funding at its open, the queued rebalance at its opens,
        funding stamped inside it."""
        self._fund(opens, rates_open)
        if self.pending is not None:
            pending, self.pending = self.pending, None
            _rebalance(self.book, self.cfg, t, pending, opens)
        self._fund(opens, rates_inside)

    def close(self, t: int, closes: Sequence[float], weights: Sequence[float]) -> float:
        """The weights decided at bar ``t``'s close (a rebalance queued when they changed or
        ``rebalance_every`` bars passed); the equity marked at the close."""
        row = list(weights)
        every = self.cfg.rebalance_every
        due = every is not None and self.last_decision >= 0 and t - self.last_decision >= every
        if row != self.active or due:
            if self.next_open:
                self.pending = row
            else:
                _rebalance(self.book, self.cfg, t, row, closes)
            self.active, self.last_decision = row, t
        return self.book.value(closes)

    def end(self, t: int, closes: Sequence[float]) -> bool:
        """``close_at_end``: close every position at the last close; whether it did."""
        book = self.book
        if not (self.cfg.close_at_end and any(book.qty)):
            return False
        for j in range(self.k):
            if book.qty[j]:
                _fill(book, self.cfg, t, j, -book.qty[j], closes[j], Reason.END_CLOSE)
        return True


def simulate(
    opens: Sequence[Sequence[float]],
    closes: Sequence[Sequence[float]],
    weights: Sequence[Sequence[float]],
    cfg: PortfolioConfig,
    funding: Sequence[Sequence[float]] | None = None,
    funding_inside: Sequence[Sequence[float]] | None = None,
) -> PortfolioRun:
    """Run the portfolio model over rows of per-asset opens, closes and weights; ``funding``
    rates are stamped at each bar's open (charged on the positions held into it),
    ``funding_inside`` rates inside each bar (charged on the positions held after the open's
    rebalance, so whoever held through the stamp pays, also with ``fill=close``)."""
    k = len(opens[0]) if opens else 0
    stepper = PortfolioStepper(cfg, k)
    equity: list[float] = []
    positions: list[list[float]] = []
    for t in range(len(opens)):
        stepper.open(t, opens[t], funding[t] if funding is not None else None,
                     funding_inside[t] if funding_inside is not None else None)  # fmt: skip
        equity.append(stepper.close(t, closes[t], weights[t]))
        positions.append(list(stepper.book.qty))
    if opens and stepper.end(len(opens) - 1, closes[-1]):
        equity[-1], positions[-1] = stepper.book.cash, [0.0] * k
    return PortfolioRun(equity, positions, stepper.book)
