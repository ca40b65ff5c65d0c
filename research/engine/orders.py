"""``run_orders``: an order-level strategy (grid, DCA) bar by bar against the resting-order book.

Each bar: the live orders are matched against it (:mod:`drydock.matching`: gaps, touches and the
intrabar path rule), the strategy sees the close with the fills, its account and returns orders
to place or cancel, and equity is marked at the close. The result has the shape of the research
engine's :class:`~research.engine.run.EngineResult`, so reports and tracking read both alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from drydock import metrics
from drydock.execution import ExecutionModel
from drydock.fills.model import Reason
from drydock.matching import OrderBook, OrderKind, TradeLedger
from research.engine.run import EngineResult
from strategies.base import Params, iter_bars
from strategies.order_based import Account, OrderStrategy

_REASON = {
    OrderKind.MARKET: Reason.SIGNAL,
    OrderKind.LIMIT: Reason.LIMIT,
    OrderKind.STOP: Reason.STOP,
}


def run_orders(
    bars: pl.DataFrame,
    strategy: OrderStrategy,
    params: Params,
    execution: ExecutionModel | None = None,
    *,
    lot_size: float = 1e-8,
    min_notional: float = 0.0,
    periods_per_year: float = 365.0 * 24,
    progress: Any = None,
) -> EngineResult:
    """Run ``strategy`` over ``bars`` (ts, open, high, low, close, volume) with one spot account."""
    book = OrderBook(execution or ExecutionModel(), lot_size, min_notional)
    trades = TradeLedger()
    state = strategy.init_state(params)
    n = bars.height
    equity, position = np.empty(n), np.empty(n)
    records: list[tuple[float, float, float, float, float]] = []
    for t, bar in enumerate(iter_bars(bars)):
        fills = book.match(t, bar)
        for fill in fills:
            trades.add(fill)
            records.append((t, fill.qty, fill.price, fill.fee, float(_REASON[fill.kind])))
        account = Account(book.cash, book.position, trades.avg, frozenset(book.live))
        book.take(strategy.on_bar(state, t, bar, fills, account, params), t, strategy.id)
        equity[t] = book.cash + book.position * bar.close
        position[t] = book.position
        if progress is not None:
            progress(t + 1, n)
    notes = []
    if book.position:
        notes.append(
            f"a position of {book.position:g} is still open at the end, marked at the last close"
        )
    if book.live:
        notes.append(
            f"{len(book.live)} orders still live at the end: {', '.join(sorted(book.live))}"
        )
    if book.expired:
        notes.append(f"{book.expired} orders expired unfilled")
    pnl = np.array(trades.closed)
    stats = metrics.summarize(equity, pnl, periods_per_year) | {
        "exposure": metrics.exposure(position)
    }
    open_pnl = trades.pnl + trades.qty * (float(bars["close"][-1]) - trades.avg) if n else 0.0
    return EngineResult(
        ts=bars["ts"],
        equity_values=equity,
        position_values=position,
        order_records=np.array(records, dtype=np.float64).reshape(-1, 5),
        trade_pnl=pnl,
        metrics=stats if n else {},
        rejected_min_notional=book.rejected,
        liquidations=0,
        funding_paid=0.0,
        open_position=float(book.position),
        open_pnl=float(open_pnl) if book.position else 0.0,
        notes=notes,
    )
