"""The news assets end to end with Dagster ``materialize`` into a tmp lake: recorded feeds in,
the model trained and registered, every item scored once, hourly features built, DuckDB views
serving all three, checks passing, and a rerun changing nothing."""

from __future__ import annotations

import pytest
from dagster import materialize

from drydock.settings import Settings
from pipelines.news import NEWS_ASSETS, NEWS_CHECKS, NewsFeedClient

pytestmark = pytest.mark.integration  # Dagster, MLflow and sklearn


def test_news_pipeline_materializes_and_reruns_idempotently(settings: Settings) -> None:
    from drydock import warehouse

    resources = {"news_feeds": NewsFeedClient(mode="sample")}
    first = materialize([*NEWS_ASSETS, *NEWS_CHECKS], resources=resources)
    assert first.success
    meta = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in first.get_asset_materialization_events()
    }  # type: ignore[union-attr]
    assert meta["news"]["items"].data == {
        "coindesk": 25,
        "cointelegraph": 30,
        "decrypt": 58,
        "theblock": 19,
    }
    assert meta["news_sentiment"]["scorer"].text == "offline"
    stored = meta["news"]["stored"].value
    assert (
        meta["news_sentiment"]["scored"].value
        == stored
        == 132 - meta["news"]["quarantined"].data.get("decrypt", 0) - 0
    )
    checks = [c for c in first.get_asset_check_evaluations()]
    assert checks and all(c.passed for c in checks)
    with warehouse.connect(settings) as con:
        n_news = con.execute("SELECT count(*) FROM news").fetchone()[0]  # type: ignore[index]
        assets = dict(
            con.execute("SELECT asset, count(*) FROM news_sentiment GROUP BY 1").fetchall()
        )
        features = con.execute(
            "SELECT count(*), count(DISTINCT asset) FROM sentiment_features"
        ).fetchone()
    assert n_news == stored and assets["BTC"] > 5 and assets["MARKET"] > 20
    assert features[0] > 0 and features[1] >= 3  # type: ignore[index]
    second = materialize([NEWS_ASSETS[0], NEWS_ASSETS[2], NEWS_ASSETS[3]], resources=resources)
    assert second.success
    meta2 = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in second.get_asset_materialization_events()
    }  # type: ignore[union-attr]
    assert meta2["news_sentiment"]["scored"].value == 0 and meta2["news"]["stored"].value == stored
