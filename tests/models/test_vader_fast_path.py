"""The offline model's VADER features skip VADER's emoji rewrite on texts without emoji; the
scores must be VADER's own."""

from __future__ import annotations

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from models.sentiment import datasets
from models.sentiment.offline import _vader

EDGES = [
    "", "   ", "  spaced  out  ", "I love it \U0001f600 !!", "\U0001f600", "not bad at all",
    "kind of good", "GREAT but terrible", "the best :) ever", "BTC isn't DOWN, it's UP!!!",
    "never so good", "sort of meh", "ETH \u2764\ufe0f", "without doubt the worst",
]  # fmt: skip


@pytest.mark.parametrize("text", EDGES)
def test_edge_texts_score_as_vader(text: str) -> None:
    assert _vader().polarity_scores(text) == SentimentIntensityAnalyzer().polarity_scores(text)


def test_every_cryptolin_headline_scores_as_vader() -> None:
    stock, fast = SentimentIntensityAnalyzer(), _vader()
    texts = list(datasets.cryptolin().texts)
    assert len(texts) > 1_000
    assert [fast.polarity_scores(t) for t in texts] == [stock.polarity_scores(t) for t in texts]
