"""The journal's interface: record types, deterministic ids and the repository protocols.

:class:`JournalRepository` is the union of narrow roles (:class:`LeaseStore`, :class:`Ledger`,
:class:`RunStore`, :class:`OrdersAndFills`, :class:`PolicyEvents`); a caller that needs one role
depends on that one.

Every write of a :class:`JournalRepository` is idempotent on a natural key (an order's
``client_order_id``, a decision's key, a fill's id, a position's run/strategy/symbol/ts), so a
runner that crashed mid-bar can simply redo the bar.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from drydock.types import Action, Fill, Order, PolicyDecision, Position, Side, Verdict


def utc_iso(value: datetime) -> str:
    """ISO text of an aware timestamp in UTC (naive ones are refused: they are ambiguous)."""
    if value.tzinfo is None:
        raise ValueError(f"journal timestamps must be timezone-aware, got {value!r}")
    return value.astimezone(UTC).isoformat()


def client_order_id(scope: str, symbol: str, bar_ts: datetime, side: Side | str) -> str:
    """Deterministic idempotency key: the same (run or strategy, symbol, bar, side) -> same id.

    32 characters of ``[a-z0-9]``, within Binance's 36-character ``newClientOrderId`` limit.
    """
    raw = f"{scope}|{symbol}|{utc_iso(bar_ts)}|{Side(side).value}"
    return "dd" + hashlib.sha256(raw.encode()).hexdigest()[:30]


def fill_key(fill: Fill) -> str:
    """Deterministic id of a fill when the venue gives none (same execution -> same id)."""
    raw = f"{fill.client_order_id}|{utc_iso(fill.ts)}|{fill.qty}|{fill.price}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One replay or live run: what ran, on what, under which policy."""

    run_id: str
    strategy_id: str
    params: Mapping[str, float]
    mode: str
    venue: str
    symbol: str
    timeframe: str
    policy_version: str
    policy_hash: str
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run as listed for operators: its record, whether it finished, when it was created."""

    run: RunRecord
    finished: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A journaled policy decision with its explanation (violations and the action)."""

    id: int
    decision_key: str
    run_id: str
    ts: datetime
    verdict: Verdict
    policy_hash: str
    explanation: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A journaled operational event: kill, resume, pause, breaker, run start/finish."""

    id: int
    kind: str
    scope: str
    detail: dict[str, Any]
    ts: datetime


class RunLease(Protocol):
    """A held run lease: who holds it, and the renewal that fails once it was lost."""

    owner: str

    def heartbeat(self) -> None: ...


class Transactional(Protocol):
    """Writes inside :meth:`transaction` commit together or not at all (nested blocks join)."""

    def transaction(self) -> AbstractContextManager[Any]: ...


class LeaseStore(Protocol):
    """Who drives a run: one holder at a time, across processes (and hosts, on a shared journal)."""

    def hold_run(self, run_id: str, ttl: timedelta) -> AbstractContextManager[RunLease]: ...
    def lease_expiry(self, run_id: str) -> tuple[datetime, str] | None: ...


class Ledger(Protocol):
    """The hash chain over every journaled row: tamper evidence."""

    def verify(self) -> list[str]: ...
    def ledger_size(self) -> int: ...


class RunStore(Transactional, Protocol):
    """Runs: registered once, listed with whether they finished, counted by row kind."""

    def start_run(self, run: RunRecord) -> RunRecord: ...
    def run(self, run_id: str) -> RunRecord | None: ...
    def runs(self, unfinished_only: bool = False) -> list[RunSummary]: ...
    def counts(self, run_id: str) -> dict[str, int]: ...


class OrdersAndFills(Transactional, Protocol):
    """Orders journaled before they are sent, their fills and the position snapshots."""

    def insert_order(
        self, run_id: str, order: Order, decision_id: int | None = None
    ) -> tuple[Order, bool]: ...
    def order(self, client_order_id: str) -> Order | None: ...
    def orders(self, run_id: str) -> list[Order]: ...
    def orders_between(
        self, strategy_id: str, since: datetime, until: datetime, run_id: str | None = None
    ) -> int: ...
    def record_fill(self, run_id: str, fill: Fill, fill_id: str | None = None) -> bool: ...
    def fills_for(self, client_order_id: str) -> list[Fill]: ...
    def fills(self, run_id: str) -> list[Fill]: ...
    def record_position(self, run_id: str, position: Position, ts: datetime) -> bool: ...
    def positions(self, run_id: str) -> list[tuple[datetime, Position]]: ...


class PolicyEvents(Transactional, Protocol):
    """Policy decisions with their explanations, and operational events (the policy's state)."""

    def record_decision(
        self,
        run_id: str,
        key: str,
        ts: datetime,
        action: Action,
        decision: PolicyDecision,
        policy_version: str,
    ) -> DecisionRecord: ...
    def decision(self, key: str) -> DecisionRecord | None: ...
    def decisions(self, run_id: str) -> list[DecisionRecord]: ...
    def recent_decisions(self, limit: int = 50) -> list[DecisionRecord]: ...
    def record_event(
        self,
        kind: str,
        scope: str,
        detail: Mapping[str, Any],
        ts: datetime,
        key: str | None = None,
    ) -> bool: ...
    def events(self, scope: str | None = None, kind: str | None = None) -> list[EventRecord]: ...
    def events_of(
        self,
        kinds: tuple[str, ...],
        scopes: tuple[str, ...] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[EventRecord]: ...


class JournalRepository(LeaseStore, Ledger, RunStore, OrdersAndFills, PolicyEvents, Protocol):
    """What the runner needs from a journal (every role); every write is idempotent on its
    natural key. Code that needs one role only should ask for that role."""

    @property
    def location(self) -> str: ...
    def close(self) -> None: ...
