"""News assets: feeds into the lake every 15 minutes, the sentiment model, per-item scores and the
per-asset hourly features, with checks. The feed client is a resource: ``sample`` (default) replays
the recorded payloads in data/sample/news_feeds, ``http`` fetches the configured feeds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetSelection,
    ConfigurableResource,
    DefaultScheduleStatus,
    MaterializeResult,
    ScheduleDefinition,
    asset,
    asset_check,
    define_asset_job,
)

from drydock.settings import get_settings


class NewsFeedClient(ConfigurableResource):  # type: ignore[type-arg]
    """Where feed requests go: ``sample`` (recorded payloads) or ``http`` (the internet)."""

    mode: str = "sample"

    def client(self) -> Any:
        from drydock.adapters.news import http_client, recorded_client

        if self.mode == "sample":
            return recorded_client()
        if self.mode == "http":
            return http_client()
        raise ValueError(f"news feed mode {self.mode!r} is not 'sample' or 'http'")


@asset(group_name="news", description="Feed items, deduplicated, by publication day (lake: news).")
def news(news_feeds: NewsFeedClient) -> MaterializeResult[None]:
    from drydock.adapters.news import ingest_news
    from drydock.warehouse import refresh_views

    with news_feeds.client() as client:
        report = ingest_news(client)
    refresh_views()
    return MaterializeResult(metadata={
        "items": report.items, "quarantined": report.quarantined, "errors": report.errors,
        "days": len(report.days), "stored": sum(report.days.values()),
    })  # fmt: skip


@asset_check(asset=news, description="One row per story, UTC times, nothing from the future.")
def news_sane() -> AssetCheckResult:
    import polars as pl

    from drydock.news import read_news

    frame = read_news()
    dupes = frame.height - frame["content_hash"].n_unique()
    future = frame.filter(pl.col("published_at") > datetime.now(UTC)).height
    return AssetCheckResult(passed=dupes == 0 and future == 0, severity=AssetCheckSeverity.ERROR,
                            metadata={"rows": frame.height, "duplicates": dupes, "future": future})  # fmt: skip


@asset(
    group_name="news", description="The offline sentiment model, trained and registered in MLflow."
)
def sentiment_model() -> MaterializeResult[None]:
    from models.sentiment.train import train_and_register

    report = train_and_register()
    return MaterializeResult(metadata={"macro_f1": report.metrics["macro_f1"], "accuracy": report.metrics["accuracy"],
                                       "champion": report.champion, "run_id": report.run_id,
                                       "versions": ", ".join(f"{a}=v{v}" for a, v in report.versions.items()),
                                       "registered": ", ".join(report.registered) or "none (unchanged)"})  # fmt: skip


@asset(
    group_name="news",
    deps=[news, sentiment_model],
    description="Score per item and asset (lake: news_sentiment).",
)
def news_sentiment() -> MaterializeResult[None]:
    from drydock.warehouse import refresh_views
    from models.news_scoring import score_news
    from models.sentiment.scorer import active_scorer

    name, scorer = active_scorer()
    counts = score_news(scorer, get_settings().lake_dir)
    refresh_views()
    return MaterializeResult(metadata={"scorer": name, **counts})


@asset_check(asset=news_sentiment, description="Scores in [-1, 1], impacts in [0, 1], no NaN.")
def news_sentiment_in_range() -> AssetCheckResult:
    import polars as pl

    from models.news_scoring import read_scores

    frame = read_scores(get_settings().lake_dir)
    bad = frame.filter(
        ~pl.col("score").is_between(-1, 1) | ~pl.col("impact").is_between(0, 1)
    ).height
    return AssetCheckResult(
        passed=bad == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={"rows": frame.height, "bad": bad},
    )


@asset(
    group_name="news", deps=[news_sentiment], description="Hourly per-asset sentiment with decay."
)
def sentiment_features() -> MaterializeResult[None]:
    from drydock.warehouse import refresh_views
    from models.news_scoring import build_features

    path = build_features(get_settings().lake_dir)
    refresh_views()
    return MaterializeResult(metadata={"path": str(path)})


NEWS_ASSETS = [news, sentiment_model, news_sentiment, sentiment_features]
NEWS_CHECKS = [news_sane, news_sentiment_in_range]
news_job = define_asset_job(
    "news_every_15_minutes",
    selection=AssetSelection.assets(news, news_sentiment, sentiment_features),
    description="Fetch the feeds, score new items, rebuild the features.",
)
news_schedule = ScheduleDefinition(
    job=news_job, cron_schedule="*/15 * * * *", default_status=DefaultScheduleStatus.STOPPED
)
