"""A run's book for an order-level strategy (grid, DCA): resting orders matched by the core.

The strategy answers each closed bar with orders to place or cancel, as in research
(:func:`research.engine.orders.run_orders`); the orders rest in the core's book
(:class:`drydock.matching.OrderBook`, the same matching rules: gaps, touches, the intrabar path)
and are emulated there, as NautilusTrader's OrderEmulator emulates what a venue cannot hold. When
a bar reaches one, the book's gate sends it (policy, journal, venue) at the price the matching
rules give, as a ``limit`` order (its price, maker fee) or a ``stop``/``market`` one (slipped,
taker fee); only the venue's fills are booked back, and only those reach the strategy. A paper
run over history therefore trades what research trades, fill for fill; a denial or a rejection
leaves the book holding what the venue holds. Only venues that price such orders take them
(the paper venues); a live exchange refuses the run with a clear line.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from drydock.execution import ExecutionModel
from drydock.matching import Execution, OrderBook, PlaceOrder, TradeLedger
from drydock.types import Bar, Fill, Position, Side
from live.engine_book import Send, whole_lots
from strategies.base import Params, Strategy
from strategies.order_based import Account, OrderStrategy

if TYPE_CHECKING:
    import polars as pl


class OrderKeeper:
    """The run's book as the replay reads it (cash, quantity, trades, equity, position), kept
    by the core's resting-order book with every matched order going out through ``send``."""

    def __init__(
        self,
        strategy_id: str,
        symbol: str,
        strategy: OrderStrategy,
        params: dict[str, float],
        execution: ExecutionModel,
        lot_size: float,
        min_notional: float,
    ) -> None:
        self.strategy_id, self.symbol = strategy_id, symbol
        self.strategy, self.params = strategy, params
        self.state: Any = strategy.init_state(params)
        self.orders = OrderBook(execution, lot_size, min_notional, gate=self._gate)
        self.trades = TradeLedger()
        self.send: Send | None = None  # set by the session before the first bar
        self._lot = Decimal(repr(float(lot_size)))
        self._bar: Bar | None = None
        self._seq = 0
        self._sending: tuple[int, PlaceOrder] | None = None
        self._got: list[Execution] = []

    # -- the Book surface the replay reads ---------------------------------------------------

    @property
    def cash(self) -> Decimal:
        return Decimal(repr(self.orders.cash))

    @property
    def qty(self) -> Decimal:
        return Decimal(repr(self.orders.position))

    @property
    def trade_pnl(self) -> list[float]:
        return self.trades.closed

    def equity(self, price: float | Decimal) -> Decimal:
        return Decimal(repr(self.orders.cash + self.orders.position * float(price)))

    def position(self) -> Position:
        return Position(self.strategy_id, self.symbol, self.qty, Decimal(repr(self.trades.avg)))

    def apply(self, fill: Fill) -> None:
        """Book one venue fill of the order being sent."""
        if self._sending is None:
            raise RuntimeError("OrderKeeper.apply outside a send (a fill with no order)")
        t, order = self._sending
        signed = float(fill.qty) if fill.side is Side.BUY else -float(fill.qty)
        done = self.orders.book(t, order, signed, float(fill.price), float(fill.fee))
        self.trades.add(done)
        self._got.append(done)

    # -- stepping ----------------------------------------------------------------------------

    def step(self, index: int, bar: Bar) -> float:
        """Bar ``index``: match the resting orders (each through the gate), hand the strategy
        its fills and account at the close, queue its answer; the equity at the close."""
        self._bar, self._seq = bar, 0
        fills = self.orders.match(index, bar)
        account = Account(self.orders.cash, self.orders.position, self.trades.avg,
                          frozenset(self.orders.live))  # fmt: skip
        answer = self.strategy.on_bar(self.state, index, bar, fills, account, self.params)
        self.orders.take(answer, index, self.strategy.id)
        return self.orders.cash + self.orders.position * bar.close

    def _gate(self, t: int, order: PlaceOrder, signed: float, price: float, px: float,
              fee: float) -> Execution | None:  # fmt: skip
        """The book matched ``order``: send it; the venue's fills, merged, or None."""
        bar, send = self._bar, self.send
        if bar is None or send is None:
            raise RuntimeError("OrderKeeper stepped outside a session (no bar or no send)")
        qty = whole_lots(signed, self._lot)
        if qty == 0:
            return None
        seq, self._seq = self._seq, self._seq + 1
        at = bar if price == bar.open else replace(bar, open=price)
        self._sending, self._got = (t, order), []
        try:
            side = Side.BUY if signed > 0 else Side.SELL
            send(seq, side, qty, Decimal(repr(float(price))), bar, at, order.kind.value,
                 order.kind.value)  # fmt: skip
        finally:
            self._sending = None
        if not self._got:
            return None
        if len(self._got) == 1:
            return self._got[0]
        total = sum(e.qty for e in self._got)
        vwap = sum(e.qty * e.price for e in self._got) / total
        return Execution(t, order.tag, total, vwap, sum(e.fee for e in self._got), order.kind)


class TargetlessRun(Strategy):
    """A strategy as the session sees one whose trading is not targets (resting orders, a
    portfolio's weights): warm-up 0, no state, a flat target (0) on every bar; its book's model
    decides the orders."""

    def warmup(self, params: Params) -> int:
        return 0

    def signals(self, frame: pl.DataFrame, params: Params) -> pl.DataFrame:
        import polars as pl

        return frame.with_columns(pl.lit(0.0).alias("target"))

    def init_state(self, params: Params) -> Any:
        return None

    def step(self, state: Any, bar: Bar, params: Params) -> float:
        return 0.0


class OrderStrategyRun(TargetlessRun):
    """An order-level strategy as the session sees a strategy: its id and parameters; its
    trading is its orders, kept by :class:`OrderKeeper`."""

    def __init__(self, inner: OrderStrategy) -> None:
        self.inner = inner

    @classmethod
    def of(cls, inner: OrderStrategy) -> OrderStrategyRun:
        """The session's view of ``inner`` (a subclass carrying its id, text and parameters)."""
        named: type[OrderStrategyRun] = type(
            f"{type(inner).__name__}Run", (cls,),
            {"id": inner.id, "description": inner.description, "params": inner.params},
        )  # fmt: skip
        return named(inner)

    def check_params(self, params: Params) -> None:
        self.inner.check_params(params)
