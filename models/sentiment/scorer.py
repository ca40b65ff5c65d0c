"""The active scorer: Claude when ``ANTHROPIC_API_KEY`` is set (falling back per item), else the
offline champion from the MLflow registry. Assets come from the token catalog's resolver for the
offline scorer (Claude names them itself, restricted to the catalog)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from drydock.settings import Settings, get_settings
from drydock.tokens import TokenCatalog, load_tokens, resolve_mentions
from models.sentiment.scores import Score, ScoreCache, label_of


class OfflineScorer:
    """The registered champion (or a given model) scoring locally."""

    def __init__(self, model: Any, version: str, catalog: TokenCatalog | None = None):
        self.model, self.version = model, version
        self.catalog = catalog or load_tokens()

    def __call__(self, texts: Sequence[str]) -> list[Score]:
        from models.sentiment.offline import score_texts

        if not texts:
            return []
        scores, labels, impacts = score_texts(self.model, texts)
        return [
            Score(
                t,
                float(s),
                label_of(int(lab)),
                float(imp),
                tuple(m.symbol for m in resolve_mentions(t, self.catalog)),
                scorer="offline",
                model="sentiment",
                version=self.version,
            )
            for t, s, lab, imp in zip(texts, scores, labels, impacts, strict=True)
        ]


def active_scorer(settings: Settings | None = None, http_client: Any = None,
                  daily_token_budget: int | None = None) -> tuple[str, Any]:  # fmt: skip
    """("claude" | "offline", a callable texts -> list[Score])."""
    from models.sentiment.train import load_champion

    settings = settings or get_settings()
    model, version = load_champion(settings)
    offline = OfflineScorer(model, version)
    if not os.environ.get("ANTHROPIC_API_KEY"):
        return "offline", offline
    from models.sentiment.claude import ClaudeScorer, anthropic_client

    budget = daily_token_budget or int(os.environ.get("DRYDOCK_CLAUDE_DAILY_TOKENS", "200000"))
    cache = ScoreCache(settings.home / "news" / "claude_cache.sqlite")
    claude = ClaudeScorer(anthropic_client(http_client), cache, offline, daily_token_budget=budget)
    catalog = offline.catalog

    def score(texts: Sequence[str]) -> list[Score]:
        out = claude.score(texts)
        known = set(catalog.by_symbol)
        return [s if s.scorer != "claude" else _only_known(s, known) for s in out]

    return "claude", score


def _only_known(score: Score, known: set[str]) -> Score:
    from dataclasses import replace

    return replace(score, assets=tuple(a for a in score.assets if a in known))
