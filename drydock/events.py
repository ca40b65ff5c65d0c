"""Events beside bars: typed, timestamped, frozen facts a strategy may act on between bar closes.

Wallet swaps, sentiment updates, whale transfers, funding updates and operator signals. They live
in the kernel so that strategies (which may not import live/) can read their fields; the live
loop loads them from the lake and merges them with bars (``live.events``). Each class names its
``kind``; a strategy declares the kinds it reads (``Strategy.event_kinds``) and sees no other.
``ts`` is when the fact happened (UTC, timezone-aware).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from drydock.errors import DrydockError

__all__ = [
    "EVENT_KINDS",
    "EVENT_TYPES",
    "Event",
    "EventError",
    "FundingUpdate",
    "FutureEventError",
    "OperatorSignal",
    "SentimentUpdate",
    "UnknownEventError",
    "WalletSwap",
    "WhaleTransfer",
    "check_event",
    "check_kinds",
    "sort_events",
]


class EventError(DrydockError):
    """An event the loop cannot take."""


class UnknownEventError(EventError):
    """An event (or a declared kind) that is none of :data:`EVENT_KINDS`."""


class FutureEventError(EventError):
    """An event stamped after the loop's clock: it cannot have happened yet."""


@dataclass(frozen=True, slots=True)
class WalletSwap:
    """A watched wallet swapped ``amount_in`` of ``token_in`` for ``amount_out`` of
    ``token_out`` (the ``wallet_swaps`` dataset): it bought ``token_out`` and sold ``token_in``."""

    kind: ClassVar[str] = "wallet_swap"
    ts: datetime
    chain: str
    wallet: str
    token_in: str
    amount_in: float
    token_out: str
    amount_out: float
    tx_id: str = ""
    index: int = 0
    label: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class SentimentUpdate:
    """A scored news item about ``asset`` (``news_sentiment``): score in [-1, 1], impact [0, 1]."""

    kind: ClassVar[str] = "sentiment"
    ts: datetime
    asset: str
    score: float
    impact: float
    label: str = ""
    content_hash: str = ""


@dataclass(frozen=True, slots=True)
class WhaleTransfer:
    """A large token transfer (``whale_transfers``); ``flow`` is its classification (e.g. an
    exchange inflow) and ``significance`` its score."""

    kind: ClassVar[str] = "whale_transfer"
    ts: datetime
    chain: str
    symbol: str
    amount: float
    usd: float
    sender: str = ""
    receiver: str = ""
    flow: str = ""
    significance: float = 0.0
    tx_hash: str = ""
    log_index: int = 0


@dataclass(frozen=True, slots=True)
class FundingUpdate:
    """A perpetual's funding event (``funding_rates``): ``rate`` per interval, + = longs pay."""

    kind: ClassVar[str] = "funding"
    ts: datetime
    exchange: str
    symbol: str
    rate: float
    interval_hours: float
    mark_price: float | None = None


@dataclass(frozen=True, slots=True)
class OperatorSignal:
    """An operator's instruction to a strategy (e.g. ``name="flatten"``), handed in by the
    caller; ``value`` is an optional number the strategy interprets."""

    kind: ClassVar[str] = "operator"
    ts: datetime
    name: str
    value: float | None = None
    note: str = ""


Event = WalletSwap | SentimentUpdate | WhaleTransfer | FundingUpdate | OperatorSignal
EVENT_TYPES: dict[str, type[Event]] = {
    t.kind: t for t in (WalletSwap, SentimentUpdate, WhaleTransfer, FundingUpdate, OperatorSignal)
}
EVENT_KINDS: tuple[str, ...] = tuple(EVENT_TYPES)
_ORDER = {kind: n for n, kind in enumerate(EVENT_KINDS)}


def check_kinds(kinds: Iterable[str], owner: str) -> None:
    """Refuse declared kinds that are not event kinds (a typo would silently read nothing)."""
    unknown = sorted(set(kinds) - set(EVENT_KINDS))
    if unknown:
        raise UnknownEventError(
            f"{owner} declares unknown event kind(s) {', '.join(map(repr, unknown))}; "
            f"event_kinds may hold only {', '.join(EVENT_KINDS)}."
        )


def check_event(event: object, now: datetime, source: str) -> None:
    """Refuse an event of an unknown kind, or stamped after ``now`` (the loop's clock)."""
    kind = getattr(event, "kind", None)
    if not isinstance(kind, str) or not isinstance(event, EVENT_TYPES.get(kind, ())):
        raise UnknownEventError(
            f"{source} handed the loop an event of unknown kind {kind!r} ({type(event).__name__}); "
            f"give one of the event types of drydock.events ({', '.join(EVENT_KINDS)})."
        )
    ts = event.ts  # type: ignore[attr-defined]
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        raise EventError(
            f"{source} handed the loop a {kind} event stamped {ts!r}; stamp events with a "
            "timezone-aware UTC datetime."
        )
    if ts > now:
        raise FutureEventError(
            f"{source} handed the loop a {kind} event stamped {ts.isoformat()}, after the loop's "
            f"clock {now.isoformat()}; deliver each event with the bar whose close follows it "
            "(live.events.merge), not earlier."
        )


def sort_events(events: Sequence[Event]) -> list[Event]:
    """Time order; events at one instant in :data:`EVENT_KINDS` order, else as given."""
    return sorted(events, key=lambda e: (e.ts, _ORDER.get(e.kind, len(_ORDER))))
