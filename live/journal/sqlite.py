"""SQLite (WAL) implementation of the journal: append-only tables, unique idempotency keys.

Triggers refuse UPDATE and DELETE on every table; writes use ``INSERT OR IGNORE`` on their
natural key and return the stored row. A Postgres implementation of the same protocol can
replace it (see :mod:`live.journal.base`).
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drydock.settings import get_settings
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


class SqliteJournal:
    """SQLite (WAL, synchronous=FULL) implementation of :class:`JournalRepository`."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else get_settings().journal_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._depth = 0
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self.transaction():
            for statement in (SCHEMA + APPEND_ONLY + NO_REPLACE).split(";\n"):
                if statement.strip():
                    self._conn.execute(statement)

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside commit together or not at all (nested blocks join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield self._conn
            finally:
                self._depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._depth = 0

    def _insert(self, table: str, values: Mapping[str, Any]) -> bool:
        """``INSERT OR IGNORE`` one row; a row it created is chained into the ledger in the same
        transaction. Returns whether it created one."""
        with self.transaction():
            columns = ", ".join(values)
            holes = ", ".join(f":{name}" for name in values)
            cursor = self._conn.execute(
                f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({holes})", dict(values)
            )
            created = cursor.rowcount == 1 and cursor.lastrowid is not None
            if created:
                assert cursor.lastrowid is not None
                self._chain(table, cursor.lastrowid)
        return created

    def _row_hash(self, table: str, rowid: int) -> str | None:
        row = self._one(f"SELECT * FROM {table} WHERE rowid = ?", rowid)
        return None if row is None else row_hash(dict(zip(row.keys(), tuple(row), strict=True)))

    def _chain(self, table: str, rowid: int) -> None:
        last = self._one("SELECT chain FROM ledger ORDER BY seq DESC LIMIT 1")
        prev = GENESIS if last is None else str(last["chain"])
        hashed = self._row_hash(table, rowid)
        assert hashed is not None
        self._conn.execute(
            "INSERT INTO ledger (tbl, row_id, row_hash, chain) VALUES (?,?,?,?)",
            (table, rowid, hashed, chain_hash(prev, table, rowid, hashed)),
        )

    def verify(self) -> list[str]:
        """Tamper evidence: every problem found, or [] when the journal is intact.

        Each row written since the ledger existed has a ledger entry whose hash covers the row's
        content and the previous entry, so an edited, deleted or foreign row (written around the
        journal, e.g. with triggers dropped) breaks the chain or is missing from it. Rows older
        than the ledger (journals from before it) are counted, not judged.
        """
        entries = self._all("SELECT * FROM ledger ORDER BY seq")
        current: dict[str, dict[int, str]] = {}
        for table in TABLES:
            cursor = self._conn.execute(f"SELECT rowid, * FROM {table}")
            names = [d[0] for d in cursor.description][1:]
            current[table] = {
                int(r[0]): row_hash(dict(zip(names, tuple(r)[1:], strict=True))) for r in cursor
            }
        return ledger_problems(entries, current)

    def ledger_size(self) -> int:
        """Rows chained into the ledger."""
        row = self._one("SELECT COUNT(*) FROM ledger")
        return int(row[0]) if row is not None else 0

    @contextmanager
    def hold_run(self, run_id: str, ttl: timedelta) -> Iterator[RowLease]:
        """The run's exclusive lease for the block: this host's file lock, then the shared row
        (a row of this host found while holding the file lock is a crashed process's: taken
        over at once); journaled as a ``lease`` event."""
        with run_lease(self.path, run_id) as owner:
            row = RowLease(self.path, run_id, owner, ttl, host=socket.gethostname())
            try:
                row.acquire(dead_on_this_host=True)
                try:
                    self.record_event("lease", run_id, {"owner": owner}, datetime.now(UTC))
                    yield row
                finally:
                    row.release()
            finally:
                row.close()

    @property
    def location(self) -> str:
        """Where the journal lives, for messages."""
        return str(self.path)

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, args).fetchone()
        return row

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return list(self._conn.execute(sql, args).fetchall())

    def start_run(self, run: RunRecord) -> RunRecord:
        """Register a run, or return the one already stored under ``run.run_id``."""
        with self.transaction():
            self._insert("runs", run_values(run))
            row = self._one("SELECT * FROM runs WHERE run_id = ?", run.run_id)
        assert row is not None
        return run_record(row)

    def run(self, run_id: str) -> RunRecord | None:
        """The stored run ``run_id``, or None."""
        row = self._one("SELECT * FROM runs WHERE run_id = ?", run_id)
        return None if row is None else run_record(row)

    def runs(self, unfinished_only: bool = False) -> list[RunSummary]:
        """Every run, newest first, with whether it journaled ``run_finished`` and when it began."""
        rows = self._all(
            "SELECT r.*, EXISTS (SELECT 1 FROM events e WHERE e.scope = r.run_id "
            "AND e.kind = 'run_finished') AS finished FROM runs r ORDER BY r.created_at DESC, "
            "r.run_id"
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
                "decisions", decision_values(run_id, key, ts, action, decision, policy_version)
            )
            stored = self.decision(key)
        assert stored is not None
        return stored

    def decision(self, key: str) -> DecisionRecord | None:
        row = self._one("SELECT * FROM decisions WHERE decision_key = ?", key)
        return None if row is None else decision_record(row)

    def decisions(self, run_id: str) -> list[DecisionRecord]:
        rows = self._all("SELECT * FROM decisions WHERE run_id = ? ORDER BY id", run_id)
        return [decision_record(r) for r in rows]

    def recent_decisions(self, limit: int = 50) -> list[DecisionRecord]:
        """The latest ``limit`` decisions of every run, oldest first."""
        rows = self._all("SELECT * FROM decisions ORDER BY id DESC LIMIT ?", limit)
        return [decision_record(r) for r in reversed(rows)]

    def insert_order(
        self, run_id: str, order: Order, decision_id: int | None = None
    ) -> tuple[Order, bool]:
        """Journal an order before it is sent; a known client order id is a no-op.

        Returns the stored order and whether this call created it.
        """
        with self.transaction():
            created = self._insert("orders", order_values(run_id, order, decision_id))
            stored = self.order(order.client_order_id)
        assert stored is not None
        return stored, created

    def order(self, client_order_id: str) -> Order | None:
        row = self._one("SELECT * FROM orders WHERE client_order_id = ?", client_order_id)
        return None if row is None else order_record(row)

    def orders(self, run_id: str) -> list[Order]:
        return [
            order_record(r)
            for r in self._all("SELECT * FROM orders WHERE run_id = ? ORDER BY id", run_id)
        ]

    def record_fill(self, run_id: str, fill: Fill, fill_id: str | None = None) -> bool:
        """Journal a fill of a journaled order; a known fill id is a no-op (returns False)."""
        return self._insert("fills", fill_values(run_id, fill, fill_id))

    def fills_for(self, client_order_id: str) -> list[Fill]:
        rows = self._all(
            "SELECT * FROM fills WHERE client_order_id = ? ORDER BY id", client_order_id
        )
        return [fill_record(r) for r in rows]

    def fills(self, run_id: str) -> list[Fill]:
        return [
            fill_record(r)
            for r in self._all("SELECT * FROM fills WHERE run_id = ? ORDER BY id", run_id)
        ]

    def record_position(self, run_id: str, position: Position, ts: datetime) -> bool:
        """Append a position snapshot; one per (run, strategy, symbol, ts)."""
        return self._insert("positions", position_values(run_id, position, ts))

    def positions(self, run_id: str) -> list[tuple[datetime, Position]]:
        rows = self._all("SELECT * FROM positions WHERE run_id = ? ORDER BY id", run_id)
        return [position_record(r) for r in rows]

    def record_event(
        self,
        kind: str,
        scope: str,
        detail: Mapping[str, Any],
        ts: datetime,
        key: str | None = None,
    ) -> bool:
        """Append an event; with a ``key`` it is written at most once."""
        return self._insert("events", event_values(kind, scope, detail, ts, key))

    def events(self, scope: str | None = None, kind: str | None = None) -> list[EventRecord]:
        rows = self._all(
            "SELECT * FROM events WHERE (?1 IS NULL OR scope = ?1) AND (?2 IS NULL OR kind = ?2) "
            "ORDER BY id",
            scope,
            kind,
        )
        return [event_record(r) for r in rows]

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
        sql = f"SELECT * FROM events WHERE kind IN ({','.join('?' * len(kinds))})"
        args: list[Any] = list(kinds)
        if scopes is not None:
            sql += f" AND scope IN ({','.join('?' * len(scopes))})"
            args.extend(scopes)
        if since is not None:
            sql += " AND ts > ?"
            args.append(utc_iso(since))
        if until is not None:
            sql += " AND ts <= ?"
            args.append(utc_iso(until))
        rows = self._all(sql + " ORDER BY ts, id", *args)
        return [event_record(r) for r in rows]

    def orders_between(self, strategy_id: str, since: datetime, until: datetime) -> int:
        """Orders journaled for ``strategy_id`` with ``since < ts <= until``."""
        row = self._one(
            "SELECT COUNT(*) FROM orders WHERE strategy_id = ? AND ts > ? AND ts <= ?",
            strategy_id, utc_iso(since), utc_iso(until),
        )  # fmt: skip
        return int(row[0]) if row is not None else 0

    def counts(self, run_id: str) -> dict[str, int]:
        """Row counts of one run: decisions (allowed/denied), orders, fills, positions."""
        out: dict[str, int] = {}
        for name, sql in (
            ("decisions", "SELECT COUNT(*) FROM decisions WHERE run_id = ?"),
            ("allowed", "SELECT COUNT(*) FROM decisions WHERE run_id = ? AND verdict = 'allow'"),
            ("denied", "SELECT COUNT(*) FROM decisions WHERE run_id = ? AND verdict = 'deny'"),
            ("orders", "SELECT COUNT(*) FROM orders WHERE run_id = ?"),
            ("fills", "SELECT COUNT(*) FROM fills WHERE run_id = ?"),
            ("positions", "SELECT COUNT(*) FROM positions WHERE run_id = ?"),
        ):
            row = self._one(sql, run_id)
            out[name] = int(row[0]) if row is not None else 0
        return out
