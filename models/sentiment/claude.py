"""The Claude scorer: many headlines per request, structured output through a tool with a JSON
schema, every item validated with pydantic.

Invalid or missing items are asked again once (only those); what is still invalid goes to the
fallback scorer and is never cached as a Claude score. Valid scores are cached by content hash
and prompt version, so an item is scored once. A daily token budget (input + output tokens, UTC
day) hands everything to the fallback once spent. Transient errors (429, 5xx, 529 overloaded,
timeouts) are retried with backoff by the SDK itself (``max_retries``); an API that still does not
answer (no connection, refused key, server errors) hands this and every later batch of the scorer
to the fallback, logged once as ``claude.unavailable``: the fallback is chosen by what happens,
never by whether a key is set. The API key comes only from ``ANTHROPIC_API_KEY`` and is never
logged. The SDK side lives in :mod:`drydock.adapters.anthropic`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drydock.adapters.anthropic import LlmUnavailable, anthropic_client, ask_tool
from drydock.logs import get_logger
from drydock.news import content_hash
from models.sentiment.scores import CATEGORIES, Score, ScoreCache

log = get_logger(__name__)

PROMPT_VERSION = "v1"
DEFAULT_MODEL = "claude-sonnet-4-5"
BATCH = 20
TOOL = "record_sentiment"
SYSTEM = (
    "You rate crypto news headlines for traders. For each headline give the crypto assets it is "
    "about (tickers), a sentiment score from -1 (very bearish) to 1 (very bullish), a label, the "
    "likely market impact from 0 to 1, categories and how soon it matters. Call the tool once "
    "with one item per headline id."
)


class Item(BaseModel):
    """One validated answer."""

    model_config = ConfigDict(extra="forbid")

    id: int
    assets: list[str] = Field(default_factory=list)
    score: float = Field(ge=-1, le=1, allow_inf_nan=False)
    label: Literal["positive", "neutral", "negative"]
    impact: float = Field(ge=0, le=1, allow_inf_nan=False)
    categories: list[Literal[CATEGORIES]] = Field(default_factory=list)  # type: ignore[valid-type]
    time_sensitivity: Literal["immediate", "hours", "days", "long_term"]


def tool_schema() -> dict[str, Any]:
    """The tool the model must call (its input_schema is the JSON schema of a list of items)."""
    item = Item.model_json_schema()
    return {
        "name": TOOL,
        "description": "Record the sentiment of every headline.",
        "input_schema": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": item}},
            "required": ["items"],
        },
    }


class ClaudeScorer:
    """Scores through the Anthropic SDK's client (pass one built with ``http_client=`` in tests)."""

    def __init__(
        self, client: Any, cache: ScoreCache, fallback: Callable[[Sequence[str]], list[Score]], *,
        daily_token_budget: int = 200_000, model: str = DEFAULT_MODEL, now: Callable[[], datetime] | None = None,
    ) -> None:  # fmt: skip
        self.client, self.cache, self.fallback = client, cache, fallback
        self.budget, self.model = daily_token_budget, model
        self.now = now or (lambda: datetime.now(UTC))
        self.requests = 0
        self.unavailable: str | None = None  # why the API stopped answering, once it did

    def _ask(self, numbered: dict[int, str]) -> tuple[dict[int, Item], int]:
        lines = "\n".join(f"{i}. {text}" for i, text in numbered.items())
        answer = ask_tool(self.client, model=self.model, system=SYSTEM, tool=tool_schema(),
                          messages=[{"role": "user", "content": f"Headlines:\n{lines}"}])  # fmt: skip
        self.requests += 1
        used = answer.tokens
        valid: dict[int, Item] = {}
        for given in answer.inputs:
            raw = given if isinstance(given, dict) else {}
            for entry in raw.get("items", []) if isinstance(raw.get("items"), list) else []:
                try:
                    item = Item.model_validate(entry)
                except ValidationError as exc:
                    log.info("claude.invalid_item", problem=str(exc.errors()[0]["msg"])[:120])
                    continue
                if item.id in numbered:
                    valid[item.id] = item
        return valid, used

    def score(self, texts: Sequence[str]) -> list[Score]:
        """A score per text, in order: cached, Claude, or (budget spent / invalid twice) fallback."""
        out: dict[int, Score] = {}
        todo: dict[int, str] = {}
        for i, text in enumerate(texts):
            cached = self.cache.get(content_hash(text), PROMPT_VERSION)
            if cached is not None:
                out[i] = cached
            else:
                todo[i] = text
        today = self.now().date()
        for start in range(0, len(todo), BATCH):
            batch = dict(list(todo.items())[start : start + BATCH])
            if self.unavailable is not None or self.cache.spent(today) >= self.budget:
                break
            got: dict[int, Item] = {}
            try:
                got, used = self._ask(batch)
                self.cache.spend(today, used)
                missing = {i: t for i, t in batch.items() if i not in got}
                if missing and self.cache.spent(today) < self.budget:
                    again, used = self._ask(missing)  # asked once more, only the invalid ones
                    self.cache.spend(today, used)
                    got |= again
            except LlmUnavailable as exc:
                self.unavailable = str(exc)
                log.warning("claude.unavailable", reason=self.unavailable, fallback="offline")
            for i, item in got.items():
                score = Score(batch[i], item.score, item.label, item.impact, tuple(a.upper() for a in item.assets),
                              tuple(item.categories), item.time_sensitivity, "claude", self.model, "",
                              PROMPT_VERSION)  # fmt: skip
                self.cache.put(content_hash(batch[i]), PROMPT_VERSION, score)
                out[i] = score
        left = [i for i in range(len(texts)) if i not in out]
        if left:
            reason = (
                "api unavailable"
                if self.unavailable is not None
                else "budget spent"
                if self.cache.spent(today) >= self.budget
                else "invalid twice"
            )
            log.info("claude.fallback", items=len(left), reason=reason)
            for i, score in zip(left, self.fallback([texts[i] for i in left]), strict=True):
                out[i] = score
        return [out[i] for i in range(len(texts))]


__all__ = ["PROMPT_VERSION", "ClaudeScorer", "Item", "anthropic_client", "tool_schema"]
