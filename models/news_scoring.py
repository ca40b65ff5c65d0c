"""Score stored news and build the per-asset features: the ``news_sentiment`` and
``sentiment_features`` lake datasets (one row per item and asset; items naming no catalog asset
get the asset ``MARKET``). Scoring is incremental: an item already scored by this scorer version
is not scored again, so reruns change nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from drydock import lake
from drydock.news import read_news
from models.sentiment.scores import Score
from models.sentiment_features import sentiment_features

DATASET = "news_sentiment"
FEATURES = ("features", "sentiment_features.parquet")
MARKET = "MARKET"
SCHEMA: dict[str, pl.DataType] = {
    "content_hash": pl.String(), "published_at": pl.Datetime("us", "UTC"), "asset": pl.String(),
    "score": pl.Float64(), "label": pl.String(), "impact": pl.Float64(),
    "categories": pl.List(pl.String()), "time_sensitivity": pl.String(), "scorer": pl.String(),
    "model": pl.String(), "version": pl.String(), "prompt_version": pl.String(),
}  # fmt: skip
REBUILD = "drydock news fetch"


def read_scores(lake_dir: Path) -> pl.DataFrame:
    files = lake.partition_files(DATASET, {}, lake_dir)
    if not files:
        return pl.DataFrame(schema=SCHEMA)
    return pl.concat([lake.read_partition_file(f, REBUILD) for f in files])


def _rows(item: dict[str, object], s: Score) -> list[dict[str, object]]:
    return [
        {
            "content_hash": item["content_hash"],
            "published_at": item["published_at"],
            "asset": asset,
            "score": s.score,
            "label": s.label,
            "impact": s.impact,
            "categories": list(s.categories),
            "time_sensitivity": s.time_sensitivity,
            "scorer": s.scorer,
            "model": s.model,
            "version": s.version,
            "prompt_version": s.prompt_version,
        }
        for asset in (s.assets or (MARKET,))
    ]


def score_news(score: Callable[[Sequence[str]], list[Score]], lake_dir: Path) -> dict[str, int]:
    """Score the stored items that have no score yet; returns {"scored", "rows", "skipped"}."""
    news = read_news(lake_dir=lake_dir)
    done = read_scores(lake_dir)["content_hash"].unique()
    todo = news.filter(~pl.col("content_hash").is_in(done.implode()))
    if todo.height == 0:
        return {"scored": 0, "rows": 0, "skipped": news.height}
    items = todo.to_dicts()
    scores = score([str(i["title"]) for i in items])
    rows = [r for item, s in zip(items, scores, strict=True) for r in _rows(item, s)]
    frame = pl.DataFrame(rows, schema=SCHEMA)
    for (day,), part in frame.group_by(pl.col("published_at").dt.date(), maintain_order=True):
        lake.merge_partition(
            DATASET, {"date": str(day)}, part, None, REBUILD, lake_dir, sort_by="published_at"
        )
    return {"scored": len(items), "rows": frame.height, "skipped": news.height - len(items)}


def build_features(lake_dir: Path, half_life_hours: float = 6.0) -> Path:
    """Rebuild ``features/sentiment_features.parquet`` from every stored score (catalog assets)."""
    scores = read_scores(lake_dir).filter(pl.col("asset") != MARKET)
    items = scores.select(pl.col("published_at").alias("ts"), "asset", "score", "impact")
    frame = sentiment_features(items, half_life_hours)
    return lake.atomic_write_parquet(frame, lake_dir.joinpath(*FEATURES))
