"""A run lease as a row with an owner, a heartbeat and an expiry, for journals several hosts share.

The file lock of :mod:`live.lease` protects one host. A row in ``run_leases`` protects a run
across hosts: acquiring is a compare-and-set in one ``BEGIN IMMEDIATE`` transaction (free, expired,
or already ours); the holder renews it with :meth:`RowLease.heartbeat` every loop, well inside the
time to live; a holder that stalled past its expiry and was taken over learns it at its next
heartbeat (:class:`LeaseLost`) and must stop, so two hosts never drive one run. A crashed holder's
row simply expires. The table sits beside the journal's tables and is not part of its ledger.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from live.lease import LeaseHeld

SCHEMA = """CREATE TABLE IF NOT EXISTS run_leases (
    run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, acquired_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
)"""


class LeaseLost(LeaseHeld):
    """Our lease expired and another owner took the run over: stop at once."""


class RowLease:
    """The lease of ``run_id`` in the journal database at ``path`` for ``owner``."""

    def __init__(self, path: Path, run_id: str, owner: str, ttl: timedelta = timedelta(seconds=60),
                 clock: Callable[[], datetime] | None = None, host: str = "") -> None:  # fmt: skip
        self.run_id, self.owner, self.ttl, self.host = run_id, owner, ttl, host
        self.clock = clock or (lambda: datetime.now(UTC))
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._db.execute(SCHEMA)

    def _row(self) -> tuple[str, datetime, str] | None:
        row = self._db.execute(
            "SELECT owner, expires_at, host FROM run_leases WHERE run_id = ?", (self.run_id,)
        ).fetchone()
        return None if row is None else (str(row[0]), datetime.fromisoformat(row[1]), str(row[2]))

    def acquire(self, dead_on_this_host: bool = False) -> None:
        """Take the lease if it is free, expired or ours; else raise naming the holder.

        ``dead_on_this_host``: the caller holds this host's OS lock of the run, so a row another
        process of this host left behind belongs to a dead process (a crash) and is taken over
        at once instead of waiting for its expiry.
        """
        now = self.clock()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            held = self._row()
            stale = (
                held is not None and dead_on_this_host and bool(self.host) and held[2] == self.host
            )
            if held is not None and held[0] != self.owner and held[1] > now and not stale:
                raise LeaseHeld(
                    f"Run {self.run_id} is leased by {held[0]} until {held[1]:%Y-%m-%d %H:%M:%S} "
                    "UTC; wait for it to expire or stop that runner (two hosts on one run would "
                    "send orders twice)."
                )
            self._db.execute(
                "INSERT INTO run_leases VALUES (?, ?, ?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET "
                "owner = excluded.owner, host = excluded.host, acquired_at = excluded.acquired_at, "
                "expires_at = excluded.expires_at",
                (self.run_id, self.owner, self.host, now.isoformat(), (now + self.ttl).isoformat()),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def heartbeat(self) -> None:
        """Extend our expiry; raise :class:`LeaseLost` when another owner holds the run now."""
        now = self.clock()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            held = self._row()
            if held is None or held[0] != self.owner:
                holder = "nobody" if held is None else held[0]
                raise LeaseLost(
                    f"Run {self.run_id}: this runner ({self.owner}) lost its lease to {holder}; "
                    "it stops here so that one runner drives the run."
                )
            self._db.execute(
                "UPDATE run_leases SET expires_at = ? WHERE run_id = ? AND owner = ?",
                ((now + self.ttl).isoformat(), self.run_id, self.owner),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def release(self) -> None:
        """Give the lease up (only if still ours)."""
        self._db.execute(
            "DELETE FROM run_leases WHERE run_id = ? AND owner = ?", (self.run_id, self.owner)
        )

    def close(self) -> None:
        self._db.close()
