"""The live journal: runs, policy decisions, orders, fills, position snapshots and events.

:class:`JournalRepository` is the interface the runner sees; :class:`SqliteJournal` (WAL, at
``settings.journal_path``) implements it, and a Postgres implementation can replace it.
"""

from live.journal.base import (
    DecisionRecord,
    EventRecord,
    JournalRepository,
    RunRecord,
    RunSummary,
    client_order_id,
    fill_key,
)
from live.journal.sqlite import TABLES, SqliteJournal, open_journal

__all__ = [
    "TABLES",
    "DecisionRecord",
    "EventRecord",
    "JournalRepository",
    "RunRecord",
    "RunSummary",
    "SqliteJournal",
    "client_order_id",
    "fill_key",
    "open_journal",
]
