"""The journal: one implementation of :class:`~live.journal.base.JournalRepository` on SQLAlchemy
Core, for SQLite and PostgreSQL.

What the two databases genuinely do differently sits behind a small :class:`Dialect` (see
:mod:`live.journal.sqlite` and :mod:`live.journal.postgres`): how a connection is made and
configured, how the schema and its append-only triggers are created, the lock a write
transaction takes first (so that writers queue and each sees the ledger's true last entry), how
a stored row's id is named, and how a run is leased. Everything else (the tables, idempotent
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` writes, the hash chain, every read) is written once
here. Both databases hold the same tables, columns and text encodings (timestamps as UTC ISO text,
quantities as decimal text), so a journal reads back the same from either.

Errors of the database come out as the driver's own (``sqlite3.IntegrityError``,
``psycopg.errors.UniqueViolation``, ...), not wrapped in SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, Self

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    RowMapping,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.engine import Dialect as SaDialect
from sqlalchemy.exc import DBAPIError, OperationalError

from drydock.types import Action, Fill, Order, PolicyDecision, Position
from live.journal.base import DecisionRecord, EventRecord, RunLease, RunRecord, RunSummary, utc_iso
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

#: The label of a stored row's id in the journal's own queries (never a column of a table).
ROWID = "_drydock_rowid"


@dataclass(frozen=True, slots=True)
class Tables:
    """The journal's tables as one database holds them."""

    metadata: MetaData
    runs: Table
    decisions: Table
    orders: Table
    fills: Table
    positions: Table
    events: Table
    ledger: Table
    run_leases: Table

    def journaled(self) -> dict[str, Table]:
        """The tables whose rows are chained into the ledger, by name (in :data:`TABLES` order)."""
        return {name: getattr(self, name) for name in TABLES}


def build_tables(identity: bool) -> Tables:
    """The journal's tables. ``identity``: every table has a generated ``id`` column (PostgreSQL);
    else ids are SQLite rowids (``INTEGER PRIMARY KEY``) and ``runs`` is keyed by ``run_id``."""
    metadata = MetaData()

    def key(name: str = "id") -> Column[int]:
        if identity:
            return Column(name, BigInteger, Identity(always=True), primary_key=True)
        return Column(name, Integer, primary_key=True)

    def texts(*names: str, nullable: bool = False) -> list[Column[str]]:
        return [Column(name, Text, nullable=nullable) for name in names]

    run_key = (
        [key(), Column("run_id", Text, nullable=False, unique=True)]
        if identity
        else [Column("run_id", Text, primary_key=True)]
    )
    runs = Table(
        "runs", metadata, *run_key,
        *texts("strategy_id", "params_json", "mode", "venue", "symbol", "timeframe"),
        *texts("start_ts", "end_ts", nullable=True), *texts("policy_version", "policy_hash"),
        *texts("created_at"),
    )  # fmt: skip
    decisions = Table(
        "decisions", metadata, key(), Column("decision_key", Text, nullable=False, unique=True),
        Column("run_id", Text, ForeignKey("runs.run_id"), nullable=False),
        *texts("ts", "strategy_id", "action_kind", "venue", "symbol"),
        *texts("side", nullable=True), Column("notional_usd", Float, nullable=False),
        Column("reduces_position", BigInteger, nullable=False),
        *texts("verdict", "policy_version", "policy_hash", "explanation_json", "created_at"),
    )  # fmt: skip
    orders = Table(
        "orders", metadata, key(), Column("client_order_id", Text, nullable=False, unique=True),
        Column("run_id", Text, ForeignKey("runs.run_id"), nullable=False),
        Column("decision_id", BigInteger, ForeignKey("decisions.id")),
        *texts("strategy_id", "venue", "symbol", "side", "qty", "price", "ts", "status",
               "created_at"),
    )  # fmt: skip
    fills = Table(
        "fills", metadata, key(), Column("fill_id", Text, nullable=False, unique=True),
        Column("client_order_id", Text, ForeignKey("orders.client_order_id"), nullable=False),
        *texts("run_id", "venue", "symbol", "side", "qty", "price", "fee", "ts", "created_at"),
        Index("fills_order", "client_order_id"),
    )  # fmt: skip
    positions = Table(
        "positions", metadata, key(),
        *texts("run_id", "strategy_id", "symbol", "qty", "avg_price", "ts", "created_at"),
        UniqueConstraint("run_id", "strategy_id", "symbol", "ts"),
    )  # fmt: skip
    events = Table(
        "events", metadata, key(), Column("event_key", Text, unique=True),
        *texts("kind", "scope", "detail_json", "ts", "created_at"),
        Index("events_scope", "scope", "kind", "id"), Index("events_kind_ts", "kind", "ts"),
    )  # fmt: skip
    ledger = Table(
        "ledger", metadata, key("seq"), *texts("tbl"),
        Column("row_id", BigInteger, nullable=False), *texts("row_hash", "chain"),
        UniqueConstraint("tbl", "row_id"),
    )  # fmt: skip
    run_leases = Table(
        "run_leases", metadata, Column("run_id", Text, primary_key=True),
        *texts("owner", "host", "acquired_at", "expires_at"),
    )  # fmt: skip
    return Tables(metadata, runs, decisions, orders, fills, positions, events, ledger, run_leases)


