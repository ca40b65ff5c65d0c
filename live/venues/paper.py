"""A paper venue: orders fill at the open of the bar it is given, under drydock.execution.

The rule is the backtest's: a signal on bar t's close is filled at bar t+1's open. The runner
calls :meth:`PaperVenue.set_bar` with bar t+1 before submitting what bar t decided. Prices, fees,
lot rounding and the min-notional check are the execution model's Decimal helpers, so paper fills
match research to the cent. Like an exchange, it rejects orders that round to zero lots or fall
below the instrument's min notional (the runner skips those before sending them). A resting
order the core matched against a bar (``Order.kind`` ``limit``) arrives with the bar opened at its
fill price and fills there without slippage, at the maker fee.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

from drydock.execution import ExecutionModel, below_min_notional
from drydock.markets import instrument_for
from drydock.types import Bar, Fill, Instrument, Order, Side
from live.venues.base import MinNotionalError, VenueError


class PaperVenue:
    """Simulated fills, idempotent by client order id like a real exchange."""

    #: Its book lives in this process and dies with it: the journal may commit in batches
    #: (:meth:`live.session.Session.batched`). A venue that remembers orders across a crash
    #: (an exchange, a chain, :class:`~live.venues.paper_store.DurablePaperVenue`) must not.
    forgets_on_crash = True
    #: It fills resting orders the core matched (``Order.kind`` limit or stop) at their price.
    takes_resting_orders = True

    def __init__(
        self,
        name: str = "paper",
        execution: ExecutionModel | None = None,
        instruments: Mapping[str, Instrument] | None = None,
    ):
        self.name = name
        self.execution = execution or ExecutionModel()
        self._instruments = dict(instruments or {})
        self._bar: Bar | None = None
        self._fills: dict[str, list[Fill]] = {}
        #: The research engine's volume-impact coefficient (``impact * sqrt(qty / bar volume)``
        #: added to the slippage of market fills); 0: none. Set by a session whose engine
        #: rules price impact, so paper fills equal the model's.
        self.impact = 0.0
        #: The engine's liquidation fee, charged on top of the taker fee of a ``liquidation``
        #: order (the model's forced close of a position below its maintenance margin).
        self.liquidation_fee = 0.0

    def instrument(self, symbol: str) -> Instrument:
        """The symbol's increments: given at construction, else from drydock.markets."""
        if symbol not in self._instruments:
            self._instruments[symbol] = instrument_for(
                self.name, symbol, self.execution.overrides()
            )
        return self._instruments[symbol]

    def set_bar(self, bar: Bar) -> None:
        """Make ``bar`` the one whose open fills the next market orders."""
        self._bar = bar

    def submit(self, order: Order) -> list[Fill]:
        """Fill the whole (lot-rounded) quantity at the current bar's open plus slippage."""
        if order.client_order_id in self._fills:
            return list(self._fills[order.client_order_id])
        if self._bar is None:
            raise VenueError("paper venue has no bar to fill at; call set_bar() first")
        instrument = self.instrument(order.symbol)
        qty = instrument.round_qty(order.qty)
        if qty <= 0:
            raise VenueError(
                f"order {order.client_order_id} qty {order.qty} rounds to zero lots of "
                f"{instrument.lot_size}"
            )
        maker = order.kind == "limit"  # a resting limit the core matched: its price, maker fee
        price = (
            Decimal(str(self._bar.open))
            if maker
            else self.execution.slipped_price_dec(self._bar.open, buy=order.side is Side.BUY)
        )
        if not maker and self.impact and self._bar.volume > 0:
            push = self.impact * math.sqrt(float(qty) / self._bar.volume)
            fraction = self.execution.slippage + push
            price = Decimal(repr(self._bar.open * (1 + fraction if order.side is Side.BUY
                                                   else 1 - fraction)))  # fmt: skip
        if below_min_notional(qty, price, instrument.min_notional):
            raise MinNotionalError(
                f"order {order.client_order_id}: {qty} {order.symbol} at {price} is "
                f"{qty * price:.2f}, below the min notional {instrument.min_notional}"
            )
        fill = Fill(
            order.client_order_id,
            self.name,
            order.symbol,
            order.side,
            qty,
            price,
            self.execution.fee_of_dec(qty, price, maker)
            + (
                qty * price * Decimal(repr(self.liquidation_fee))
                if order.kind == "liquidation"
                else Decimal(0)
            ),
            self._bar.ts,
        )
        self._fills[order.client_order_id] = [fill]
        return [fill]

    def fills_for(self, client_order_id: str) -> list[Fill]:
        return list(self._fills.get(client_order_id, []))
