"""PostgreSQL implementation of the journal through SQLAlchemy Core, for runners sharing one journal.

Same tables, columns and text encodings as :mod:`live.journal.sqlite` (timestamps as UTC ISO text,
quantities as decimal text), with two differences forced by PostgreSQL: every table has an
identity ``id`` (``runs`` too; SQLite uses its implicit rowid) and append-only is enforced by a
PL/pgSQL trigger on UPDATE, DELETE and TRUNCATE. ``INSERT ... ON CONFLICT DO UPDATE`` fires the
UPDATE trigger, so no upsert can rewrite a row; the journal's own writes are ``ON CONFLICT DO
NOTHING`` on the natural key. Writers chain rows into the ``ledger`` under one transaction-scoped
advisory lock, so several runners on several hosts keep one unbroken hash chain.

Runs are leased with a session advisory lock (released by the server the moment the holder's
connection dies, so a SIGKILLed runner never blocks its restart) plus a ``run_leases`` row that
names the owner, its host and an expiry for operators.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    ForeignKey,
    Identity,
    Index,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url

from drydock.errors import ConfigError
from drydock.logs import get_logger
from drydock.types import Action, Fill, Order, PolicyDecision, Position
from live.journal.base import DecisionRecord, EventRecord, RunRecord, RunSummary, utc_iso
from live.journal.rows import (
    GENESIS,
    TABLES,
    chain_hash,
    decision_record,
    decision_values,
    event_record,
    event_values,
    fill_record,
    fill_values,
    ledger_problems,
    order_record,
    order_values,
    position_record,
    position_values,
    row_hash,
    run_record,
    run_values,
    summaries,
)
from live.lease import LeaseHeld
from live.lease_row import LeaseLost

log = get_logger(__name__)
metadata = MetaData()


def _id() -> Column[int]:
    return Column("id", BigInteger, Identity(always=True), primary_key=True)


def _text(name: str, nullable: bool = False) -> Column[str]:
    return Column(name, Text, nullable=nullable)


runs = Table(
    "runs", metadata, _id(), Column("run_id", Text, nullable=False, unique=True),
    *(_text(c) for c in ("strategy_id", "params_json", "mode", "venue", "symbol", "timeframe")),
    _text("start_ts", True), _text("end_ts", True), _text("policy_version"), _text("policy_hash"),
    _text("created_at"),
)  # fmt: skip
decisions = Table(
    "decisions", metadata, _id(), Column("decision_key", Text, nullable=False, unique=True),
    Column("run_id", Text, ForeignKey("runs.run_id"), nullable=False), _text("ts"),
    _text("strategy_id"), _text("action_kind"), _text("venue"), _text("symbol"),
    _text("side", True), Column("notional_usd", Float, nullable=False),
    Column("reduces_position", BigInteger, nullable=False), _text("verdict"),
    _text("policy_version"), _text("policy_hash"), _text("explanation_json"), _text("created_at"),
)  # fmt: skip
orders = Table(
    "orders", metadata, _id(), Column("client_order_id", Text, nullable=False, unique=True),
    Column("run_id", Text, ForeignKey("runs.run_id"), nullable=False),
    Column("decision_id", BigInteger, ForeignKey("decisions.id")),
    *(_text(c) for c in ("strategy_id", "venue", "symbol", "side", "qty", "price", "ts", "status",
                         "created_at")),
)  # fmt: skip
fills = Table(
    "fills", metadata, _id(), Column("fill_id", Text, nullable=False, unique=True),
    Column("client_order_id", Text, ForeignKey("orders.client_order_id"), nullable=False),
    *(_text(c) for c in ("run_id", "venue", "symbol", "side", "qty", "price", "fee", "ts",
                         "created_at")),
    Index("fills_order", "client_order_id"),
)  # fmt: skip
positions = Table(
    "positions", metadata, _id(),
    *(_text(c) for c in ("run_id", "strategy_id", "symbol", "qty", "avg_price", "ts",
                         "created_at")),
    UniqueConstraint("run_id", "strategy_id", "symbol", "ts"),
)  # fmt: skip
events = Table(
    "events", metadata, _id(), Column("event_key", Text, unique=True),
    *(_text(c) for c in ("kind", "scope", "detail_json", "ts", "created_at")),
    Index("events_scope", "scope", "kind", "id"), Index("events_kind_ts", "kind", "ts"),
)  # fmt: skip
ledger = Table(
    "ledger", metadata, Column("seq", BigInteger, Identity(always=True), primary_key=True),
    _text("tbl"), Column("row_id", BigInteger, nullable=False), _text("row_hash"), _text("chain"),
    UniqueConstraint("tbl", "row_id"),
)  # fmt: skip
run_leases = Table(
    "run_leases", metadata, Column("run_id", Text, primary_key=True),
    *(_text(c) for c in ("owner", "host", "acquired_at", "expires_at")),
)  # fmt: skip
_TABLE = {t.name: t for t in (runs, decisions, orders, fills, positions, events)}

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION drydock_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$"""