class Dialect(Protocol):
    """What one database does its own way; :class:`Journal` does the rest."""

    #: The journal's tables on this database.
    tables: Tables

    @property
    def location(self) -> str:
        """Where the journal lives, for messages (no password)."""
        ...

    def engine(self) -> Engine:
        """A new engine whose connections are configured for the journal."""
        ...

    def insert(self, table: Table) -> Any:
        """This dialect's ``INSERT`` construct (one with ``on_conflict_do_nothing``)."""
        ...

    def rowid(self, table: Table) -> ColumnElement[Any]:
        """The expression of a stored row's id, the one its ledger entry names."""
        ...

    def create_schema(self, conn: Connection) -> None:
        """Create what is missing (tables, indexes, append-only triggers), in a write transaction."""
        ...

    def lock_for_write(self, conn: Connection) -> None:
        """The first statement of every write transaction: take the database's write lock, so
        that writers queue and each chains onto the ledger's true last entry."""
        ...

    def lease(
        self, engine: Engine, run_id: str, ttl: timedelta, clock: Callable[[], datetime]
    ) -> AbstractContextManager[RunLease]:
        """Hold the run's exclusive lease for the block, or raise ``LeaseHeld`` naming its holder."""
        ...


class Prepared:
    """A Core statement compiled once for one database and run on the driver's cursor.

    The journal's hot path (point reads, idempotent inserts, the ledger) spends no time building
    statements or in SQLAlchemy's per-call execution machinery: on SQLite that machinery costs
    several times the statement itself. The SQL is SQLAlchemy's, for the connection's dialect.
    """

    __slots__ = ("_compiled", "_fixed", "_order", "_plain", "sql")

    def __init__(self, statement: Any, dialect: SaDialect, keys: Sequence[str] | None = None):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        if "POSTCOMPILE" in compiled.string:  # a bind rendered per call cannot be reused
            raise ValueError(f"statement needs per-call rendering: {compiled.string}")
        self.sql: str = compiled.string
        self._compiled = compiled
        self._order = compiled.positiontup if compiled.positional else None
        # Positional placeholders (SQLite) whose values go to the driver as given (no type
        # converts them, no name is escaped) skip SQLAlchemy's general parameter processing;
        # values bound in the statement itself (a LIMIT) are kept.
        self._plain = bool(
            compiled.positional
            and not compiled._bind_processors
            and not compiled.escaped_bind_names
        )
        self._fixed = {
            name: bind.value
            for bind, name in compiled.bind_names.items()
            if not bind.required and bind.value is not None
        }

    def params(self, values: Mapping[str, Any]) -> Any:
        """The driver's parameters (a tuple for ``?`` placeholders, else a dict)."""
        if self._plain:
            bound = {**self._fixed, **values} if self._fixed else values
        else:
            bound = self._compiled.construct_params(values)
        return bound if self._order is None else tuple(bound[name] for name in self._order)


