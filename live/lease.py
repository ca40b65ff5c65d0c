"""An exclusive lease on a run: one process at a time may drive a run id.

The lease is an OS file lock (``fcntl.flock``, released by the kernel when the process dies, so a
crash never leaves a stale lease) next to the journal, ``<journal dir>/leases/<hash>.lock``, whose
content names the owner (pid, host, start time). A second process on the same run id fails at
once with that owner; the lease is also journaled (``lease`` events) for the record.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from drydock.errors import DrydockError


class LeaseHeld(DrydockError):
    """Another process holds the run's lease."""


def _lock_path(journal_path: Path, run_id: str) -> Path:
    return (
        journal_path.parent / "leases" / f"{hashlib.sha256(run_id.encode()).hexdigest()[:24]}.lock"
    )


def held_on_this_host(journal_path: Path, run_id: str) -> bool:
    """Whether a live process of this host holds ``run_id``'s file lock now (the kernel drops
    a dead process's lock, so False with a lease row of this host means its holder died)."""
    path = _lock_path(journal_path, run_id)
    if not path.exists():
        return False
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


@contextmanager
def run_lease(journal_path: Path, run_id: str) -> Iterator[str]:
    """Hold the exclusive lease of ``run_id`` for the block; yields the owner text."""
    path = _lock_path(journal_path, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            raise LeaseHeld(
                f"Run {run_id} is being driven by {owner}; wait for it to finish or stop it "
                "before resuming (two processes on one run would send orders twice)."
            ) from None
        owner = f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
        handle.seek(0)
        handle.truncate()
        handle.write(owner)
        handle.flush()
        yield owner
    finally:
        handle.close()  # closing the descriptor releases the lock
