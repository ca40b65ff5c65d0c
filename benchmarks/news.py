"""News figures: offline sentiment scoring throughput, and parse + normalise + dedupe throughput of
feed items (10,000 built from the recorded feeds' real titles, each story twice as from two feeds)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import Figure, median_time

ITEMS = 10_000


def _titles() -> list[str]:
    from drydock.adapters.news import FOLDER, RECORDINGS, parse_rss

    now = datetime(2025, 12, 13, tzinfo=UTC)
    titles = []
    for name in ("coindesk", "cointelegraph", "decrypt", "theblock"):
        titles += [
            i["title"] for i in parse_rss(name, (FOLDER / RECORDINGS[name]).read_bytes(), now).items
        ]
    return titles


def sentiment_fallback_items_per_s(items: int = ITEMS) -> Figure:
    """Headlines per second through the offline model (TF-IDF + VADER features + logistic
    regression) against VADER alone on the same headlines (baseline, ratio = ours / VADER)."""
    from models.sentiment import datasets
    from models.sentiment.offline import VaderBaseline, build_model, score_texts

    train, _ = datasets.split(datasets.cryptolin())
    model = build_model().fit(train.texts, train.labels)
    base = _titles()
    texts = [f"{base[i % len(base)]} #{i}" for i in range(items)]
    ours = items / median_time(lambda: score_texts(model, texts), 3)
    vader = VaderBaseline().fit(texts[:1], [0])
    peer = items / median_time(lambda: vader.predict(texts), 3)
    return Figure(
        "sentiment_fallback_items_per_s",
        round(ours),
        "items/s",
        round(peer),
        round(ours / peer, 2),
        items,
    )


def news_dedupe_items_per_s(items: int = ITEMS) -> Figure:
    """Items per second through normalisation, content-hash dedupe and the lake write
    (``write_news``) for ``items`` rows where every story arrives from two feeds; baseline: the
    same rows through a plain dict-of-hashes dedupe without the lake (ratio = ours / baseline)."""
    from drydock.news import content_hash, news_row, write_news

    base = _titles()
    now = datetime(2025, 12, 13, tzinfo=UTC)
    rows = []
    for i in range(items // 2):
        title = f"{base[i % len(base)]} (story {i})"
        published = datetime(2025, 12, 1 + i % 12, i % 24, tzinfo=UTC)
        for feed in ("feed-a", "feed-b"):
            rows.append(
                news_row(
                    feed, title, f"https://{feed}.test/{i}?utm_source=x", "", published, now, "en"
                )
            )

    def ours() -> None:
        with tempfile.TemporaryDirectory() as folder:
            write_news(rows, Path(folder))

    def plain() -> None:
        seen: dict[str, dict[str, object]] = {}
        for r in rows:
            seen.setdefault(content_hash(str(r["title"])), r)

    ours_s = median_time(ours, 3)
    plain_s = median_time(plain, 3)
    return Figure("news_dedupe_items_per_s", round(items / ours_s), "items/s", round(items / plain_s),
                  round(plain_s / ours_s, 3), items)  # fmt: skip
