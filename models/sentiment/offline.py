"""The offline scorers: TF-IDF word n-grams plus VADER lexicon features into a class-balanced
logistic regression (the model), and the two baselines it is compared with (VADER alone, the
majority class). Every scorer maps texts to labels in {-1, 0, 1} and to a score in [-1, 1]."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

FloatArray = npt.NDArray[np.float64]
#: VADER's documented thresholds on the compound score.
VADER_POS, VADER_NEG = 0.05, -0.05
#: Weight of the four VADER columns next to the TF-IDF columns (chosen on the training split).
VADER_WEIGHT = 3.0


@lru_cache(maxsize=1)
def _vader() -> Any:
    """One VADER analyzer per process (its lexicons load once, not on every scoring call), with a
    fast path for texts without emoji: the same scores as ``polarity_scores``."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    class Vader(SentimentIntensityAnalyzer):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.emoji_chars = frozenset(k for k in self.emojis if len(k) == 1)

        def polarity_scores(self, text: str) -> dict[str, float]:
            if not self.emoji_chars.isdisjoint(text):
                return super().polarity_scores(text)  # type: ignore[no-any-return]
            # No emoji: VADER's character-by-character emoji rewrite would return the text
            # itself, stripped (a fifth of its time on a headline); the rest is polarity_scores
            # verbatim (vaderSentiment 3.3, MIT).
            return self.scores_of(text.strip())

        def scores_of(self, text: str) -> dict[str, float]:
            from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentiText

            sentitext = SentiText(text)
            sentiments: list[float] = []
            words = sentitext.words_and_emoticons
            for i, item in enumerate(words):
                if item.lower() in BOOSTER_DICT:
                    sentiments.append(0)
                    continue
                if i < len(words) - 1 and item.lower() == "kind" and words[i + 1].lower() == "of":
                    sentiments.append(0)
                    continue
                sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
            sentiments = self._but_check(words, sentiments)
            return self.score_valence(sentiments, text)  # type: ignore[no-any-return]

    return Vader()


class VaderFeatures(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """neg, neu, pos and compound of VADER for each text, times ``weight``."""

    def __init__(self, weight: float = VADER_WEIGHT):
        self.weight = weight

    def fit(self, texts: Sequence[str], y: Any = None) -> VaderFeatures:
        return self

    def transform(self, texts: Sequence[str]) -> FloatArray:
        vader = _vader()
        scores = (vader.polarity_scores(t) for t in texts)
        rows = [[s["neg"], s["neu"], s["pos"], s["compound"]] for s in scores]
        return np.asarray(rows, dtype=np.float64).reshape(-1, 4) * self.weight


def as_texts(values: Any) -> list[str]:
    """Headlines as a list of strings from a list, a Series or a one-column DataFrame (what an
    MLflow pyfunc hands the model when it is served)."""
    if hasattr(values, "columns"):  # a DataFrame: its first column
        values = values[values.columns[0]]
    return [str(v) for v in list(values)]


def build_model(seed: int = 7) -> Any:
    """The offline classifier (an sklearn pipeline; deterministic for a given seed)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.preprocessing import FunctionTransformer

    features = make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), VaderFeatures())
    classifier = LogisticRegression(
        C=4.0, max_iter=3000, class_weight="balanced", random_state=seed
    )
    return make_pipeline(FunctionTransformer(as_texts), features, classifier)


class VaderBaseline(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    """VADER's compound score with its documented +-0.05 thresholds."""

    def fit(self, texts: Sequence[str], y: Sequence[int]) -> VaderBaseline:
        self.classes_ = np.array([-1, 0, 1])
        return self

    def predict(self, texts: Sequence[str]) -> npt.NDArray[np.int64]:
        texts = as_texts(texts)
        vader = _vader()
        comp = np.array([vader.polarity_scores(t)["compound"] for t in texts])
        return np.where(comp >= VADER_POS, 1, np.where(comp <= VADER_NEG, -1, 0)).astype(np.int64)


class Majority(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    """Always the most frequent training label."""

    def fit(self, texts: Sequence[str], y: Sequence[int]) -> Majority:
        values, counts = np.unique(np.asarray(y), return_counts=True)
        self.label_ = int(values[np.argmax(counts)])
        self.classes_ = np.array([-1, 0, 1])
        return self

    def predict(self, texts: Sequence[str]) -> npt.NDArray[np.int64]:
        return np.full(len(as_texts(texts)), self.label_, dtype=np.int64)


def score_texts(
    model: Any, texts: Sequence[str]
) -> tuple[FloatArray, npt.NDArray[np.int64], FloatArray]:
    """(score, label, impact) per text: score = P(positive) - P(negative) in [-1, 1], impact =
    1 - P(neutral) in [0, 1]; a model without probabilities gives its label as the score and
    impact 1 for a non-neutral label."""
    texts = list(texts)
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(texts)
        classes = list(model.classes_)
        p = {c: proba[:, classes.index(c)] for c in (-1, 0, 1)}
        score = np.clip(p[1] - p[-1], -1.0, 1.0)
        label = np.asarray(model.classes_)[np.argmax(proba, axis=1)].astype(np.int64)
        return score, label, np.clip(1.0 - p[0], 0.0, 1.0)
    label = np.asarray(model.predict(texts), dtype=np.int64)
    return label.astype(np.float64), label, (label != 0).astype(np.float64)
