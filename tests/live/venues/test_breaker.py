"""The per-venue circuit breaker: opens on a streak of transient failures, fails fast while open
(the venue is not called), lets one probe through after the cooldown, ignores permanent errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from drydock.types import Fill, Instrument, Order, Side
from live.venues.base import CircuitOpenError, TransientVenueError, VenueError
from live.venues.breaker import BreakerVenue

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ORDER = Order("dd1", "s", "v", "BTC/USDT", Side.BUY, Decimal("1"), Decimal("100"), T0)


class Scripted:
    name = "v"

    def __init__(self, outcomes: list[Exception | None]):
        self.outcomes, self.calls = outcomes, 0

    def instrument(self, symbol: str) -> Instrument:
        return Instrument("v", symbol, "BTC", "USDT")

    def submit(self, order: Order) -> list[Fill]:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return []

    def fills_for(self, client_order_id: str) -> list[Fill]:
        return []


def test_opens_fails_fast_then_probes_after_cooldown() -> None:
    now = [T0]
    changes: list[tuple[str, dict[str, Any]]] = []
    inner = Scripted([TransientVenueError("t")] * 3)
    venue = BreakerVenue(inner, threshold=3, cooldown=timedelta(seconds=60),
                         clock=lambda: now[0], on_change=lambda c, d: changes.append((c, d)))  # fmt: skip
    for _ in range(3):
        with pytest.raises(TransientVenueError):
            venue.submit(ORDER)
    assert venue.is_open and [c for c, _ in changes] == ["open"] and changes[0][1]["failures"] == 3
    now[0] = T0 + timedelta(seconds=59)
    with pytest.raises(CircuitOpenError, match="circuit open"):
        venue.submit(ORDER)
    assert inner.calls == 3  # not called while open
    now[0] = T0 + timedelta(seconds=60)
    assert venue.submit(ORDER) == [] and inner.calls == 4  # the probe succeeds
    assert not venue.is_open and [c for c, _ in changes] == ["open", "closed"]


def test_a_failed_probe_reopens_for_another_cooldown() -> None:
    now = [T0]
    inner = Scripted([TransientVenueError("t")] * 3)
    venue = BreakerVenue(inner, threshold=2, cooldown=timedelta(seconds=10), clock=lambda: now[0])
    for _ in range(2):
        with pytest.raises(TransientVenueError):
            venue.submit(ORDER)
    now[0] = T0 + timedelta(seconds=10)
    with pytest.raises(TransientVenueError):  # the probe fails: open again from now
        venue.submit(ORDER)
    now[0] = T0 + timedelta(seconds=15)
    with pytest.raises(CircuitOpenError):
        venue.submit(ORDER)
    assert inner.calls == 3


def test_permanent_errors_and_successful_reads_do_not_reset_or_trip() -> None:
    inner = Scripted([TransientVenueError("t"), VenueError("rejected"), TransientVenueError("t")])
    venue = BreakerVenue(inner, threshold=2, clock=lambda: T0)
    with pytest.raises(TransientVenueError):
        venue.submit(ORDER)
    assert venue.fills_for("dd1") == []  # a working read does not excuse failing submits
    with pytest.raises(VenueError):
        venue.submit(ORDER)  # permanent: says nothing about the venue's health
    assert not venue.is_open
    with pytest.raises(TransientVenueError):
        venue.submit(ORDER)
    assert venue.is_open and venue.failures == 2


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        BreakerVenue(Scripted([]), threshold=0)
