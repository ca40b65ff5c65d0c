"""What every scorer returns for one headline, and the cache of LLM scores by content hash."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from drydock.cache import JsonCache

CATEGORIES = (
    "regulatory",
    "hack",
    "partnership",
    "listing",
    "macro",
    "tokenomics",
    "upgrade",
    "market",
)
TIME_SENSITIVITY = ("immediate", "hours", "days", "long_term", "unknown")


@dataclass(frozen=True)
class Score:
    """Sentiment of one headline: score in [-1, 1], label, impact in [0, 1], the assets it is
    about, categories, time sensitivity, and which scorer (model, version, prompt) produced it."""

    text: str
    score: float
    label: str  # positive | neutral | negative
    impact: float
    assets: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    time_sensitivity: str = "unknown"
    scorer: str = ""  # "claude" or "offline"
    model: str = ""
    version: str = ""
    prompt_version: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


def label_of(value: int | float) -> str:
    return "positive" if value > 0 else "negative" if value < 0 else "neutral"


class ScoreCache:
    """Claude scores keyed by (content hash, prompt version), and the tokens spent per UTC day
    (a :class:`drydock.cache.JsonCache`)."""

    def __init__(self, path: Path):
        self._cache = JsonCache(path, "claude_scores")

    def get(self, content_hash: str, prompt: str) -> Score | None:
        data = self._cache.get(f"{prompt}:{content_hash}")
        if data is None:
            return None
        return Score(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})  # type: ignore[arg-type]

    def put(self, content_hash: str, prompt: str, score: Score) -> None:
        self._cache.put(f"{prompt}:{content_hash}", asdict(score), replace=False)

    def spent(self, day: date) -> int:
        return self._cache.count(f"tokens:{day.isoformat()}")

    def spend(self, day: date, tokens: int) -> None:
        self._cache.add(f"tokens:{day.isoformat()}", tokens)

    def close(self) -> None:
        self._cache.close()
