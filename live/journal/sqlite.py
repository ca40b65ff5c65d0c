"""SQLite (WAL) implementation of the journal: append-only tables, unique idempotency keys.

Triggers refuse UPDATE and DELETE on every table; writes use ``INSERT OR IGNORE`` on their
natural key and return the stored row. A Postgres implementation of the same protocol can
replace it (see :mod:`live.journal.base`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from drydock.settings import get_settings
from drydock.types import Action, Fill, Order, OrderStatus, PolicyDecision, Position, Side, Verdict
from live.journal.base import (
    DecisionRecord,
    EventRecord,
    RunRecord,
    RunSummary,
    fill_key,
    utc_iso,
)

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

TABLES = ("runs", "decisions", "orders", "fills", "positions", "events")
#: The hash chain starts from this value.
GENESIS = "0" * 64

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


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        row["run_id"], row["strategy_id"], json.loads(row["params_json"]), row["mode"],
        row["venue"], row["symbol"], row["timeframe"], row["policy_version"],
        row["policy_hash"], _dt(row["start_ts"]), _dt(row["end_ts"]),
    )  # fmt: skip


def _order(row: sqlite3.Row) -> Order:
    return Order(
        row["client_order_id"], row["strategy_id"], row["venue"], row["symbol"],
        Side(row["side"]), Decimal(row["qty"]), Decimal(row["price"]),
        datetime.fromisoformat(row["ts"]), OrderStatus(row["status"]),
    )  # fmt: skip


def _fill(row: sqlite3.Row) -> Fill:
    return Fill(
        row["client_order_id"], row["venue"], row["symbol"], Side(row["side"]),
        Decimal(row["qty"]), Decimal(row["price"]), Decimal(row["fee"]),
        datetime.fromisoformat(row["ts"]),
    )  # fmt: skip


def _decision(row: sqlite3.Row) -> DecisionRecord:
    return DecisionRecord(
        row["id"], row["decision_key"], row["run_id"], datetime.fromisoformat(row["ts"]),
        Verdict(row["verdict"]), row["policy_hash"], json.loads(row["explanation_json"]),
    )  # fmt: skip


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

    def _insert(self, table: str, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        """Run one ``INSERT OR IGNORE``; a row it created is chained into the ledger in the same
        transaction (callers hold :meth:`transaction`)."""
        cursor = self._conn.execute(sql, args)
        if cursor.rowcount == 1 and cursor.lastrowid is not None:
            self._chain(table, cursor.lastrowid)
        return cursor

    def _row_hash(self, table: str, rowid: int) -> str | None:
        row = self._one(f"SELECT * FROM {table} WHERE rowid = ?", rowid)
        if row is None:
            return None
        blob = json.dumps(dict(zip(row.keys(), tuple(row), strict=True)), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _chain(self, table: str, rowid: int) -> None:
        last = self._one("SELECT chain FROM ledger ORDER BY seq DESC LIMIT 1")
        prev = GENESIS if last is None else str(last["chain"])
        row_hash = self._row_hash(table, rowid)
        assert row_hash is not None
        chain = hashlib.sha256(f"{prev}|{table}|{rowid}|{row_hash}".encode()).hexdigest()
        self._conn.execute(
            "INSERT INTO ledger (tbl, row_id, row_hash, chain) VALUES (?,?,?,?)",
            (table, rowid, row_hash, chain),
        )

    def verify(self) -> list[str]:
        """Tamper evidence: every problem found, or [] when the journal is intact.

        Each row written since the ledger existed has a ledger entry whose hash covers the row's
        content and the previous entry, so an edited, deleted or foreign row (written around the
        journal, e.g. with triggers dropped) breaks the chain or is missing from it. Rows older
        than the ledger (journals from before it) are counted, not judged.
        """
        problems: list[str] = []
        prev = GENESIS
        first: dict[str, int] = {}
        seen: dict[str, set[int]] = {t: set() for t in TABLES}
        for entry in self._all("SELECT * FROM ledger ORDER BY seq"):
            table, rowid = str(entry["tbl"]), int(entry["row_id"])
            first.setdefault(table, rowid)
            seen.setdefault(table, set()).add(rowid)
            current = self._row_hash(table, rowid)
            expected = hashlib.sha256(f"{prev}|{table}|{rowid}|{entry['row_hash']}".encode())
            if entry["chain"] != expected.hexdigest():
                problems.append(f"ledger entry {entry['seq']} does not chain to the one before it")
            if current is None:
                problems.append(f"{table} row {rowid} was deleted")
            elif current != entry["row_hash"]:
                problems.append(f"{table} row {rowid} was modified after it was written")
            prev = str(entry["chain"])
        for table in TABLES:
            start = first.get(table)
            if start is None:
                continue
            rows = self._all(f"SELECT rowid FROM {table} WHERE rowid >= ?", start)
            foreign = [int(r[0]) for r in rows if int(r[0]) not in seen[table]]
            if foreign:
                problems.append(
                    f"{table} rows {foreign[:5]} are not in the ledger (written around the journal)"
                )
        return problems

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, args).fetchone()
        return row

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return list(self._conn.execute(sql, args).fetchall())

    def start_run(self, run: RunRecord) -> RunRecord:
        """Register a run, or return the one already stored under ``run.run_id``."""
        with self.transaction():
            self._insert(
                "runs",
                "INSERT OR IGNORE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run.run_id, run.strategy_id, json.dumps(dict(run.params), sort_keys=True),
                    run.mode, run.venue, run.symbol, run.timeframe,
                    None if run.start is None else utc_iso(run.start),
                    None if run.end is None else utc_iso(run.end),
                    run.policy_version, run.policy_hash, _now(),
                ),
            )  # fmt: skip
            row = self._one("SELECT * FROM runs WHERE run_id = ?", run.run_id)
        assert row is not None
        return _run(row)

    def run(self, run_id: str) -> RunRecord | None:
        """The stored run ``run_id``, or None."""
        row = self._one("SELECT * FROM runs WHERE run_id = ?", run_id)
        return None if row is None else _run(row)

    def runs(self, unfinished_only: bool = False) -> list[RunSummary]:
        """Every run, newest first, with whether it journaled ``run_finished`` and when it began."""
        rows = self._all(
            "SELECT r.*, EXISTS (SELECT 1 FROM events e WHERE e.scope = r.run_id "
            "AND e.kind = 'run_finished') AS finished FROM runs r ORDER BY r.created_at DESC, "
            "r.run_id"
        )
        out = [
            RunSummary(_run(r), bool(r["finished"]), datetime.fromisoformat(r["created_at"]))
            for r in rows
        ]
        return [s for s in out if not s.finished] if unfinished_only else out

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
        explanation = {
            "summary": decision.explain(),
            "violations": [asdict(v) for v in decision.violations],
            "action": asdict(action),
        }
        with self.transaction():
            self._insert(
                "decisions",
                "INSERT OR IGNORE INTO decisions (decision_key, run_id, ts, strategy_id, "
                "action_kind, venue, symbol, side, notional_usd, reduces_position, verdict, "
                "policy_version, policy_hash, explanation_json, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key, run_id, utc_iso(ts), action.strategy_id, action.kind, action.venue,
                    action.symbol, None if action.side is None else action.side.value,
                    action.notional_usd, int(action.reduces_position), decision.verdict.value,
                    policy_version, decision.policy_hash,
                    json.dumps(explanation, sort_keys=True, default=str), _now(),
                ),
            )  # fmt: skip
            stored = self.decision(key)
        assert stored is not None
        return stored

    def decision(self, key: str) -> DecisionRecord | None:
        row = self._one("SELECT * FROM decisions WHERE decision_key = ?", key)
        return None if row is None else _decision(row)

    def decisions(self, run_id: str) -> list[DecisionRecord]:
        rows = self._all("SELECT * FROM decisions WHERE run_id = ? ORDER BY id", run_id)
        return [_decision(r) for r in rows]

    def recent_decisions(self, limit: int = 50) -> list[DecisionRecord]:
        """The latest ``limit`` decisions of every run, oldest first."""
        rows = self._all("SELECT * FROM decisions ORDER BY id DESC LIMIT ?", limit)
        return [_decision(r) for r in reversed(rows)]

    def insert_order(
        self, run_id: str, order: Order, decision_id: int | None = None
    ) -> tuple[Order, bool]:
        """Journal an order before it is sent; a known client order id is a no-op.

        Returns the stored order and whether this call created it.
        """
        with self.transaction():
            cursor = self._insert(
                "orders",
                "INSERT OR IGNORE INTO orders (client_order_id, run_id, decision_id, strategy_id, "
                "venue, symbol, side, qty, price, ts, status, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    order.client_order_id, run_id, decision_id, order.strategy_id, order.venue,
                    order.symbol, order.side.value, str(order.qty), str(order.price),
                    utc_iso(order.ts), order.status.value, _now(),
                ),
            )  # fmt: skip
            created = cursor.rowcount == 1
            stored = self.order(order.client_order_id)
        assert stored is not None
        return stored, created

    def order(self, client_order_id: str) -> Order | None:
        row = self._one("SELECT * FROM orders WHERE client_order_id = ?", client_order_id)
        return None if row is None else _order(row)

    def orders(self, run_id: str) -> list[Order]:
        return [
            _order(r)
            for r in self._all("SELECT * FROM orders WHERE run_id = ? ORDER BY id", run_id)
        ]

    def record_fill(self, run_id: str, fill: Fill, fill_id: str | None = None) -> bool:
        """Journal a fill of a journaled order; a known fill id is a no-op (returns False)."""
        with self.transaction():
            cursor = self._insert(
                "fills",
                "INSERT OR IGNORE INTO fills (fill_id, client_order_id, run_id, venue, symbol, "
                "side, qty, price, fee, ts, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    fill_id or fill_key(fill), fill.client_order_id, run_id, fill.venue,
                    fill.symbol, fill.side.value, str(fill.qty), str(fill.price), str(fill.fee),
                    utc_iso(fill.ts), _now(),
                ),
            )  # fmt: skip
        return cursor.rowcount == 1

    def fills_for(self, client_order_id: str) -> list[Fill]:
        rows = self._all(
            "SELECT * FROM fills WHERE client_order_id = ? ORDER BY id", client_order_id
        )
        return [_fill(r) for r in rows]

    def fills(self, run_id: str) -> list[Fill]:
        return [
            _fill(r) for r in self._all("SELECT * FROM fills WHERE run_id = ? ORDER BY id", run_id)
        ]

    def record_position(self, run_id: str, position: Position, ts: datetime) -> bool:
        """Append a position snapshot; one per (run, strategy, symbol, ts)."""
        with self.transaction():
            cursor = self._insert(
                "positions",
                "INSERT OR IGNORE INTO positions (run_id, strategy_id, symbol, qty, avg_price, "
                "ts, created_at) VALUES (?,?,?,?,?,?,?)",
                (
                    run_id, position.strategy_id, position.symbol, str(position.qty),
                    str(position.avg_price), utc_iso(ts), _now(),
                ),
            )  # fmt: skip
        return cursor.rowcount == 1

    def positions(self, run_id: str) -> list[tuple[datetime, Position]]:
        rows = self._all("SELECT * FROM positions WHERE run_id = ? ORDER BY id", run_id)
        return [
            (
                datetime.fromisoformat(r["ts"]),
                Position(r["strategy_id"], r["symbol"], Decimal(r["qty"]), Decimal(r["avg_price"])),
            )
            for r in rows
        ]

    def record_event(
        self,
        kind: str,
        scope: str,
        detail: Mapping[str, Any],
        ts: datetime,
        key: str | None = None,
    ) -> bool:
        """Append an event; with a ``key`` it is written at most once."""
        with self.transaction():
            cursor = self._insert(
                "events",
                "INSERT OR IGNORE INTO events (event_key, kind, scope, detail_json, ts, "
                "created_at) VALUES (?,?,?,?,?,?)",
                (key, kind, scope, json.dumps(dict(detail), sort_keys=True, default=str),
                 utc_iso(ts), _now()),
            )  # fmt: skip
        return cursor.rowcount == 1

    def events(self, scope: str | None = None, kind: str | None = None) -> list[EventRecord]:
        rows = self._all(
            "SELECT * FROM events WHERE (?1 IS NULL OR scope = ?1) AND (?2 IS NULL OR kind = ?2) "
            "ORDER BY id",
            scope,
            kind,
        )
        return [
            EventRecord(r["id"], r["kind"], r["scope"], json.loads(r["detail_json"]),
                        datetime.fromisoformat(r["ts"]))
            for r in rows
        ]  # fmt: skip

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
        return [
            EventRecord(r["id"], r["kind"], r["scope"], json.loads(r["detail_json"]),
                        datetime.fromisoformat(r["ts"]))
            for r in rows
        ]  # fmt: skip

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


def open_journal(path: str | Path | None = None) -> SqliteJournal:
    """Open (creating if needed) the journal at ``path`` or ``settings.journal_path``."""
    return SqliteJournal(path)
