"""Token safety over httpx MockTransport: DexScreener's real response shape and RugCheck reports
written after its documented fields; every check, the score, fail-closed sources, 429 retries and
the one-hour cache."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from drydock.adapters.token_safety import SafetyCache, assess

FIX = Path(__file__).parents[3] / "data" / "sample" / "dex"
MINT = "9ky9gGqBmspGDPy5ECmnpfB9RPJWwh3MiLdKvNiWMQHa"
NOW = datetime(2024, 3, 20, tzinfo=UTC)  # the older recorded pair was created 2024-03-11 13:18 UTC


def client(
    rug: str = "rugcheck_report_safe",
    dex_status: list[int] | None = None,
    calls: list[str] | None = None,
) -> httpx.Client:
    statuses = list(dex_status or [])

    def handler(request: httpx.Request) -> httpx.Response:
        if calls is not None:
            calls.append(request.url.host)
        if request.url.host == "api.dexscreener.com":
            status = statuses.pop(0) if statuses else 200
            if status != 200:
                return httpx.Response(status)
            return httpx.Response(
                200,
                content=(
                    FIX / "dexscreener_latest_dex_pairs_injective_dojoswap_2024-03.json"
                ).read_bytes(),
            )
        return httpx.Response(200, content=(FIX / f"{rug}.json").read_bytes())

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_a_safe_token_passes_every_check() -> None:
    s = assess(MINT, client(), NOW, sleep=lambda _: None)
    assert s.liquidity_usd == pytest.approx(879284.45) and s.pair_age_hours == pytest.approx(
        202.69, abs=0.01
    )
    assert s.top10_share == pytest.approx(0.26) and (s.mint_authority, s.freeze_authority) == (
        None,
        None,
    )
    assert all(s.checks.values()) and s.score == 1.0 and s.problems == ()


def test_a_risky_token_fails_the_checks_it_should() -> None:
    s = assess(MINT, client("rugcheck_report_risky"), NOW, sleep=lambda _: None)
    assert {k for k, ok in s.checks.items() if not ok} == {
        "top10_share",
        "mint_authority",
        "freeze_authority",
        "no_danger",
    }
    assert s.score == pytest.approx(0.40) and s.danger_risks == ("Freeze Authority still enabled",)


def test_young_pairs_fail_the_age_check() -> None:
    s = assess(
        MINT, client(), datetime(2024, 3, 12, tzinfo=UTC), sleep=lambda _: None
    )  # 10.7 h old
    assert s.checks["pair_age"] is False and s.score == pytest.approx(0.85)


def test_a_failing_source_fails_closed_and_429_is_retried() -> None:
    waits: list[float] = []
    retried = assess(MINT, client(dex_status=[429, 200]), NOW, sleep=waits.append)
    assert retried.checks["liquidity"] and waits == [0.5]
    down = assess(MINT, client(dex_status=[500, 500, 500]), NOW, sleep=lambda _: None)
    assert down.checks["liquidity"] is False and down.checks["pair_age"] is False
    assert down.problems == ("dexscreener: HTTP 500",) and down.score == pytest.approx(0.60)


def test_no_pairs_is_a_problem_not_a_pass() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.dexscreener.com":
            return httpx.Response(200, json={"schemaVersion": "1.0.0", "pairs": None})
        return httpx.Response(200, content=(FIX / "rugcheck_report_safe.json").read_bytes())

    s = assess(
        MINT, httpx.Client(transport=httpx.MockTransport(handler)), NOW, sleep=lambda _: None
    )
    assert (
        s.problems == ("dexscreener: no pairs",)
        and s.liquidity_usd is None
        and not s.checks["liquidity"]
    )


def test_the_cache_answers_for_an_hour(tmp_path: Path) -> None:
    calls: list[str] = []
    cache = SafetyCache(tmp_path / "safety.sqlite")
    first, cached = cache.get_or_assess(MINT, client(calls=calls), NOW, sleep=lambda _: None)
    again, hit = cache.get_or_assess(
        MINT, client(calls=calls), NOW + timedelta(minutes=59), sleep=lambda _: None
    )
    assert (cached, hit) == (False, True) and again == first and len(calls) == 2
    _, hit = cache.get_or_assess(
        MINT, client(calls=calls), NOW + timedelta(minutes=61), sleep=lambda _: None
    )
    assert hit is False and len(calls) == 4
    assert json.loads(json.dumps(first.checks)) == first.checks
