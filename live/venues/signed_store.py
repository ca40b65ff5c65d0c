"""Signed chain transactions kept before they are broadcast, and the EVM nonce each one took.

A transaction is recorded (its idempotency key, sender, nonce, raw signed bytes and hash) in the
same SQLite transaction that reserves its nonce, and only then broadcast. A crash anywhere after
that commit is recovered by broadcasting the same bytes again (same hash: a chain cannot run it
twice); a crash before it leaves nothing behind and no nonce taken. ``BEGIN IMMEDIATE`` makes two
processes on one wallet take distinct nonces.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS signed (
    key TEXT PRIMARY KEY, chain TEXT NOT NULL, sender TEXT NOT NULL, nonce INTEGER,
    raw BLOB NOT NULL, tx_hash TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS voided (key TEXT PRIMARY KEY, reason TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (chain TEXT, sender TEXT, next INTEGER NOT NULL, PRIMARY KEY (chain, sender));
"""


@dataclass(frozen=True, slots=True)
class SignedTx:
    key: str
    chain: str
    sender: str
    nonce: int | None
    raw: bytes
    tx_hash: str


class SignedStore:
    """The signed-transaction log of one wallet set (SQLite, WAL, fsync'd commits)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def get(self, key: str) -> SignedTx | None:
        """The transaction signed for ``key``, if any (voided ones are not returned)."""
        row = self._db.execute(
            "SELECT key, chain, sender, nonce, raw, tx_hash FROM signed WHERE key = ? "
            "AND key NOT IN (SELECT key FROM voided)",
            (key,),
        ).fetchone()
        return SignedTx(row[0], row[1], row[2], row[3], bytes(row[4]), row[5]) if row else None

    def created_at(self, key: str) -> datetime | None:
        """When ``key``'s transaction was stored signed (None if it never was)."""
        row = self._db.execute("SELECT created_at FROM signed WHERE key = ?", (key,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def voided(self, key: str) -> str | None:
        """Why ``key``'s transaction was given up (None if it was not)."""
        row = self._db.execute("SELECT reason FROM voided WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    @contextmanager
    def reserve(self, chain: str, sender: str, chain_next: int | None) -> Iterator[_Reservation]:
        """Hold the wallet's nonce lock: yields the next nonce (the larger of ours and the chain's
        pending count); :meth:`_Reservation.record` stores the signed bytes in the same commit."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute(
                "SELECT next FROM nonces WHERE chain = ? AND sender = ?", (chain, sender)
            ).fetchone()
            ours = row[0] if row else 0
            reservation = _Reservation(self._db, chain, sender, max(ours, chain_next or 0))
            yield reservation
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def void(self, key: str, reason: str) -> None:
        """Give up a signed transaction that was never broadcast; if it holds the wallet's
        highest nonce, that nonce is handed out again (no gap for later transactions)."""
        signed = self.get(key)
        if signed is None:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT OR IGNORE INTO voided VALUES (?, ?, ?)",
                (key, reason, datetime.now(UTC).isoformat()),
            )
            if signed.nonce is not None:
                self._db.execute(
                    "UPDATE nonces SET next = ? WHERE chain = ? AND sender = ? AND next = ?",
                    (signed.nonce, signed.chain, signed.sender, signed.nonce + 1),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def record_unnonced(self, key: str, chain: str, sender: str, raw: bytes, tx_hash: str) -> None:
        """Store a signed transaction of a chain without nonces (Solana) before it is sent."""
        self._db.execute(
            "INSERT OR IGNORE INTO signed VALUES (?, ?, ?, NULL, ?, ?, ?)",
            (key, chain, sender, raw, tx_hash, datetime.now(UTC).isoformat()),
        )

    def close(self) -> None:
        self._db.close()


@dataclass
class _Reservation:
    db: sqlite3.Connection
    chain: str
    sender: str
    nonce: int

    def record(self, key: str, raw: bytes, tx_hash: str) -> None:
        """Keep the signed bytes and advance the wallet's nonce (committed with the lock)."""
        self.db.execute(
            "INSERT INTO signed VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, self.chain, self.sender, self.nonce, raw, tx_hash,
             datetime.now(UTC).isoformat()),
        )  # fmt: skip
        self.db.execute(
            "INSERT INTO nonces VALUES (?, ?, ?) ON CONFLICT (chain, sender) "
            "DO UPDATE SET next = excluded.next",
            (self.chain, self.sender, self.nonce + 1),
        )
