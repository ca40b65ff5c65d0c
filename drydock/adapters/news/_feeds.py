"""RSS/Atom feeds and the CryptoPanic API over httpx: conditional GETs, parse, normalise.

A feed list lives in TOML (``config/news_feeds.toml``): ``[[feed]] name, url, kind = "rss" |
"cryptopanic", enabled``. Each fetch sends ``If-None-Match`` / ``If-Modified-Since`` from the last
response (kept per feed in ``$DRYDOCK_HOME/news/feed_state.json``); a 304 yields no items. One
feed failing (HTTP error, timeout, XML that does not parse) is reported in its result and never
stops the others. Items without a title or a publication date are quarantined with the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from xml.sax import SAXException

import httpx
from pydantic import BaseModel, ConfigDict, field_validator

from drydock.config_files import read_toml, validated
from drydock.errors import ConfigError
from drydock.news import news_row, plain_text, utc

KINDS = ("rss", "cryptopanic")
CRYPTOPANIC_URL = "https://cryptopanic.com/api/v1/posts/"
USER_AGENT = "drydock-news/0.1 (+https://github.com/drydock)"


@dataclass(frozen=True, slots=True)
class Feed:
    """One configured source."""

    name: str
    url: str
    kind: str = "rss"
    enabled: bool = True


@dataclass
class FeedResult:
    """What one fetch of one feed gave: items, quarantined rows, HTTP status, error, validators."""

    feed: str
    items: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None


class _FeedEntry(BaseModel):
    """One ``[[feed]]`` table as written."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = ""
    url: str = ""
    kind: str = "rss"
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"url {value!r} must start with https://")
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"kind {value!r} is not one of {', '.join(KINDS)}")
        return value


def load_feeds(path: Path) -> list[Feed]:
    """The feed list, validated: unique names, http(s) URLs, known kinds, boolean flags."""
    data = read_toml(path, "Feed list")
    feeds: list[Feed] = []
    for i, raw in enumerate(data.get("feed", []), start=1):
        name = str(raw.get("name", "")).strip() if isinstance(raw, dict) else ""
        where = f"{path} feed {i}" + (f" ({name})" if name else "")
        entry = validated(_FeedEntry, raw, where)
        if not name or name in {f.name for f in feeds}:
            raise ConfigError(
                f"{where}: name {name!r} is empty or repeated; give each feed a unique name."
            )
        feeds.append(Feed(name, entry.url, entry.kind, entry.enabled))
    return feeds


def _when(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published", "updated", "created"):
        text = entry.get(key)
        if text:
            try:
                return utc(parsedate_to_datetime(text))
            except (TypeError, ValueError):
                try:
                    return utc(datetime.fromisoformat(str(text).replace("Z", "+00:00")))
                except ValueError:
                    continue
    return None


def _split(result: FeedResult, item: dict[str, Any]) -> None:
    problem = (
        "missing title"
        if not item["title"]
        else "missing publication date"
        if item["published_at"] is None
        else None
    )
    if problem:
        result.quarantined.append(item | {"reason": problem})
    else:
        result.items.append(item)


def parse_rss(feed: str, content: bytes, fetched: datetime) -> FeedResult:
    """Items of an RSS/Atom document (feedparser); a document with no entries that does not parse
    is an error naming the feed."""
    import feedparser

    parsed = feedparser.parse(content)
    result = FeedResult(feed)
    # Malformed XML fails the whole feed (a truncated document must not land half its items);
    # softer problems (a charset override) keep what parsed.
    malformed = isinstance(parsed.get("bozo_exception"), SAXException)
    if parsed.bozo and (malformed or not parsed.entries):
        result.error = f"{feed}: not a feed ({type(parsed.bozo_exception).__name__}: {str(parsed.bozo_exception)[:120]})"
        return result
    language = str(parsed.feed.get("language", "") or "")[:8]
    for entry in parsed.entries:
        title = plain_text(entry.get("title"))
        _split(result, news_row(feed, title, str(entry.get("link", "")), plain_text(entry.get("summary")),
                             _when(entry), fetched, language))  # fmt: skip
    return result


def parse_cryptopanic(feed: str, payload: Mapping[str, Any], fetched: datetime) -> FeedResult:
    """Items of a CryptoPanic ``posts`` page (``results``), with the currencies it tags."""
    result = FeedResult(feed)
    for post in payload.get("results", []):
        title = plain_text(post.get("title"))
        when = _when({"published": post.get("published_at") or post.get("created_at")})
        codes = [
            str(c.get("code", "")).upper() for c in post.get("currencies") or [] if c.get("code")
        ]
        _split(result, news_row(feed, title, str(post.get("url", "")), plain_text(post.get("body")), when,
                             fetched, "en", codes))  # fmt: skip
    return result


def fetch(client: httpx.Client, feed: Feed, state: Mapping[str, str], now: datetime) -> FeedResult:
    """One conditional GET of ``feed`` and its parse; errors land in the result, never raise."""
    headers = {"User-Agent": USER_AGENT}
    if etag := state.get("etag"):
        headers["If-None-Match"] = etag
    if modified := state.get("last_modified"):
        headers["If-Modified-Since"] = modified
    params: dict[str, str] = {}
    if feed.kind == "cryptopanic":
        key = os.environ.get("CRYPTOPANIC_API_KEY", "")
        if not key:
            return FeedResult(
                feed.name, error=f"{feed.name}: CRYPTOPANIC_API_KEY is not set; feed skipped"
            )
        params = {"auth_token": key, "public": "true"}
    try:
        response = client.get(feed.url, headers=headers, params=params)
    except httpx.HTTPError as exc:
        return FeedResult(feed.name, error=f"{feed.name}: {type(exc).__name__}")
    if response.status_code == 304:
        return FeedResult(
            feed.name, status=304, etag=state.get("etag"), last_modified=state.get("last_modified")
        )
    if response.status_code >= 400:
        return FeedResult(
            feed.name,
            status=response.status_code,
            error=f"{feed.name}: HTTP {response.status_code}",
        )
    if feed.kind == "cryptopanic":
        try:
            result = parse_cryptopanic(feed.name, response.json(), now)
        except (ValueError, AttributeError) as exc:
            result = FeedResult(feed.name, error=f"{feed.name}: bad JSON ({exc})")
    else:
        result = parse_rss(feed.name, response.content, now)
    result.status = response.status_code
    result.etag = response.headers.get("ETag")
    result.last_modified = response.headers.get("Last-Modified")
    return result


def fetch_all(feeds: Sequence[Feed], client: httpx.Client, state_path: Path,
              now: datetime | None = None) -> list[FeedResult]:  # fmt: skip
    """Fetch every enabled feed; remember each successful response's validators (atomically)."""
    now = now or datetime.now(UTC)
    state: dict[str, dict[str, str]] = {}
    if state_path.exists():
        state = json.loads(state_path.read_text(encoding="utf-8"))
    results = [fetch(client, f, state.get(f.name, {}), now) for f in feeds if f.enabled]
    for r in results:
        if r.error is None and (r.etag or r.last_modified):
            state[r.feed] = {
                k: v for k, v in (("etag", r.etag), ("last_modified", r.last_modified)) if v
            }
    state_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, state_path)
    return results
