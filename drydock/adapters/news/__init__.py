"""News feeds (RSS/Atom and CryptoPanic) over httpx: the feed list, conditional fetches and
parsing, the ingest that lands items in the ``news`` dataset, and the recorded feeds for offline runs."""

from __future__ import annotations

from drydock.adapters.news._feeds import (
    CRYPTOPANIC_URL,
    KINDS,
    USER_AGENT,
    Feed,
    FeedResult,
    fetch,
    fetch_all,
    load_feeds,
    parse_cryptopanic,
    parse_rss,
)
from drydock.adapters.news._ingest import FEEDS_FILE, IngestReport, ingest_news
from drydock.adapters.news._recorded import FOLDER, HOSTS, RECORDINGS, http_client, recorded_client

__all__ = [
    "CRYPTOPANIC_URL",
    "FEEDS_FILE",
    "FOLDER",
    "HOSTS",
    "KINDS",
    "RECORDINGS",
    "USER_AGENT",
    "Feed",
    "FeedResult",
    "IngestReport",
    "fetch",
    "fetch_all",
    "http_client",
    "ingest_news",
    "load_feeds",
    "parse_cryptopanic",
    "parse_rss",
    "recorded_client",
]
