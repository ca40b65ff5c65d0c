"""News feeds through httpx MockTransport replaying the recorded RSS and CryptoPanic payloads:
parse, normalise, dedupe across feeds, conditional GETs, and every bad input with its outcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import polars as pl
import pytest

from drydock.adapters.news import Feed, fetch_all, load_feeds, parse_rss
from drydock.errors import ConfigError
from drydock.news import canonical_url, content_hash, plain_text, quarantine, read_news, write_news

FIX = Path(__file__).parents[3] / "data" / "sample" / "news_feeds"
NOW = datetime(2025, 12, 13, 12, tzinfo=UTC)
COINDESK = Feed("coindesk", "https://feeds.test/coindesk")
THEBLOCK = Feed("theblock", "https://feeds.test/theblock")
PANIC = Feed("cryptopanic", "https://cryptopanic.test/api/v1/posts/", "cryptopanic")


def recorded(request: httpx.Request) -> httpx.Response:
    name = request.url.path.rsplit("/", 1)[-1] or "posts"
    if name == "coindesk":
        return httpx.Response(200, content=(FIX / "coindesk_2025-12-12.xml").read_bytes(),
                              headers={"ETag": '"cd-1"', "Last-Modified": "Sat, 13 Dec 2025 11:05:41 GMT"})  # fmt: skip
    if name == "theblock":
        return httpx.Response(200, content=(FIX / "theblock_2025-12-12.xml").read_bytes())
    page = json.loads((FIX / "cryptopanic_api_v1_posts_hot_2018-01-18.json").read_text())["generic"]
    return httpx.Response(200, json=page)


def client(handler=recorded) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_recorded_feeds_parse_to_normalised_utc_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTOPANIC_API_KEY", "cp-test-key-123456")
    results = fetch_all([COINDESK, THEBLOCK, PANIC], client(), tmp_path / "state.json", NOW)
    by = {r.feed: r for r in results}
    assert [len(by[f].items) for f in ("coindesk", "theblock", "cryptopanic")] == [25, 19, 40]
    assert all(r.error is None for r in results)
    block = by["theblock"].items[0]
    assert (
        block["published_at"].tzinfo == UTC
        and block["published_at"].utcoffset().total_seconds() == 0
    )
    panic = by["cryptopanic"].items[0]
    assert panic["title"] == "NEO ($NEO) price is up 20.99%"  # HTML stripped from the title
    assert panic["currencies"] == ["NEO"]
    assert all("<" not in i["title"] for r in results for i in r.items)


def test_conditional_get_sends_validators_and_a_304_yields_nothing(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == '"cd-1"':
            return httpx.Response(304)
        return recorded(request)

    state = tmp_path / "state.json"
    first = fetch_all([COINDESK], client(handler), state, NOW)
    second = fetch_all([COINDESK], client(handler), state, NOW)
    assert len(first[0].items) == 25 and (second[0].status, second[0].items) == (304, [])
    assert seen[1]["if-none-match"] == '"cd-1"' and seen[1]["if-modified-since"].startswith(
        "Sat, 13 Dec"
    )
    assert json.loads(state.read_text())["coindesk"]["etag"] == '"cd-1"'


def test_one_failing_feed_does_not_stop_the_others(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "theblock" in request.url.path:
            return httpx.Response(500)
        if "broken" in request.url.path:
            return httpx.Response(200, content=b"<rss><channel><item><title>unclosed")
        if "slow" in request.url.path:
            raise httpx.ReadTimeout("timed out", request=request)
        return recorded(request)

    feeds = [
        COINDESK,
        THEBLOCK,
        Feed("broken", "https://feeds.test/broken"),
        Feed("slow", "https://feeds.test/slow"),
    ]
    results = {r.feed: r for r in fetch_all(feeds, client(handler), tmp_path / "s.json", NOW)}
    assert len(results["coindesk"].items) == 25
    assert results["theblock"].error == "theblock: HTTP 500"
    assert results["broken"].error is not None and results["broken"].error.startswith(
        "broken: not a feed"
    )
    assert results["slow"].error == "slow: ReadTimeout"


def test_missing_dates_and_titles_are_quarantined_and_bytes_are_decoded() -> None:
    doc = (
        b'<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Caf\xe9 &amp; <b>Bitcoin</b></title><link>https://x.test/a?utm_source=rss&amp;id=7</link>"
        b"<pubDate>Fri, 12 Dec 2025 10:00:00 -0500</pubDate></item>"
        b"<item><title>No date here</title><link>https://x.test/b</link></item>"
        b"<item><title></title><link>https://x.test/c</link><pubDate>Fri, 12 Dec 2025 10:00:00 GMT</pubDate></item>"
        b"</channel></rss>"
    )
    result = parse_rss("odd", doc, NOW)
    [item] = result.items
    assert item["title"] == "Café & Bitcoin" and item["url"] == "https://x.test/a?id=7"
    assert item["published_at"] == datetime(2025, 12, 12, 15, tzinfo=UTC)
    assert sorted(q["reason"] for q in result.quarantined) == [
        "missing publication date",
        "missing title",
    ]


def test_store_dedupes_across_feeds_and_reruns_change_nothing(tmp_path: Path) -> None:
    a = parse_rss("coindesk", (FIX / "coindesk_2025-12-12.xml").read_bytes(), NOW).items
    later = datetime(2025, 12, 13, 13, tzinfo=UTC)
    copy = [
        dict(
            a[0], source="mirror", sources=["mirror"], fetched_at=later, url="https://mirror.test/x"
        )
    ]
    counts = write_news(a + copy, tmp_path)
    assert sum(counts.values()) == 25
    files = sorted(tmp_path.glob("news/**/*.parquet"))
    before = {f: f.read_bytes() for f in files}
    write_news(a + copy, tmp_path)
    assert {f: f.read_bytes() for f in files} == before  # byte-identical rerun
    frame = read_news(lake_dir=tmp_path)
    row = frame.filter(pl.col("content_hash") == a[0]["content_hash"]).row(0, named=True)
    assert row["source"] == "coindesk" and row["sources"] == [
        "coindesk",
        "mirror",
    ]  # first seen wins
    assert read_news(sources=["mirror"], lake_dir=tmp_path).height == 1
    assert quarantine([dict(a[1], reason="missing title")], NOW.date(), tmp_path) is not None


def test_normalisation_rules() -> None:
    assert (
        canonical_url("HTTPS://Example.COM:443/a/?utm_source=x&b=2&fbclid=z#top")
        == "https://example.com/a?b=2"
    )
    assert plain_text("<p>Hi&nbsp;<b>there</b></p>\n\n") == "Hi there"
    assert content_hash("Bitcoin Hits $100K!") == content_hash("bitcoin hits  $100k")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[feed]]\nname = "a"\nurl = "ftp://x"\n', "must start with https://"),
        ('[[feed]]\nname = "a"\nurl = "https://x"\nkind = "atom"\n', "kind 'atom' is not one of"),
        (
            '[[feed]]\nname = "a"\nurl = "https://x"\n[[feed]]\nname = "a"\nurl = "https://y"\n',
            "empty or repeated",
        ),
        (
            '[[feed]]\nname = "a"\nurl = "https://x"\nenabled = "yes"\n',
            "enabled must be true or false",
        ),
        ("[[feed]\n", "cannot be read"),
    ],
)
def test_bad_feed_lists_are_refused_at_load(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_feeds(path)


def test_the_bundled_feed_list_loads() -> None:
    feeds = load_feeds(Path(__file__).parents[3] / "config" / "news_feeds.toml")
    assert [f.name for f in feeds if f.enabled] == [
        "coindesk",
        "cointelegraph",
        "decrypt",
        "theblock",
    ]


def test_cryptopanic_without_a_key_is_skipped_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRYPTOPANIC_API_KEY", raising=False)
    [result] = fetch_all([PANIC], client(), tmp_path / "s.json", NOW)
    assert result.items == [] and "CRYPTOPANIC_API_KEY is not set" in (result.error or "")
