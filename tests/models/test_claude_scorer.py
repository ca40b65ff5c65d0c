"""The Claude scorer through the real Anthropic SDK over httpx.MockTransport replaying recorded
tool-use responses: batching, validation, one re-ask then the fallback, the SDK's retries on 429
and 529, the cache, the daily token budget, and the key never reaching a log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx  # the transport package the Anthropic SDK is built on
import pytest

from drydock.logs import configure_logging
from models.sentiment import datasets
from models.sentiment.claude import PROMPT_VERSION, ClaudeScorer, anthropic_client
from models.sentiment.offline import build_model
from models.sentiment.scorer import OfflineScorer
from models.sentiment.scores import ScoreCache

FIX = Path(__file__).parents[1] / "fixtures" / "anthropic"
KEY = "sk-ant-test-0123456789abcdefghij"
HEADLINES = [
    "Bitcoin ETF inflows hit a record",
    "Ethereum bridge hacked, $40 million drained",
    "Regulators publish a consultation on stablecoin reserves",
]


def body(name: str) -> bytes:
    return (FIX / f"{name}.json").read_bytes()


@pytest.fixture(scope="module")
def fallback() -> OfflineScorer:
    train, _ = datasets.split(datasets.cryptolin())
    return OfflineScorer(build_model().fit(train.texts, train.labels), "test")


def scorer(tmp_path: Path, fallback: OfflineScorer, replies: list[tuple[int, str]], seen: list[dict],
           budget: int = 100_000) -> ClaudeScorer:  # fmt: skip
    queue = list(replies)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append({"headers": dict(request.headers), "body": json.loads(request.content)})
        status, name = queue.pop(0)
        return httpx.Response(
            status,
            content=body(name),
            headers={"content-type": "application/json", "retry-after-ms": "1"},
        )

    client = anthropic_client(httpx.Client(transport=httpx.MockTransport(handler)), api_key=KEY)
    return ClaudeScorer(client, ScoreCache(tmp_path / "cache.sqlite"), fallback, daily_token_budget=budget,
                        now=lambda: datetime(2025, 12, 12, tzinfo=UTC))  # fmt: skip


def test_one_request_scores_a_batch_and_the_cache_answers_the_next_time(
    tmp_path: Path, fallback: OfflineScorer
) -> None:
    seen: list[dict] = []
    s = scorer(tmp_path, fallback, [(200, "ok")], seen)
    scores = s.score(HEADLINES)
    assert [(x.score, x.label, x.assets, x.scorer) for x in scores] == [
        (0.7, "positive", ("BTC",), "claude"), (-0.6, "negative", ("ETH",), "claude"), (0.0, "neutral", (), "claude"),
    ]  # fmt: skip
    assert scores[1].categories == ("hack",) and scores[0].prompt_version == PROMPT_VERSION
    request = seen[0]["body"]
    assert request["tool_choice"] == {"type": "tool", "name": "record_sentiment"}
    assert "0. Bitcoin ETF inflows" in request["messages"][0]["content"]
    assert (
        request["tools"][0]["input_schema"]["properties"]["items"]["items"]["properties"]["score"][
            "maximum"
        ]
        == 1
    )
    assert (
        seen[0]["headers"]["authorization"] == f"Bearer {KEY}"
    )  # the key is sent, from the caller
    again = s.score(HEADLINES)
    assert len(seen) == 1 and again == scores  # cache hit: no request
    assert s.cache.spent(datetime(2025, 12, 12).date()) == 692


def test_invalid_items_are_asked_again_once_then_sent_to_the_fallback(
    tmp_path: Path, fallback: OfflineScorer
) -> None:
    seen: list[dict] = []
    s = scorer(tmp_path, fallback, [(200, "malformed"), (200, "reask")], seen)
    scores = s.score(HEADLINES)
    assert len(seen) == 2
    reasked = seen[1]["body"]["messages"][0]["content"]
    assert (
        "1. Ethereum bridge" in reasked
        and "2. Regulators" in reasked
        and "0. Bitcoin" not in reasked
    )
    assert [x.scorer for x in scores] == ["claude", "claude", "offline"]  # score 3, then 'bullish'
    assert scores[1].assets == ("ETH",)
    assert s.cache.get("x", PROMPT_VERSION) is None
    from drydock.news import content_hash

    assert s.cache.get(content_hash(HEADLINES[2]), PROMPT_VERSION) is None  # never cached as valid


def test_text_instead_of_the_tool_falls_back_after_one_re_ask(
    tmp_path: Path, fallback: OfflineScorer
) -> None:
    seen: list[dict] = []
    s = scorer(tmp_path, fallback, [(200, "not_json"), (200, "not_json")], seen)
    assert [x.scorer for x in s.score(HEADLINES)] == ["offline"] * 3 and len(seen) == 2


@pytest.mark.parametrize("error", ["rate_limit_429", "overloaded_529"])
def test_the_sdk_retries_429_and_529_then_succeeds(
    tmp_path: Path, fallback: OfflineScorer, error: str
) -> None:
    seen: list[dict] = []
    status = int(error.rsplit("_", 1)[1])
    s = scorer(tmp_path, fallback, [(status, error), (status, error), (200, "ok")], seen)
    assert [x.scorer for x in s.score(HEADLINES)] == ["claude"] * 3
    assert len(seen) == 3 and s.requests == 1


def test_a_spent_budget_hands_everything_to_the_fallback(
    tmp_path: Path, fallback: OfflineScorer
) -> None:
    seen: list[dict] = []
    s = scorer(tmp_path, fallback, [(200, "ok")], seen, budget=600)
    s.score(HEADLINES[:1] + HEADLINES[1:])  # 692 tokens: the budget is now spent
    later = s.score(["Solana validators ship an upgrade", "Dogecoin jumps 10%"])
    assert len(seen) == 1 and [x.scorer for x in later] == ["offline", "offline"]
    assert later[1].assets == ("DOGE",)  # the fallback resolves assets with the token catalog


def test_the_api_key_never_reaches_a_log(tmp_path: Path, fallback: OfflineScorer, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    configure_logging("json", "DEBUG")
    seen: list[dict] = []
    s = scorer(
        tmp_path, fallback, [(429, "rate_limit_429"), (200, "malformed"), (200, "reask")], seen
    )
    s.score(HEADLINES)
    captured = capsys.readouterr()
    assert KEY not in captured.err and KEY not in captured.out
    assert "claude.fallback" in captured.err


def test_offline_training_is_deterministic() -> None:
    train, holdout = datasets.split(datasets.cryptolin())
    a = build_model().fit(train.texts, train.labels).predict_proba(holdout.texts)
    b = build_model().fit(train.texts, train.labels).predict_proba(holdout.texts)
    assert (a == b).all()


def _refusing_client() -> httpx.Client:
    """A transport that refuses every connection, as an offline machine does."""
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(str(request.url))
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    client.attempts = attempts  # type: ignore[attr-defined]
    return client


def test_an_unreachable_api_falls_back_to_the_offline_scorer_and_logs_once(
    tmp_path: Path, fallback: OfflineScorer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression (issue 20): with a key set and no network, scoring raised
    anthropic.APIConnectionError and `drydock news sentiment` exited 1."""
    configure_logging("json", "INFO")
    http = _refusing_client()
    client = anthropic_client(http, api_key=KEY).with_options(max_retries=0)
    s = ClaudeScorer(client, ScoreCache(tmp_path / "cache.sqlite"), fallback,
                     now=lambda: datetime(2025, 12, 12, tzinfo=UTC))  # fmt: skip
    many = [f"{h} ({i})" for i in range(3) for h in HEADLINES] * 10  # 90 items: 5 batches
    scores = s.score(many)
    assert [x.scorer for x in scores] == ["offline"] * len(many)
    assert len(http.attempts) == 1  # type: ignore[attr-defined]  # no request after the failure
    assert s.unavailable == "APIConnectionError"
    again = s.score(HEADLINES)  # the same scorer does not try again
    assert [x.scorer for x in again] == ["offline"] * 3 and len(http.attempts) == 1  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    assert err.count("claude.unavailable") == 1 and KEY not in err


def test_the_active_scorer_with_a_key_and_no_network_scores_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fallback: OfflineScorer
) -> None:
    """The path of `drydock news sentiment` and the news_sentiment asset: the key picks Claude,
    the refused connection picks the offline champion, nothing raises."""
    from models.sentiment import scorer as scorer_module
    from models.sentiment import train

    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setattr(train, "load_champion", lambda settings: (fallback.model, "test"))
    from drydock.settings import Settings

    settings = Settings(home=tmp_path)
    name, score = scorer_module.active_scorer(settings, http_client=_refusing_client())
    assert name == "claude"
    out = score(HEADLINES)
    assert [x.scorer for x in out] == ["offline"] * 3
    assert out[1].label == fallback(HEADLINES)[1].label
