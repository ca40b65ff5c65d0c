"""The venue protocol the runner talks to, whatever the venue (paper, ccxt, EVM, Solana)."""

from __future__ import annotations

from typing import Protocol

from drydock.errors import (
    CircuitOpenError,
    InsufficientFundsError,
    MinNotionalError,
    RateLimitedError,
    TransientVenueError,
    VenueError,
)
from drydock.types import Bar, Fill, Instrument, Order

__all__ = [
    "CircuitOpenError",
    "InsufficientFundsError",
    "MinNotionalError",
    "RateLimitedError",
    "SimulatedVenue",
    "TransientVenueError",
    "Venue",
    "VenueError",
]


class Venue(Protocol):
    """Submit orders keyed by client order id and look up what a venue did with them.

    ``submit`` must be idempotent on ``order.client_order_id``: resubmitting a known id returns
    the fills of the first submission instead of trading again (exchanges reject duplicate ids).
    """

    name: str

    def instrument(self, symbol: str) -> Instrument:
        """Increments and minimums the venue enforces for ``symbol``."""
        ...

    def submit(self, order: Order) -> list[Fill]:
        """Send one order; return the fills it produced so far (market orders: all of them)."""
        ...

    def fills_for(self, client_order_id: str) -> list[Fill]:
        """Fills the venue knows for an order id (for reconciliation after a crash)."""
        ...


class SimulatedVenue(Venue, Protocol):
    """A venue driven by replayed bars (paper): it fills at the bar it was last given."""

    def set_bar(self, bar: Bar) -> None:
        """Make ``bar`` the one whose open fills the next market orders."""
        ...
