"""A paper venue: market orders fill at the open of the bar it is given, with research's costs.

The rule is the backtest's: a signal on bar t's close is filled at bar t+1's open. The runner
calls :meth:`PaperVenue.set_bar` with bar t+1 before submitting what bar t decided. Costs match
research: slippage in bps moves the price against the trader (buys pay more, sells get less) and
the fee is a fraction of the filled notional. Quantities are rounded down to the lot size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from drydock.types import Bar, Fill, Instrument, Order, Side
from live.venues.base import VenueError


@dataclass(frozen=True, slots=True)
class Costs:
    """Fee as a fraction of notional and adverse slippage in basis points (research defaults)."""

    fee: float = 0.001
    slippage_bps: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.fee < 1:
            raise ValueError(f"fee must be a fraction in [0, 1), got {self.fee}")
        if not 0 <= self.slippage_bps < 10_000:
            raise ValueError(f"slippage_bps must be in [0, 10000), got {self.slippage_bps}")

    @property
    def fee_rate(self) -> Decimal:
        return Decimal(str(self.fee))

    def fill_price(self, side: Side, price: float | Decimal) -> Decimal:
        """``price * (1 + bps/1e4)`` for buys and ``price * (1 - bps/1e4)`` for sells."""
        slip = Decimal(str(self.slippage_bps)) / Decimal(10_000)
        base = Decimal(str(price))
        return base * (1 + slip) if side is Side.BUY else base * (1 - slip)

    def fee_of(self, qty: Decimal, fill_price: Decimal) -> Decimal:
        return qty * fill_price * self.fee_rate


def default_instrument(venue: str, symbol: str) -> Instrument:
    """A spot instrument with the kernel's default increments, e.g. BTC/USDT -> BTC, USDT."""
    base, _, quote = symbol.partition("/")
    return Instrument(venue, symbol, base, quote.split(":")[0] or "USD")


class PaperVenue:
    """Simulated fills, idempotent by client order id like a real exchange."""

    def __init__(
        self,
        name: str = "paper",
        costs: Costs | None = None,
        instruments: Mapping[str, Instrument] | None = None,
    ):
        self.name = name
        self.costs = costs or Costs()
        self._instruments = dict(instruments or {})
        self._bar: Bar | None = None
        self._fills: dict[str, list[Fill]] = {}

    def instrument(self, symbol: str) -> Instrument:
        if symbol not in self._instruments:
            self._instruments[symbol] = default_instrument(self.name, symbol)
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
        qty = self.instrument(order.symbol).round_qty(order.qty)
        if qty <= 0:
            raise VenueError(
                f"order {order.client_order_id} qty {order.qty} rounds to zero lots of "
                f"{self.instrument(order.symbol).lot_size}"
            )
        price = self.costs.fill_price(order.side, self._bar.open)
        fill = Fill(
            order.client_order_id,
            self.name,
            order.symbol,
            order.side,
            qty,
            price,
            self.costs.fee_of(qty, price),
            self._bar.ts,
        )
        self._fills[order.client_order_id] = [fill]
        return [fill]

    def fills_for(self, client_order_id: str) -> list[Fill]:
        return list(self._fills.get(client_order_id, []))
