"""Fetch every configured feed and land the items: one call the Dagster asset and the CLI share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from drydock.adapters.news._feeds import fetch_all, load_feeds
from drydock.news import quarantine, write_news
from drydock.settings import REPO_ROOT, Settings, get_settings

FEEDS_FILE = REPO_ROOT / "config" / "news_feeds.toml"


@dataclass
class IngestReport:
    """Per feed: items fetched, quarantined, errors; per day: rows now stored."""

    items: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    days: dict[str, int] = field(default_factory=dict)


def ingest_news(client: httpx.Client, settings: Settings | None = None, feeds_file: Path = FEEDS_FILE,
                now: datetime | None = None) -> IngestReport:  # fmt: skip
    """Fetch, normalise, dedupe and store; a failing feed is reported, the others land."""
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    feeds = load_feeds(feeds_file)
    results = fetch_all(feeds, client, settings.home / "news" / "feed_state.json", now)
    report = IngestReport()
    items, bad = [], []
    for r in results:
        report.items[r.feed] = len(r.items)
        report.quarantined[r.feed] = len(r.quarantined)
        if r.error:
            report.errors[r.feed] = r.error
        items += r.items
        bad += r.quarantined
    report.days = write_news(items, settings.lake_dir)
    quarantine(bad, now.date(), settings.lake_dir)
    return report
