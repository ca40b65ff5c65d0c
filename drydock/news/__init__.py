"""The ``news`` lake dataset: one normalised shape per story (canonical URL, plain text, UTC times,
content hash) stored one Parquet file per publication day. Fetching lives in drydock.adapters.news."""

from __future__ import annotations

from drydock.news._normalize import (
    COLUMNS,
    TRACKING,
    canonical_url,
    content_hash,
    news_row,
    plain_text,
    utc,
)
from drydock.news._store import (
    DATASET,
    QUARANTINE,
    REBUILD,
    SCHEMA,
    quarantine,
    read_news,
    write_news,
)

__all__ = [
    "COLUMNS",
    "DATASET",
    "QUARANTINE",
    "REBUILD",
    "SCHEMA",
    "TRACKING",
    "canonical_url",
    "content_hash",
    "news_row",
    "plain_text",
    "quarantine",
    "read_news",
    "utc",
    "write_news",
]
