"""The venue protocol the runner talks to, whatever the venue (paper, ccxt, EVM, Solana)."""

from __future__ import annotations

from typing import Protocol

from drydock.types import Bar, Fill, Instrument, Order


class VenueError(Exception):
    """A venue refused or failed an order; the order stays journaled for reconciliation."""


class TransientVenueError(VenueError):
    """A failure worth retrying with backoff (timeouts, rate limits, 5xx)."""


class RateLimitedError(TransientVenueError):
    """The venue asked us to slow down (HTTP 429, exchange rate-limit codes): retried later."""


class InsufficientFundsError(VenueError):
    """The account cannot pay for the order (final for this order; the operator must fund it)."""


class MinNotionalError(VenueError):
    """The order's value is below the instrument's min notional (final, never retried)."""


class CircuitOpenError(TransientVenueError):
    """The venue's circuit breaker is open after repeated failures: nothing is sent until it
    cools down (see :class:`live.venues.breaker.BreakerVenue`)."""


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
