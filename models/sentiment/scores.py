"""What every scorer returns for one headline, and the cache of LLM scores by content hash."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

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
    """Claude scores keyed by (content hash, prompt version), and the tokens spent per UTC day."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS scores (hash TEXT, prompt TEXT, score TEXT, PRIMARY KEY (hash, prompt));"
            "CREATE TABLE IF NOT EXISTS usage (day TEXT PRIMARY KEY, tokens INTEGER NOT NULL);"
        )

    def get(self, content_hash: str, prompt: str) -> Score | None:
        row = self._db.execute(
            "SELECT score FROM scores WHERE hash = ? AND prompt = ?", (content_hash, prompt)
        ).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return Score(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})  # type: ignore[arg-type]

    def put(self, content_hash: str, prompt: str, score: Score) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO scores VALUES (?, ?, ?)",
            (content_hash, prompt, json.dumps(asdict(score))),
        )

    def spent(self, day: date) -> int:
        row = self._db.execute(
            "SELECT tokens FROM usage WHERE day = ?", (day.isoformat(),)
        ).fetchone()
        return int(row[0]) if row else 0

    def spend(self, day: date, tokens: int) -> None:
        self._db.execute(
            "INSERT INTO usage VALUES (?, ?) ON CONFLICT(day) DO UPDATE SET tokens = tokens + excluded.tokens",
            (day.isoformat(), tokens),
        )

    def close(self) -> None:
        self._db.close()
