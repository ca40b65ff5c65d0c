"""Hourly sentiment features: decay, impact weighting and causality worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from drydock.errors import ConfigError
from models.sentiment_features import sentiment_features

T = datetime(2024, 3, 1, 10, tzinfo=UTC)


def items(rows: list[tuple[datetime, str, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["ts", "asset", "score", "impact"], orient="row")


def test_decay_and_impact_weighting_by_hand() -> None:
    # BTC: +1 (impact 1) at 10:00 and -1 (impact 0.5) at 11:30, half-life 1 h.
    # Bucket 10:00 ends 11:00: one item aged 1 h -> weight 0.5, decayed +1.
    # Bucket 11:00 ends 12:00: +1 aged 2 h (0.25) and -1 aged 0.5 h (0.5 * 2**-0.5 = 0.35355):
    # decayed = (0.25 - 0.35355) / (0.25 + 0.35355) = -0.17157.
    # Bucket 12:00: no news; both decay by one half-life: the ratio stays, the weight halves.
    rows = [(T, "BTC", 1.0, 1.0), (T + timedelta(minutes=90), "BTC", -1.0, 0.5)]
    out = sentiment_features(items(rows), half_life_hours=1.0, end=T + timedelta(hours=2))
    assert out["ts"].to_list() == [T + timedelta(hours=h) for h in range(3)]
    assert out["count"].to_list() == [1, 1, 0]
    assert out["mean_score"].to_list() == [1.0, -1.0, None]
    w = 0.5 * 2**-0.5
    want = (0.25 - w) / (0.25 + w)
    assert out["decayed"].to_list() == pytest.approx([1.0, want, want])
    assert out["weight"].to_list() == pytest.approx([0.5, 0.25 + w, (0.25 + w) / 2])


def test_a_row_never_sees_news_published_after_its_hour() -> None:
    base = [(T, "ETH", 0.5, 1.0)]
    later = [*base, (T + timedelta(hours=3, minutes=5), "ETH", -1.0, 1.0)]
    a = sentiment_features(items(base), 6.0, end=T + timedelta(hours=4))
    b = sentiment_features(items(later), 6.0, end=T + timedelta(hours=4))
    assert a.head(3).equals(b.head(3))  # 10:00..12:00 are unchanged by a 13:05 item
    assert a["decayed"][3] != b["decayed"][3]


def test_assets_are_separate_and_sorted() -> None:
    rows = [(T, "SOL", 0.2, 0.5), (T, "BTC", -0.4, 1.0)]
    out = sentiment_features(items(rows), 3.0)
    assert out["asset"].to_list() == ["BTC", "SOL"]
    assert out["decayed"].to_list() == pytest.approx([-0.4, 0.2])


@pytest.mark.parametrize(
    ("score", "impact"), [(3.0, 0.5), (float("nan"), 0.5), (0.1, -0.1), (0.1, float("nan"))]
)
def test_out_of_range_scores_are_refused_naming_the_item(score: float, impact: float) -> None:
    with pytest.raises(ConfigError, match=r"Scored item 1 \(BTC"):
        sentiment_features(items([(T, "BTC", 0.1, 0.5), (T, "BTC", score, impact)]))


def test_half_life_is_validated_and_empty_input_gives_an_empty_frame() -> None:
    with pytest.raises(ConfigError, match="half_life_hours=0"):
        sentiment_features(items([(T, "BTC", 0.1, 0.5)]), half_life_hours=0)
    empty = sentiment_features(items([(T, "BTC", 0.1, 0.5)]).head(0))
    assert empty.height == 0 and empty.columns == [
        "ts",
        "asset",
        "count",
        "mean_score",
        "decayed",
        "weight",
    ]
