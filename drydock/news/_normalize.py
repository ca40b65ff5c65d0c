"""One shape for every news item: canonical URL, plain-text title and summary, UTC times, and a
content hash that is the same for the same story from two feeds.

The content hash is sha256 of the title folded to lower case with punctuation and repeated spaces
removed: two feeds carrying one story (an aggregator and the publisher) give one row, and a
changed URL tracking parameter does not make a new item.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters that identify a click, not a document.
TRACKING = re.compile(
    r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid|ref|ref_src|igshid|cmpid|ito|s_cid)$", re.I
)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_FOLD = re.compile(r"[^\w\s]", re.UNICODE)
COLUMNS = ("content_hash", "published_at", "fetched_at", "source", "sources", "title", "summary",
           "url", "language", "currencies")  # fmt: skip


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, fragment and tracking parameters dropped, default port and a
    trailing slash removed: ``HTTPS://Example.com/a/?utm_source=x#top`` -> ``https://example.com/a``."""
    parts = urlsplit(url.strip())
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k)
    ]
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "https" and parts.port == 443)
        or (parts.scheme == "http" and parts.port == 80)
    ):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/") or ""
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


def plain_text(raw: str | None) -> str:
    """HTML tags removed, entities decoded, whitespace collapsed; undecodable bytes replaced."""
    if raw is None:
        return ""
    text = _TAGS.sub(" ", raw)
    return _SPACE.sub(" ", html.unescape(text)).strip()


def content_hash(title: str) -> str:
    """The story key: sha256 of the folded title (see the module doc)."""
    folded = _SPACE.sub(" ", _FOLD.sub(" ", title.lower())).strip()
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


def utc(moment: datetime) -> datetime:
    """An aware datetime in UTC (a naive one is taken as UTC), microseconds kept."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def news_row(feed: str, title: str, url: str, summary: str, published: datetime | None,
             fetched: datetime, language: str, currencies: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    """One item in the ``news`` dataset's shape (hash of the title, canonical URL, capped summary)."""
    return {
        "content_hash": content_hash(title), "published_at": published, "fetched_at": fetched,
        "source": feed, "sources": [feed], "title": title, "summary": summary[:2000],
        "url": canonical_url(url) if url else "", "language": language or "",
        "currencies": list(currencies),
    }  # fmt: skip
