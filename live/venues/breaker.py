"""A per-venue circuit breaker: repeated transient failures stop calls to that venue for a while.

After ``threshold`` consecutive transient failures of one operation (timeouts, rate limits, 5xx
on ``submit``, or on ``fills_for``; a working read does not excuse failing submits) it opens:
every call fails at once with :class:`CircuitOpenError` (itself transient, so the runner journals
the order as ``failed`` and an exit stays flagged ``stuck`` and retried) without touching the
venue. After ``cooldown`` one probe call goes through (half-open): a success closes the breaker,
a failure opens it for another cooldown. Permanent errors (a rejection, insufficient funds) say
nothing about the venue's health and leave the count alone. ``on_change`` hears every open and
close (the runner journals and notifies them).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from drydock.types import Bar, Fill, Instrument, Order
from live.venues.base import CircuitOpenError, TransientVenueError, Venue

T = TypeVar("T")


class BreakerVenue:
    """``inner`` behind a circuit breaker; same protocol as the venue it wraps."""

    def __init__(
        self,
        inner: Venue,
        threshold: int = 5,
        cooldown: timedelta = timedelta(minutes=2),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: Callable[[str, dict[str, Any]], None] | None = None,
    ):
        if threshold < 1:
            raise ValueError(f"breaker threshold must be >= 1, got {threshold}")
        self.inner, self.name = inner, inner.name
        self.threshold, self.cooldown, self._clock = threshold, cooldown, clock
        self.on_change = on_change
        self.streaks: dict[str, int] = {}  # consecutive transient failures per operation
        self.opened_at: datetime | None = None

    @property
    def failures(self) -> int:
        """The longest current streak of transient failures."""
        return max(self.streaks.values(), default=0)

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def _guard(self, what: str, call: Callable[[], T]) -> T:
        now = self._clock()
        if self.opened_at is not None and now - self.opened_at < self.cooldown:
            raise CircuitOpenError(
                f"{self.name} circuit open since {self.opened_at:%H:%M:%S} after {self.failures} "
                f"consecutive failures; {what} not sent (retry after {self.cooldown})"
            )
        try:
            result = call()
        except TransientVenueError as exc:
            self.streaks[what] = self.streaks.get(what, 0) + 1
            if self.streaks[what] >= self.threshold:
                first = self.opened_at is None
                self.opened_at = now
                if first and self.on_change is not None:
                    self.on_change("open", {"venue": self.name, "failures": self.failures,
                                            "error": str(exc)})  # fmt: skip
            raise
        if self.opened_at is not None and self.on_change is not None:
            self.on_change("closed", {"venue": self.name, "failures": self.failures})
        self.streaks[what], self.opened_at = 0, None
        return result

    def __getattr__(self, name: str) -> Any:
        """Other venue reads (balances, positions) pass through unguarded."""
        return getattr(self.inner, name)

    def instrument(self, symbol: str) -> Instrument:
        return self.inner.instrument(symbol)

    def set_bar(self, bar: Bar) -> None:
        setter = getattr(self.inner, "set_bar", None)
        if setter is not None:
            setter(bar)

    def submit(self, order: Order) -> list[Fill]:
        return self._guard("submit", lambda: self.inner.submit(order))

    def fills_for(self, client_order_id: str) -> list[Fill]:
        return self._guard("fills_for", lambda: self.inner.fills_for(client_order_id))
