"""The journal on SQLite (WAL): the dialect hooks of :class:`~live.journal.store.Journal`.

The schema is created from the SQL text below, byte for byte the DDL of every journal file written
so far. Triggers refuse UPDATE and DELETE on every table (``RAISE(ABORT)``) and make an insert that
would collide with a stored row a no-op, so ``INSERT OR REPLACE`` cannot rewrite one. A write
transaction is ``BEGIN IMMEDIATE`` (writers queue on the file); a run is leased with this host's
file lock (:mod:`live.lease`) plus the ``run_leases`` row (:mod:`live.lease_row`).
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    NullPool,
    Table,
    create_engine,
    literal_column,
)
from sqlalchemy.dialects.sqlite import insert

from drydock.settings import get_settings
from live.journal.rows import TABLES
from live.journal.store import Journal, Tables, build_tables
from live.lease import run_lease
from live.lease_row import RowLease

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, strategy_id TEXT NOT NULL, params_json TEXT NOT NULL,
    mode TEXT NOT NULL, venue TEXT NOT NULL, symbol TEXT NOT NULL, timeframe TEXT NOT NULL,
    start_ts TEXT, end_ts TEXT, policy_version TEXT NOT NULL, policy_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY, decision_key TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL REFERENCES runs(run_id), ts TEXT NOT NULL, strategy_id TEXT NOT NULL,
    action_kind TEXT NOT NULL, venue TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT,
    notional_usd REAL NOT NULL, reduces_position INTEGER NOT NULL, verdict TEXT NOT NULL,
    policy_version TEXT NOT NULL, policy_hash TEXT NOT NULL, explanation_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, client_order_id TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL REFERENCES runs(run_id), decision_id INTEGER REFERENCES decisions(id),
    strategy_id TEXT NOT NULL, venue TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
    qty TEXT NOT NULL, price TEXT NOT NULL, ts TEXT NOT NULL, status TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    id INTEGER PRIMARY KEY, fill_id TEXT NOT NULL UNIQUE,
    client_order_id TEXT NOT NULL REFERENCES orders(client_order_id), run_id TEXT NOT NULL,
    venue TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
    price TEXT NOT NULL, fee TEXT NOT NULL, ts TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, strategy_id TEXT NOT NULL,
    symbol TEXT NOT NULL, qty TEXT NOT NULL, avg_price TEXT NOT NULL, ts TEXT NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (run_id, strategy_id, symbol, ts)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, event_key TEXT UNIQUE, kind TEXT NOT NULL, scope TEXT NOT NULL,
    detail_json TEXT NOT NULL, ts TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_scope ON events (scope, kind, id);
CREATE INDEX IF NOT EXISTS fills_order ON fills (client_order_id);
CREATE INDEX IF NOT EXISTS events_kind_ts ON events (kind, ts);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, row_id INTEGER NOT NULL,
    row_hash TEXT NOT NULL, chain TEXT NOT NULL, UNIQUE (tbl, row_id)
);
"""

APPEND_ONLY = "".join(
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;\n"
    for t in (*TABLES, "ledger")
    for op in ("UPDATE", "DELETE")
)


#: Natural key of each table: a second row with the same key (or id) is never stored.
_KEYS = {
    "runs": "run_id = NEW.run_id",
    "decisions": "id = NEW.id OR decision_key = NEW.decision_key",
    "orders": "id = NEW.id OR client_order_id = NEW.client_order_id",
    "fills": "id = NEW.id OR fill_id = NEW.fill_id",
    "positions": "id = NEW.id OR (run_id = NEW.run_id AND strategy_id = NEW.strategy_id "
    "AND symbol = NEW.symbol AND ts = NEW.ts)",
    "events": "id = NEW.id OR event_key = NEW.event_key",
    "ledger": "seq = NEW.seq OR (tbl = NEW.tbl AND row_id = NEW.row_id)",
}
#: ``INSERT OR REPLACE`` / ``REPLACE INTO`` delete the old row without firing the DELETE trigger
#: (unless a connection enables recursive triggers), so a BEFORE INSERT trigger makes any insert
#: that would collide with a stored row a no-op: the journal's own ``INSERT OR IGNORE`` keeps its
#: meaning and a replace can no longer rewrite an order, a fill or a decision.
NO_REPLACE = "".join(
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_replace BEFORE INSERT ON {t} "
    f"WHEN EXISTS (SELECT 1 FROM {t} WHERE {cond}) BEGIN SELECT RAISE(IGNORE); END;\n"
    for t, cond in _KEYS.items()
)


#: Every connection: write-ahead log, an fsync per commit, foreign keys enforced.
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON")
#: Seconds a statement waits for another connection's write lock (SQLite's busy timeout).
BUSY_TIMEOUT = 30.0


class SqliteDialect:
    """SQLite's side of the journal (see :class:`~live.journal.store.Dialect`)."""

    tables: Tables = build_tables(identity=False)

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def location(self) -> str:
        return str(self.path)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: the driver opens no transaction of its own; the journal's are
        # explicit (``BEGIN IMMEDIATE`` ... ``COMMIT``), every other statement commits alone.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT)
        for pragma in PRAGMAS:
            conn.execute(pragma)
        return conn

    def engine(self) -> Engine:
        return create_engine("sqlite://", creator=self._connect, poolclass=NullPool)

    def insert(self, table: Table) -> Any:
        return insert(table)

    def rowid(self, table: Table) -> ColumnElement[Any]:
        return literal_column("rowid")

    def create_schema(self, conn: Connection) -> None:
        for statement in (SCHEMA + APPEND_ONLY + NO_REPLACE).split(";\n"):
            if statement.strip():
                conn.exec_driver_sql(statement)

    def lock_for_write(self, conn: Connection) -> None:
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.execute("BEGIN IMMEDIATE")  # on the driver: the runner's hot path takes it per bar

    @contextmanager
    def lease(
        self, engine: Engine, run_id: str, ttl: timedelta, clock: Callable[[], datetime]
    ) -> Iterator[RowLease]:
        """This host's file lock, then the shared row (a row of this host found while holding
        the file lock is a crashed process's: taken over at once)."""
        with run_lease(self.path, run_id) as owner:
            row = RowLease(self.path, run_id, owner, ttl, clock, host=socket.gethostname())
            try:
                row.acquire(dead_on_this_host=True)
                try:
                    yield row
                finally:
                    row.release()
            finally:
                row.close()


class SqliteJournal(Journal):
    """The journal in the SQLite file at ``path`` (default: ``settings.journal_path``)."""

    def __init__(
        self, path: str | Path | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.path = Path(path) if path is not None else get_settings().journal_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(SqliteDialect(self.path), clock)

    @property
    def _conn(self) -> sqlite3.Connection:
        """The driver's connection under the journal's (for inspection and tests)."""
        conn = self._db.connection.driver_connection
        assert isinstance(conn, sqlite3.Connection)
        return conn
