"""One small persistent cache: JSON values by key in SQLite (WAL), with the time each was written
(for time-to-live reads) and additive counters (for budgets). The token-safety assessments and the
Claude sentiment scores both live in one of these; a namespace keeps users of one file apart.

Writes are single statements (atomic); two processes may share a file (SQLite locks, a 5 s busy
timeout). Values must be JSON-serialisable; callers convert their dataclasses at the boundary.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

__all__ = ["JsonCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_entries (
    namespace TEXT NOT NULL, key TEXT NOT NULL, written_at REAL NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE TABLE IF NOT EXISTS cache_counters (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""


class JsonCache:
    """JSON values and integer counters by string key, in ``namespace`` of the SQLite file ``path``."""

    def __init__(self, path: Path, namespace: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.namespace = path, namespace
        self._db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def get(self, key: str, max_age: float | None = None, now: float | None = None) -> Any | None:
        """The value under ``key``, or None if absent or older than ``max_age`` seconds."""
        row = self._db.execute(
            "SELECT written_at, value FROM cache_entries WHERE namespace = ? AND key = ?",
            (self.namespace, key),
        ).fetchone()
        if row is None:
            return None
        if max_age is not None and (time.time() if now is None else now) - row[0] >= max_age:
            return None
        return json.loads(row[1])

    def put(self, key: str, value: Any, now: float | None = None, replace: bool = True) -> None:
        """Store ``value`` under ``key`` (``replace=False`` keeps a value already there)."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self._db.execute(
            f"{verb} INTO cache_entries VALUES (?, ?, ?, ?)",
            (self.namespace, key, time.time() if now is None else now, json.dumps(value)),
        )

    def count(self, key: str) -> int:
        """The counter under ``key`` (0 when never added to)."""
        row = self._db.execute(
            "SELECT value FROM cache_counters WHERE namespace = ? AND key = ?",
            (self.namespace, key),
        ).fetchone()
        return int(row[0]) if row else 0

    def add(self, key: str, amount: int) -> None:
        """Add ``amount`` to the counter under ``key`` in one statement (safe across processes)."""
        self._db.execute(
            "INSERT INTO cache_counters VALUES (?, ?, ?) ON CONFLICT(namespace, key) "
            "DO UPDATE SET value = value + excluded.value",
            (self.namespace, key, amount),
        )

    def close(self) -> None:
        self._db.close()
