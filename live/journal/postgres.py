"""The journal on PostgreSQL: the dialect hooks of :class:`~live.journal.store.Journal`, for
runners that share one journal across hosts.

Same tables, columns and text encodings as on SQLite, with two differences forced by PostgreSQL:
every table has an identity ``id`` (``runs`` too; SQLite uses its implicit rowid) and append-only
is enforced by a PL/pgSQL trigger on UPDATE, DELETE and TRUNCATE. ``INSERT ... ON CONFLICT DO
UPDATE`` fires the UPDATE trigger, so no upsert can rewrite a row; the journal's own writes are
``ON CONFLICT DO NOTHING`` on the natural key. Writers chain rows into the ``ledger`` under one
transaction-scoped advisory lock, so several runners on several hosts keep one unbroken chain.

Runs are leased with a session advisory lock (released by the server the moment the holder's
connection dies, so a SIGKILLed runner never blocks its restart) plus a ``run_leases`` row that
names the owner, its host and an expiry for operators.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import make_url

from drydock.errors import ConfigError
from drydock.logs import get_logger
from live.journal.rows import TABLES
from live.journal.store import Journal, Tables, build_tables
from live.lease import LeaseHeld
from live.lease_row import LeaseLost

log = get_logger(__name__)

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


class PostgresDialect:
    """PostgreSQL's side of the journal (see :class:`~live.journal.store.Dialect`)."""

    tables: Tables = build_tables(identity=True)

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)

    @property
    def location(self) -> str:
        return masked_url(self.url)

    def engine(self) -> Engine:
        return create_engine(self.url, pool_pre_ping=True)

    def insert(self, table: Table) -> Any:
        return insert(table)

    def rowid(self, table: Table) -> ColumnElement[Any]:
        return table.c.id

    def create_schema(self, conn: Connection) -> None:
        conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
        self.tables.metadata.create_all(conn)
        conn.execute(text(APPEND_ONLY_FUNCTION))
        for statement in _append_only_triggers():
            conn.execute(text(statement))

    def lock_for_write(self, conn: Connection) -> None:
        conn.execute(select(func.pg_advisory_xact_lock(_LEDGER_LOCK)))

    @contextmanager
    def lease(
        self, engine: Engine, run_id: str, ttl: timedelta, clock: Callable[[], datetime]
    ) -> Iterator[PgRunLease]:
        """See :class:`PgRunLease`."""
        lease = PgRunLease(engine, run_id, ttl, clock, self.tables.run_leases)
        try:
            lease.acquire()
            yield lease
        finally:
            lease.release()


class PostgresJournal(Journal):
    """The journal in the PostgreSQL database at ``url`` (``postgresql://...``)."""

    def __init__(self, url: str, clock: Callable[[], datetime] | None = None) -> None:
        dialect = PostgresDialect(url)
        self.url = dialect.url
        super().__init__(dialect, clock)


class PgRunLease:
    """A run's lease on PostgreSQL: a session advisory lock plus a row naming its holder.

    The advisory lock is held by a dedicated connection: while it lives no other runner, on any
    host, can drive the run; when the holder dies the server drops the lock with its connection,
    so a restart takes over at once (the row it left is a dead holder's). :meth:`heartbeat`
    extends the row's expiry and checks that the connection, and so the lock, is still ours.
    """

    def __init__(
        self,
        engine: Engine,
        run_id: str,
        ttl: timedelta,
        clock: Callable[[], datetime],
        table: Table,
    ) -> None:
        self.run_id, self.ttl, self.clock, self._table = run_id, ttl, clock, table
        self.host = socket.gethostname()
        self.owner = f"pid {os.getpid()} on {self.host} since {clock():%Y-%m-%d %H:%M:%S} UTC"
        self._key = _lock_key(f"drydock:run:{run_id}")
        self._conn: Connection = engine.connect()
        self._held = False

    def _holder(self) -> str:
        with self._conn.begin():
            row = self._conn.execute(
                select(self._table.c.owner).where(self._table.c.run_id == self.run_id)
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
        stmt = insert(self._table).values(**values)
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
                    self._table.update()
                    .where(self._table.c.run_id == self.run_id, self._table.c.owner == self.owner)
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
                        self._table.delete().where(
                            self._table.c.run_id == self.run_id, self._table.c.owner == self.owner
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