class Queries:
    """The journal's hot statements, built and compiled once per kind of database."""

    def __init__(self, t: Tables, dialect: Dialect, sa_dialect: SaDialect) -> None:
        self._sa = sa_dialect
        key = bindparam("k", type_=Text())
        r, d, o, f, p, ledger = t.runs, t.decisions, t.orders, t.fills, t.positions, t.ledger
        self.inserts = {
            table.name: dialect.insert(table)
            .on_conflict_do_nothing()
            .returning(dialect.rowid(table).label(ROWID), *_as_read(table))
            for table in t.journaled().values()
        }
        self._insert_keys: dict[tuple[str, tuple[str, ...]], Prepared] = {}
        self.last_chain = self._prepare(
            select(ledger.c.chain).order_by(ledger.c.seq.desc()).limit(1)
        )
        self.chain = self._prepare(ledger.insert(), ("tbl", "row_id", "row_hash", "chain"))
        self.run = self._prepare(select(r).where(r.c.run_id == key))
        self.decision = self._prepare(select(d).where(d.c.decision_key == key))
        self.decisions = self._prepare(select(d).where(d.c.run_id == key).order_by(d.c.id))
        self.order = self._prepare(select(o).where(o.c.client_order_id == key))
        self.orders = self._prepare(select(o).where(o.c.run_id == key).order_by(o.c.id))
        self.fills_for = self._prepare(select(f).where(f.c.client_order_id == key).order_by(f.c.id))
        self.fills = self._prepare(select(f).where(f.c.run_id == key).order_by(f.c.id))
        self.positions = self._prepare(select(p).where(p.c.run_id == key).order_by(p.c.id))
        self.orders_between = self._prepare(
            select(func.count()).where(
                o.c.strategy_id == key, o.c.ts > bindparam("since"), o.c.ts <= bindparam("until")
            )
        )
        self.run_orders_between = self._prepare(
            select(func.count()).where(
                o.c.run_id == key, o.c.ts > bindparam("since"), o.c.ts <= bindparam("until")
            )
        )
        self._events = t.events
        self._events_of: dict[tuple[int, int | None, bool, bool], Prepared] = {}

    def _prepare(self, statement: Any, keys: Sequence[str] | None = None) -> Prepared:
        return Prepared(statement, self._sa, keys)

    def insert(self, table: str, values: Mapping[str, Any]) -> Prepared:
        """The idempotent insert of ``table`` for rows with ``values``' columns."""
        shape = (table, tuple(values))
        prepared = self._insert_keys.get(shape)
        if prepared is None:
            prepared = self._insert_keys[shape] = self._prepare(self.inserts[table], shape[1])
        return prepared

    def events_of(self, kinds: int, scopes: int | None, since: bool, until: bool) -> Prepared:
        """Events of ``kinds`` kinds (``:kind0``...) and ``scopes`` scopes (``:scope0``...;
        None: any) with ``:since < ts <= :until``, oldest first."""
        shape = (kinds, scopes, since, until)
        prepared = self._events_of.get(shape)
        if prepared is None:
            c = self._events.c
            statement = select(self._events).where(
                c.kind.in_([bindparam(f"kind{i}", type_=Text()) for i in range(kinds)])
            )
            if scopes is not None:
                statement = statement.where(
                    c.scope.in_([bindparam(f"scope{i}", type_=Text()) for i in range(scopes)])
                )
            if since:
                statement = statement.where(c.ts > bindparam("since"))
            if until:
                statement = statement.where(c.ts <= bindparam("until"))
            prepared = self._events_of[shape] = self._prepare(statement.order_by(c.ts, c.id))
        return prepared


_QUERIES: dict[tuple[int, str, str, Any], Queries] = {}


def _queries(t: Tables, dialect: Dialect, sa_dialect: SaDialect) -> Queries:
    """The statements of ``t`` compiled for ``sa_dialect``, shared by every journal of this
    process on the same kind of database (compiling them costs more than opening a journal)."""
    key = (id(t), sa_dialect.name, sa_dialect.driver, sa_dialect.server_version_info)
    if key not in _QUERIES:
        _QUERIES[key] = Queries(t, dialect, sa_dialect)
    return _QUERIES[key]


