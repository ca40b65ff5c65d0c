"""The labelled headline sets the offline model trains and is evaluated on (data/sample/sentiment),
with one fixed, stratified hold-out split no training step sees."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from drydock.errors import ConfigError

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "sentiment"
SEED = 7
HOLDOUT = 0.25
LABELS = (-1, 0, 1)


@dataclass(frozen=True)
class Labelled:
    """Texts and labels (-1, 0, 1) of one named set."""

    name: str
    texts: list[str]
    labels: list[int]


def _read(path: Path, name: str) -> Labelled:
    if not path.exists():
        raise ConfigError(
            f"Labelled set {path} is missing; restore data/sample/sentiment from git."
        )
    texts, labels = [], []
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            text, raw = (row.get("headline") or "").strip(), (row.get("label") or "").strip()
            if not text or raw not in ("-1", "0", "1"):
                raise ConfigError(
                    f"{path} line {line}: needs a headline and a label of -1, 0 or 1."
                )
            texts.append(text)
            labels.append(int(raw))
    return Labelled(name, texts, labels)


def cryptolin(folder: Path = SAMPLE) -> Labelled:
    """CryptoLin's human-labelled crypto headlines (1,342)."""
    return _read(folder / "cryptolin_headlines.csv", "cryptolin")


def twitter_financial(folder: Path = SAMPLE) -> Labelled:
    """600 finance-news tweets (MIT), an out-of-domain evaluation set only."""
    return _read(folder / "twitter_financial_news_valid_sample.csv", "twitter_financial")


def split(data: Labelled) -> tuple[Labelled, Labelled]:
    """(train, hold-out): stratified, seeded, the same every run."""
    from sklearn.model_selection import train_test_split

    a, b, ya, yb = train_test_split(
        data.texts, data.labels, test_size=HOLDOUT, random_state=SEED, stratify=data.labels
    )
    return Labelled(data.name, list(a), list(ya)), Labelled(data.name, list(b), list(yb))
