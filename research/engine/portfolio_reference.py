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
from collections.abc import Sequence
from dataclasses import dataclass, field

from drydock.fills.model import Reason, floor_lots
from research.engine.portfolio_model import PortfolioConfig


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
    next_open = cfg.execution.fill == "next_open"
    book = Book(cfg.execution.init_cash, [0.0] * k, [0.0] * k, [0.0] * k)
    equity: list[float] = []
    positions: list[list[float]] = []
    active: list[float] = [0.0] * k
    pending: list[float] | None = None
    last_decision = -1
    for t in range(len(opens)):
        if funding is not None:
            for j in range(k):
                rate = funding[t][j]
                if rate and book.qty[j]:
                    paid = book.qty[j] * opens[t][j] * rate
                    book.cash -= paid
                    book.trade_pnl[j] -= paid
                    book.funding_paid += paid
        if pending is not None:
            _rebalance(book, cfg, t, pending, opens[t])
            pending = None
        if funding_inside is not None:
            for j in range(k):
                rate = funding_inside[t][j]
                if rate and book.qty[j]:
                    paid = book.qty[j] * opens[t][j] * rate
                    book.cash -= paid
                    book.trade_pnl[j] -= paid
                    book.funding_paid += paid
        row = list(weights[t])
        every = cfg.rebalance_every
        due = every is not None and last_decision >= 0 and t - last_decision >= every
        if row != active or due:
            if next_open:
                pending = row
            else:
                _rebalance(book, cfg, t, row, closes[t])
            active, last_decision = row, t
        equity.append(book.value(closes[t]))
        positions.append(list(book.qty))
    if cfg.close_at_end and opens and any(book.qty):
        t = len(opens) - 1
        for j in range(k):
            if book.qty[j]:
                _fill(book, cfg, t, j, -book.qty[j], closes[t][j], Reason.END_CLOSE)
        equity[-1], positions[-1] = book.cash, [0.0] * k
    return PortfolioRun(equity, positions, book)