def _as_read(table: Table) -> list[ColumnElement[Any]]:
    """``table``'s columns as a ``SELECT`` reads them: SQLite's ``RETURNING`` reports a whole REAL
    (100.0) as an integer (100), which would hash differently, so REALs are cast."""
    return [cast(c, Float).label(c.name) if isinstance(c.type, Float) else c for c in table.c]


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    """A driver cursor's rows by column name."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _driver_errors() -> Iterator[None]:
    """The driver's own exception instead of SQLAlchemy's wrapper."""
    try:
        yield
    except DBAPIError as exc:
        if exc.orig is None:
            raise
        raise exc.orig from None


class Journal:
    """The journal (:class:`~live.journal.base.JournalRepository`) on one database, through one
    connection held for the journal's life; every write is idempotent on its natural key and is
    chained into the ledger in the transaction that wrote it."""

    def __init__(self, dialect: Dialect, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or _utc_now
        self._dialect = dialect
        self._t = t = dialect.tables
        self._engine = dialect.engine()
        self._db = self._engine.connect()
        self._depth = 0
        self._tip: str | None = None  # the ledger's last chain, once read in this transaction
        self._q = _queries(t, dialect, self._engine.dialect)
        try:
            with self.transaction() as conn:
                dialect.create_schema(conn)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._engine.dispose()

    @property
    def location(self) -> str:
        """Where the journal lives, for messages (a URL's password masked)."""
        return self._dialect.location

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """All writes inside commit together or not at all (nested blocks join the outer one).

        The outermost block takes the database's write lock first (SQLite's ``BEGIN IMMEDIATE``,
        PostgreSQL's transaction-scoped advisory lock): writers queue, and each sees the chain's
        true last entry.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self._db
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with _driver_errors(), self._db.begin():
                self._dialect.lock_for_write(self._db)
                yield self._db
        finally:
            self._depth = 0
            self._tip = None

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read: inside the current transaction, else its own short one."""
        if self._depth:
            yield self._db
            return
        with _driver_errors(), self._db.begin():
            yield self._db

    def _rows(self, statement: Any, params: Mapping[str, Any] | None = None) -> list[RowMapping]:
        with self._reading() as conn:
            return list(conn.execute(statement, params).mappings())

    def _driver(self) -> Any:
        """The driver's connection under the journal's."""
        return self._db.connection.driver_connection

    def _execute(self, prepared: Prepared, values: Mapping[str, Any]) -> Any:
        """The driver's cursor, having run ``prepared``."""
        cursor = self._driver().cursor()
        cursor.execute(prepared.sql, prepared.params(values))
        return cursor

    def _fetch(self, prepared: Prepared, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row ``prepared`` reads, by column name: inside the current transaction, else
        in the driver's own short one (a no-op on SQLite's autocommit connection)."""
        if self._depth:
            return _dicts(self._execute(prepared, values))
        driver = self._driver()
        try:
            rows = _dicts(self._execute(prepared, values))
        except BaseException:
            driver.rollback()
            raise
        driver.commit()
        return rows

    def _first(self, prepared: Prepared, values: Mapping[str, Any]) -> dict[str, Any] | None:
        rows = self._fetch(prepared, values)
        return rows[0] if rows else None

    def _insert(self, table: Table, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """``INSERT ... ON CONFLICT DO NOTHING`` one row; a row it created is chained into the
        ledger in the same transaction and returned as stored (None: the key was taken).

        The write lock is held from the transaction's first statement on, so the ledger's last
        entry is read once per transaction and then followed in memory.
        """
        with self.transaction():
            rows = _dicts(self._execute(self._q.insert(table.name, values), values))
            if not rows:
                return None
            stored = rows[0]
            rowid = int(stored.pop(ROWID))
            prev = self._tip
            if prev is None:
                last = self._execute(self._q.last_chain, {}).fetchall()
                prev = str(last[0][0]) if last else GENESIS
            hashed = row_hash(stored)
            chain = chain_hash(prev, table.name, rowid, hashed)
            self._execute(
                self._q.chain,
                {"tbl": table.name, "row_id": rowid, "row_hash": hashed, "chain": chain},
            )
            self._tip = chain
            return stored

    # ---- the ledger --------------------------------------------------------------------------

    def verify(self) -> list[str]:
        """Tamper evidence: every problem found, or [] when the journal is intact.

        Each row written since the ledger existed has a ledger entry whose hash covers the row's
        content and the previous entry, so an edited, deleted or foreign row (written around the
        journal, e.g. with its triggers switched off) breaks the chain or is missing from it.
        Rows older than the ledger (journals from before it) are counted, not judged.
        """
        ledger = self._t.ledger
        with self._reading() as conn:
            entries = list(conn.execute(select(ledger).order_by(ledger.c.seq)).mappings())
            current: dict[str, dict[int, str]] = {}
            for name, table in self._t.journaled().items():
                query = select(self._dialect.rowid(table).label(ROWID), table)
                current[name] = {}
                for row in conn.execute(query).mappings():
                    stored = dict(row)
                    rowid = int(stored.pop(ROWID))
                    current[name][rowid] = row_hash(stored)
        return ledger_problems(entries, current)

    def ledger_size(self) -> int:
        """Rows chained into the ledger."""
        with self._reading() as conn:
            return int(conn.execute(select(func.count()).select_from(self._t.ledger)).scalar_one())

    # ---- runs and their leases ---------------------------------------------------------------

    @contextmanager
    def hold_run(self, run_id: str, ttl: timedelta) -> Iterator[RunLease]:
        """The run's exclusive lease for the block (see the dialect's ``lease``); journaled as
        a ``lease`` event naming its owner."""
        with self._dialect.lease(self._engine, run_id, ttl, self.clock) as lease:
            self.record_event("lease", run_id, {"owner": lease.owner}, self.clock())
            yield lease

    def lease_expiry(self, run_id: str) -> tuple[datetime, str] | None:
        """When the run's lease row expires and the host holding it, or None when nobody holds
        it (released or never taken); a past expiry is a holder that stopped renewing (a crash
        or a hung process)."""
        leases = self._t.run_leases
        try:
            rows = self._rows(
                select(leases.c.expires_at, leases.c.host).where(leases.c.run_id == run_id)
            )
        except OperationalError:  # a SQLite journal that never held a row lease has no table yet
            return None
        return (
            (datetime.fromisoformat(rows[0]["expires_at"]), str(rows[0]["host"])) if rows else None
        )

    def start_run(self, run: RunRecord) -> RunRecord:
        """Register a run, or return the one already stored under ``run.run_id``."""
        with self.transaction():
            row = self._insert(self._t.runs, run_values(run))
            stored = self.run(run.run_id) if row is None else run_record(row)
        assert stored is not None
        return stored

    def run(self, run_id: str) -> RunRecord | None:
        """The stored run ``run_id``, or None."""
        row = self._first(self._q.run, {"k": run_id})
        return None if row is None else run_record(row)

    def runs(self, unfinished_only: bool = False) -> list[RunSummary]:
        """Every run, newest first, with whether it journaled ``run_finished`` and when it began."""
        runs, events = self._t.runs, self._t.events
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

    def counts(self, run_id: str) -> dict[str, int]:
        """Row counts of one run: decisions (allowed/denied), orders, fills, positions."""
        t = self._t
        d = t.decisions.c
        queries = {
            "decisions": select(func.count()).where(d.run_id == run_id),
            "allowed": select(func.count()).where(d.run_id == run_id, d.verdict == "allow"),
            "denied": select(func.count()).where(d.run_id == run_id, d.verdict == "deny"),
            "orders": select(func.count()).where(t.orders.c.run_id == run_id),
            "fills": select(func.count()).where(t.fills.c.run_id == run_id),
            "positions": select(func.count()).where(t.positions.c.run_id == run_id),
        }
        with self._reading() as conn:
            return {name: int(conn.execute(q).scalar_one()) for name, q in queries.items()}

    # ---- policy decisions and events ---------------------------------------------------------

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
        values = decision_values(run_id, key, ts, action, decision, policy_version)
        with self.transaction():
            row = self._insert(self._t.decisions, values)
            stored = self.decision(key) if row is None else decision_record(row)
        assert stored is not None
        return stored

    def decision(self, key: str) -> DecisionRecord | None:
        row = self._first(self._q.decision, {"k": key})
        return None if row is None else decision_record(row)

    def decisions(self, run_id: str) -> list[DecisionRecord]:
        rows = self._fetch(self._q.decisions, {"k": run_id})
        return [decision_record(r) for r in rows]

    def recent_decisions(self, limit: int = 50) -> list[DecisionRecord]:
        """The latest ``limit`` decisions of every run, oldest first."""
        decisions = self._t.decisions
        rows = self._rows(select(decisions).order_by(decisions.c.id.desc()).limit(limit))
        return [decision_record(r) for r in reversed(rows)]

    def record_event(
        self,
        kind: str,
        scope: str,
        detail: Mapping[str, Any],
        ts: datetime,
        key: str | None = None,
    ) -> bool:
        """Append an event; with a ``key`` it is written at most once."""
        return self._insert(self._t.events, event_values(kind, scope, detail, ts, key)) is not None

    def events(self, scope: str | None = None, kind: str | None = None) -> list[EventRecord]:
        events = self._t.events
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
        """Events of the given kinds (and scopes) with ``since < ts <= until``, oldest first.

        Timestamps are stored as UTC ISO text, so the window compares as text.
        """
        if not kinds or (scopes is not None and not scopes):
            return []  # nothing is in an empty set
        prepared = self._q.events_of(
            len(kinds),
            None if scopes is None else len(scopes),
            since is not None,
            until is not None,
        )
        values = {f"kind{i}": kind for i, kind in enumerate(kinds)}
        values.update({f"scope{i}": scope for i, scope in enumerate(scopes or ())})
        if since is not None:
            values["since"] = utc_iso(since)
        if until is not None:
            values["until"] = utc_iso(until)
        return [event_record(r) for r in self._fetch(prepared, values)]

    # ---- orders, fills and positions ---------------------------------------------------------

    def insert_order(
        self, run_id: str, order: Order, decision_id: int | None = None
    ) -> tuple[Order, bool]:
        """Journal an order before it is sent; a known client order id is a no-op.

        Returns the stored order and whether this call created it.
        """
        values = order_values(run_id, order, decision_id)
        with self.transaction():
            row = self._insert(self._t.orders, values)
            stored = self.order(order.client_order_id) if row is None else order_record(row)
        assert stored is not None
        return stored, row is not None

    def order(self, client_order_id: str) -> Order | None:
        row = self._first(self._q.order, {"k": client_order_id})
        return None if row is None else order_record(row)

    def orders(self, run_id: str) -> list[Order]:
        rows = self._fetch(self._q.orders, {"k": run_id})
        return [order_record(r) for r in rows]

    def orders_between(
        self, strategy_id: str, since: datetime, until: datetime, run_id: str | None = None
    ) -> int:
        """Orders journaled for ``strategy_id`` (or, given ``run_id``, for that run) with
        ``since < ts <= until``."""
        key, query = (
            (strategy_id, self._q.orders_between)
            if run_id is None
            else (run_id, self._q.run_orders_between)
        )
        values = {"k": key, "since": utc_iso(since), "until": utc_iso(until)}
        return int(next(iter(self._fetch(query, values)[0].values())))

    def record_fill(self, run_id: str, fill: Fill, fill_id: str | None = None) -> bool:
        """Journal a fill of a journaled order; a known fill id is a no-op (returns False)."""
        return self._insert(self._t.fills, fill_values(run_id, fill, fill_id)) is not None

    def fills_for(self, client_order_id: str) -> list[Fill]:
        return [fill_record(r) for r in self._fetch(self._q.fills_for, {"k": client_order_id})]

    def fills(self, run_id: str) -> list[Fill]:
        return [fill_record(r) for r in self._fetch(self._q.fills, {"k": run_id})]

    def record_position(self, run_id: str, position: Position, ts: datetime) -> bool:
        """Append a position snapshot; one per (run, strategy, symbol, ts)."""
        return self._insert(self._t.positions, position_values(run_id, position, ts)) is not None

    def positions(self, run_id: str) -> list[tuple[datetime, Position]]:
        return [position_record(r) for r in self._fetch(self._q.positions, {"k": run_id})]
