"""The live journal: runs, policy decisions, orders, fills, position snapshots and events.

:class:`JournalRepository` is the interface the runner sees (the union of narrow roles in
:mod:`live.journal.base`). :class:`Journal` is its one implementation, on SQLAlchemy Core, with
small dialect hooks for SQLite and PostgreSQL: :class:`SqliteJournal` (WAL, at
``settings.journal_path``) is the default; with ``DRYDOCK_JOURNAL_URL`` set,
:class:`~live.journal.postgres.PostgresJournal` keeps the same schema on PostgreSQL so that several
runners, on several hosts, share one journal. :func:`open_journal` picks between them.
"""

from __future__ import annotations

from pathlib import Path

from drydock.settings import get_settings
from live.journal.base import (
    DecisionRecord,
    EventRecord,
    JournalRepository,
    LeaseStore,
    Ledger,
    OrdersAndFills,
    PolicyEvents,
    RunLease,
    RunRecord,
    RunStore,
    RunSummary,
    Transactional,
    client_order_id,
    fill_key,
)
from live.journal.rows import TABLES
from live.journal.sqlite import SqliteJournal
from live.journal.store import Journal


def open_journal(path: str | Path | None = None) -> Journal:
    """The journal at ``path`` (SQLite), else DRYDOCK_JOURNAL_URL's (PostgreSQL), else SQLite at
    ``settings.journal_path``; opening creates the schema when missing."""
    if path is not None:
        return SqliteJournal(path)
    settings = get_settings()
    if settings.journal_url:
        from live.journal.postgres import PostgresJournal  # psycopg only when it is used

        return PostgresJournal(settings.journal_url)
    return SqliteJournal(settings.journal_path)


def journal_location() -> str:
    """Where :func:`open_journal` opens, for messages (a URL's password masked)."""
    settings = get_settings()
    if settings.journal_url:
        from live.journal.postgres import masked_url

        return masked_url(settings.journal_url)
    return str(settings.journal_path)


def journal_exists() -> bool:
    """False only for a SQLite journal not created yet (reading must not create one)."""
    settings = get_settings()
    return bool(settings.journal_url) or settings.journal_path.exists()


__all__ = [
    "TABLES",
    "DecisionRecord",
    "EventRecord",
    "Journal",
    "JournalRepository",
    "LeaseStore",
    "Ledger",
    "OrdersAndFills",
    "PolicyEvents",
    "RunLease",
    "RunRecord",
    "RunStore",
    "RunSummary",
    "SqliteJournal",
    "Transactional",
    "client_order_id",
    "fill_key",
    "journal_exists",
    "journal_location",
    "open_journal",
]