def _append_only_triggers() -> list[str]:
    out = []
    for table in (*TABLES, "ledger"):
        out.append(
            f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION drydock_append_only()"
        )
        out.append(
            f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION drydock_append_only()"
        )
    return out


def _lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for ``name`` (stable across processes and hosts)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


_SCHEMA_LOCK = _lock_key("drydock:journal:schema")
_LEDGER_LOCK = _lock_key("drydock:journal:ledger")


def normalize_url(url: str) -> str:
    """A SQLAlchemy URL for psycopg 3; ``postgres://`` and ``postgresql://`` are accepted.

    Raises ConfigError naming DRYDOCK_JOURNAL_URL for anything else (without echoing a password).
    """
    try:
        parsed = make_url(url.strip())
    except Exception:
        raise ConfigError(
            "DRYDOCK_JOURNAL_URL is not a database URL; use "
            "postgresql://user[:password]@host[:port]/database (or leave it unset for SQLite)."
        ) from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigError(
            f"DRYDOCK_JOURNAL_URL names the backend {parsed.get_backend_name()!r}; the journal "
            "runs on SQLite (leave the variable unset) or PostgreSQL (postgresql://...)."
        )
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def masked_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and status)."""
    try:
        return make_url(url.strip()).render_as_string(hide_password=True)
    except Exception:
        return "<DRYDOCK_JOURNAL_URL: not a URL>"


class PostgresJournal:
    """PostgreSQL implementation of :class:`JournalRepository` (one connection per journal)."""

    def __init__(self, url: str, clock: Callable[[], datetime] | None = None) -> None:
        self.url = normalize_url(url)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._engine = create_engine(self.url, pool_pre_ping=True)
        self._conn = self._engine.connect()
        self._depth = 0
        with self.transaction() as conn:
            conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
            metadata.create_all(conn)
            conn.execute(text(APPEND_ONLY_FUNCTION))
            for statement in _append_only_triggers():
                conn.execute(text(statement))

    @property
    def location(self) -> str:
        """The URL with any password masked, for messages."""
        return masked_url(self.url)

    def __enter__(self) -> PostgresJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()
        self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """All writes inside commit together or not at all (nested blocks join the outer one).

        The outermost block takes the ledger's advisory lock first: writers queue like SQLite's
        ``BEGIN IMMEDIATE``, and each sees the chain's true last entry.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self._conn
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with self._conn.begin():
                self._conn.execute(select(func.pg_advisory_xact_lock(_LEDGER_LOCK)))
                yield self._conn
        finally:
            self._depth = 0

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read: inside the current transaction, else its own short one."""
        if self._depth:
            yield self._conn
            return
        with self._conn.begin():
            yield self._conn

    def _rows(self, statement: Any, **params: Any) -> list[Mapping[str, Any]]:
        with self._reading() as conn:
            return [dict(r) for r in conn.execute(statement, params).mappings()]

    def _first(self, statement: Any, **params: Any) -> Mapping[str, Any] | None:
        rows = self._rows(statement, **params)
        return rows[0] if rows else None

    def _insert(self, table: Table, values: Mapping[str, Any]) -> bool:
        """``INSERT ... ON CONFLICT DO NOTHING``; a created row is chained into the ledger."""
        with self.transaction() as conn:
            stmt = pg_insert(table).values(**values).on_conflict_do_nothing().returning(*table.c)
            row = conn.execute(stmt).mappings().first()
            if row is None:
                return False
            last = conn.execute(select(ledger.c.chain).order_by(ledger.c.seq.desc()).limit(1))
            prev = last.scalar() or GENESIS
            hashed = row_hash(dict(row))
            conn.execute(
                ledger.insert().values(
                    tbl=table.name, row_id=row["id"], row_hash=hashed,
                    chain=chain_hash(prev, table.name, int(row["id"]), hashed),
                )
            )  # fmt: skip
            return True

    def verify(self) -> list[str]:
        """Tamper evidence: every problem found, or [] when the journal is intact."""
        with self._reading() as conn:
            entries = [
                dict(r) for r in conn.execute(select(ledger).order_by(ledger.c.seq)).mappings()
            ]
            current = {
                name: {int(r["id"]): row_hash(dict(r)) for r in conn.execute(select(t)).mappings()}
                for name, t in _TABLE.items()
            }
        return ledger_problems(entries, current)

    def ledger_size(self) -> int:
        """Rows chained into the ledger."""
        with self._reading() as conn:
            return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())

    @contextmanager
    def hold_run(self, run_id: str, ttl: timedelta) -> Iterator[PgRunLease]:
        """The run's exclusive lease for the block (see :class:`PgRunLease`); journaled."""
        lease = PgRunLease(self._engine, run_id, ttl, self.clock)
        try:
            lease.acquire()
            self.record_event("lease", run_id, {"owner": lease.owner}, self.clock())
            yield lease
        finally:
            lease.release()

    def start_run(self, run: RunRecord) -> RunRecord:
        """Register a run, or return the one already stored under ``run.run_id``."""
        self._insert(runs, run_values(run))
        stored = self.run(run.run_id)
        assert stored is not None
        return stored

    def run(self, run_id: str) -> RunRecord | None:
        """The stored run ``run_id``, or None."""
        row = self._first(select(runs).where(runs.c.run_id == run_id))
        return None if row is None else run_record(row)

    def runs(self, unfinished_only: bool = False) -> list[RunSummary]:
        """Every run, newest first, with whether it journaled ``run_finished`` and when it began."""
        finished = (
            select(events.c.id)
            .where(events.c.scope == runs.c.run_id, events.c.kind == "run_finished")
            .exists()
        )
        rows = self._rows(
            select(runs, finished.label("finished")).order_by(
                runs.c.created_at.desc(), runs.c.run_id
            )
        )
        return summaries(rows, unfinished_only)

    def record_decision(
        self,
        run_id: str,
        key: str,
        ts: datetime,
        action: Action,
        decision: PolicyDecision,
        policy_version: str,
    ) -> DecisionRecord:
        """Journal a decision with its explanation; an existing ``key`` returns the stored one."""
        with self.transaction():
            self._insert(
                decisions, decision_values(run_id, key, ts, action, decision, policy_version)
            )
            stored = self.decision(key)
        assert stored is not None
        return stored

    def decision(self, key: str) -> DecisionRecord | None:
        row = self._first(select(decisions).where(decisions.c.decision_key == key))
        return None if row is None else decision_record(row)

    def decisions(self, run_id: str) -> list[DecisionRecord]:
        rows = self._rows(select(decisions).where(decisions.c.run_id == run_id).order_by("id"))
        return [decision_record(r) for r in rows]

    def recent_decisions(self, limit: int = 50) -> list[DecisionRecord]:
        """The latest ``limit`` decisions of every run, oldest first."""
        rows = self._rows(select(decisions).order_by(decisions.c.id.desc()).limit(limit))
        return [decision_record(r) for r in reversed(rows)]

    def insert_order(
        self, run_id: str, order: Order, decision_id: int | None = None
    ) -> tuple[Order, bool]:
        """Journal an order before it is sent; a known client order id is a no-op.

        Returns the stored order and whether this call created it.
        """
        with self.transaction():
            created = self._insert(orders, order_values(run_id, order, decision_id))
            stored = self.order(order.client_order_id)
        assert stored is not None
        return stored, created

    def order(self, client_order_id: str) -> Order | None:
        row = self._first(select(orders).where(orders.c.client_order_id == client_order_id))
        return None if row is None else order_record(row)

    def orders(self, run_id: str) -> list[Order]:
        rows = self._rows(select(orders).where(orders.c.run_id == run_id).order_by("id"))
        return [order_record(r) for r in rows]

    def record_fill(self, run_id: str, fill: Fill, fill_id: str | None = None) -> bool:
        """Journal a fill of a journaled order; a known fill id is a no-op (returns False)."""
        return self._insert(fills, fill_values(run_id, fill, fill_id))

    def fills_for(self, client_order_id: str) -> list[Fill]:
        statement = select(fills).where(fills.c.client_order_id == client_order_id)
        return [fill_record(r) for r in self._rows(statement.order_by("id"))]

    def fills(self, run_id: str) -> list[Fill]:
        statement = select(fills).where(fills.c.run_id == run_id).order_by("id")
        return [fill_record(r) for r in self._rows(statement)]

    def record_position(self, run_id: str, position: Position, ts: datetime) -> bool:
        """Append a position snapshot; one per (run, strategy, symbol, ts)."""
        return self._insert(positions, position_values(run_id, position, ts))

    def positions(self, run_id: str) -> list[tuple[datetime, Position]]:
        statement = select(positions).where(positions.c.run_id == run_id).order_by("id")
        return [position_record(r) for r in self._rows(statement)]

    def record_event(
        self,
        kind: str,
        scope: str,
        detail: Mapping[str, Any],
        ts: datetime,
        key: str | None = None,
    ) -> bool:
        """Append an event; with a ``key`` it is written at most once."""
        return self._insert(events, event_values(kind, scope, detail, ts, key))

    def events(self, scope: str | None = None, kind: str | None = None) -> list[EventRecord]:
        statement = select(events)
        if scope is not None:
            statement = statement.where(events.c.scope == scope)
        if kind is not None:
            statement = statement.where(events.c.kind == kind)
        return [event_record(r) for r in self._rows(statement.order_by("id"))]

    def events_of(
        self,
        kinds: tuple[str, ...],
        scopes: tuple[str, ...] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[EventRecord]:
        """Events of the given kinds (and scopes) with ``since < ts <= until``, oldest first."""
        statement = select(events).where(events.c.kind.in_(kinds))
        if scopes is not None:
            statement = statement.where(events.c.scope.in_(scopes))
        if since is not None:
            statement = statement.where(events.c.ts > utc_iso(since))
        if until is not None:
            statement = statement.where(events.c.ts <= utc_iso(until))
        return [event_record(r) for r in self._rows(statement.order_by("ts", "id"))]

    def orders_between(self, strategy_id: str, since: datetime, until: datetime) -> int:
        """Orders journaled for ``strategy_id`` with ``since < ts <= until``."""
        statement = select(func.count()).where(
            orders.c.strategy_id == strategy_id,
            orders.c.ts > utc_iso(since),
            orders.c.ts <= utc_iso(until),
        )
        with self._reading() as conn:
            return int(conn.execute(statement).scalar_one())

    def counts(self, run_id: str) -> dict[str, int]:
        """Row counts of one run: decisions (allowed/denied), orders, fills, positions."""
        d = decisions.c
        queries = {
            "decisions": select(func.count()).where(d.run_id == run_id),
            "allowed": select(func.count()).where(d.run_id == run_id, d.verdict == "allow"),
            "denied": select(func.count()).where(d.run_id == run_id, d.verdict == "deny"),
            "orders": select(func.count()).where(orders.c.run_id == run_id),
            "fills": select(func.count()).where(fills.c.run_id == run_id),
            "positions": select(func.count()).where(positions.c.run_id == run_id),
        }
        with self._reading() as conn:
            return {name: int(conn.execute(q).scalar_one()) for name, q in queries.items()}


class PgRunLease:
    """A run's lease on PostgreSQL: a session advisory lock plus a row naming its holder.

    The advisory lock is held by a dedicated connection: while it lives no other runner, on any
    host, can drive the run; when the holder dies the server drops the lock with its connection,
    so a restart takes over at once (the row it left is a dead holder's). :meth:`heartbeat`
    extends the row's expiry and checks that the connection, and so the lock, is still ours.
    """

    def __init__(
        self, engine: Any, run_id: str, ttl: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self.run_id, self.ttl, self.clock = run_id, ttl, clock
        self.host = socket.gethostname()
        self.owner = f"pid {os.getpid()} on {self.host} since {clock():%Y-%m-%d %H:%M:%S} UTC"
        self._key = _lock_key(f"drydock:run:{run_id}")
        self._conn: Connection = engine.connect()
        self._held = False

    def _holder(self) -> str:
        with self._conn.begin():
            row = self._conn.execute(
                select(run_leases.c.owner).where(run_leases.c.run_id == self.run_id)
            ).first()
        return "another runner" if row is None else str(row[0])

    def acquire(self) -> None:
        """Take the run or raise :class:`LeaseHeld` naming the runner that holds it."""
        with self._conn.begin():
            got = self._conn.execute(select(func.pg_try_advisory_lock(self._key))).scalar_one()
        if not got:
            raise LeaseHeld(
                f"Run {self.run_id} is being driven by {self._holder()}; wait for it to finish "
                "or stop it before resuming (two runners on one run would send orders twice)."
            )
        self._held = True
        self._write_row()

    def _write_row(self) -> None:
        now = self.clock()
        values = {"run_id": self.run_id, "owner": self.owner, "host": self.host,
                  "acquired_at": now.isoformat(), "expires_at": (now + self.ttl).isoformat()}  # fmt: skip
        stmt = pg_insert(run_leases).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["run_id"],
            set_={k: stmt.excluded[k] for k in ("owner", "host", "acquired_at", "expires_at")},
        )
        with self._conn.begin():
            self._conn.execute(stmt)

    def heartbeat(self) -> None:
        """Extend the expiry; raise :class:`LeaseLost` if the lock's connection is gone."""
        try:
            with self._conn.begin():
                mine = self._conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND pid = pg_backend_pid() AND classid = CAST(:hi AS oid) "
                        "AND objid = CAST(:lo AS oid) AND objsubid = 1"
                    ),
                    {"hi": (self._key >> 32) & 0xFFFFFFFF, "lo": self._key & 0xFFFFFFFF},
                ).scalar_one()
                self._conn.execute(
                    run_leases.update()
                    .where(run_leases.c.run_id == self.run_id, run_leases.c.owner == self.owner)
                    .values(expires_at=(self.clock() + self.ttl).isoformat())
                )
        except Exception as exc:
            raise LeaseLost(
                f"Run {self.run_id}: this runner ({self.owner}) lost its journal connection "
                f"({type(exc).__name__}) and with it the run's lease; it stops here."
            ) from None
        if not mine:
            raise LeaseLost(
                f"Run {self.run_id}: this runner ({self.owner}) no longer holds the run's lock; "
                "it stops here so that one runner drives the run."
            )

    def release(self) -> None:
        """Give the lease up and close its connection; never raises (a lost connection already
        gave the lock up, and the row of a dead holder is taken over by the next one)."""
        try:
            if self._held:
                with self._conn.begin():
                    self._conn.execute(
                        run_leases.delete().where(
                            run_leases.c.run_id == self.run_id, run_leases.c.owner == self.owner
                        )
                    )
                    self._conn.execute(select(func.pg_advisory_unlock(self._key)))
        except Exception as exc:  # release runs in finally blocks: report, go on
            log.warning(
                "journal.lease_release_failed", run_id=self.run_id, error=type(exc).__name__
            )
        finally:
            self._held = False
            self._conn.close()
