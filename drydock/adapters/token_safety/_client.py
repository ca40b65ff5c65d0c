"""Token safety from DexScreener (liquidity, pair age) and RugCheck (authorities, holders, risks),
scored in [0, 1] with every check's result kept, cached for an hour.

Checks and weights (the practice of the copy-trading seeds; docs/onchain.md):

| check | passes when | weight |
|---|---|---|
| liquidity | the deepest pair holds >= $50,000 | 0.25 |
| pair_age | the oldest pair is >= 24 h old | 0.15 |
| top10_share | the 10 largest holders own <= 30% | 0.20 |
| mint_authority | renounced (None) | 0.15 |
| freeze_authority | renounced (None) | 0.15 |
| no_danger | not rugged and no RugCheck risk at level "danger" (honeypot, freeze, ...) | 0.10 |

A source that fails (HTTP error, 429 after retries, no pairs) makes its checks fail, never pass:
an unknown token is not a safe one. The score is the sum of the weights of the passed checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from drydock.cache import JsonCache

WEIGHTS = {"liquidity": 0.25, "pair_age": 0.15, "top10_share": 0.20, "mint_authority": 0.15,
           "freeze_authority": 0.15, "no_danger": 0.10}  # fmt: skip
MIN_LIQUIDITY_USD = 50_000.0
MIN_AGE_HOURS = 24.0
MAX_TOP10_SHARE = 0.30
TTL_SECONDS = 3600
DEXSCREENER = "https://api.dexscreener.com/latest/dex/tokens/{mint}"
RUGCHECK = "https://api.rugcheck.xyz/v1/tokens/{mint}/report"


@dataclass(frozen=True)
class Safety:
    """The figures, each check's result, the score, and what could not be read."""

    mint: str
    checked_at: datetime
    liquidity_usd: float | None
    pair_age_hours: float | None
    top10_share: float | None
    mint_authority: str | None
    freeze_authority: str | None
    rugged: bool | None
    danger_risks: tuple[str, ...]
    checks: dict[str, bool] = field(default_factory=dict)
    score: float = 0.0
    problems: tuple[str, ...] = ()


class _Transient(LookupError):
    """A failure worth asking again (transport error, 429, 5xx); its text is the problem."""


def _get_once(client: httpx.Client, url: str) -> Any:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise _Transient(type(exc).__name__) from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise _Transient(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise LookupError(f"HTTP {response.status_code}")
    return response.json()


def _get(client: httpx.Client, url: str, sleep: Callable[[float], None], attempts: int = 3) -> Any:
    """GET ``url`` as JSON; transient failures retried with backoff (0.5 s doubling, tenacity);
    a :class:`LookupError` naming the last problem when none succeeds."""
    retrying = Retrying(
        retry=retry_if_exception_type(_Transient),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.5, max=8),
        sleep=sleep,
        reraise=True,
    )
    try:
        return retrying(_get_once, client, url)
    except _Transient as exc:
        raise LookupError(str(exc)) from exc


def assess(mint: str, client: httpx.Client, now: datetime | None = None,
           sleep: Callable[[float], None] = time.sleep) -> Safety:  # fmt: skip
    """Read both sources and score the token (no cache: see :class:`SafetyCache`)."""
    now = now or datetime.now(UTC)
    problems = []
    liquidity = age = top10 = None
    mint_auth: Any = "unknown"
    freeze_auth: Any = "unknown"
    rugged: bool | None = None
    danger: tuple[str, ...] = ()
    try:
        pairs = _get(client, DEXSCREENER.format(mint=mint), sleep).get("pairs") or []
        if not pairs:
            problems.append("dexscreener: no pairs")
        else:
            liquidity = max(float((p.get("liquidity") or {}).get("usd") or 0) for p in pairs)
            created = [p["pairCreatedAt"] for p in pairs if p.get("pairCreatedAt")]
            if created:
                age = (now.timestamp() * 1000 - min(created)) / 3_600_000
    except (LookupError, ValueError) as exc:
        problems.append(f"dexscreener: {exc}")
    try:
        report = _get(client, RUGCHECK.format(mint=mint), sleep)
        token = report.get("token") or {}
        mint_auth, freeze_auth = token.get("mintAuthority"), token.get("freezeAuthority")
        holders = sorted(
            (float(h.get("pct") or 0) for h in report.get("topHolders") or []), reverse=True
        )
        top10 = sum(holders[:10]) / 100 if holders else None
        rugged = bool(report.get("rugged"))
        danger = tuple(
            str(r.get("name")) for r in report.get("risks") or [] if r.get("level") == "danger"
        )
    except (LookupError, ValueError) as exc:
        problems.append(f"rugcheck: {exc}")
    checks = {
        "liquidity": liquidity is not None and liquidity >= MIN_LIQUIDITY_USD,
        "pair_age": age is not None and age >= MIN_AGE_HOURS,
        "top10_share": top10 is not None and top10 <= MAX_TOP10_SHARE,
        "mint_authority": mint_auth is None,
        "freeze_authority": freeze_auth is None,
        "no_danger": rugged is False and not danger,
    }
    score = round(sum(WEIGHTS[k] for k, ok in checks.items() if ok), 6)
    return Safety(mint, now, liquidity, age, top10, None if mint_auth is None else str(mint_auth),
                  None if freeze_auth is None else str(freeze_auth), rugged, danger, checks, score,
                  tuple(problems))  # fmt: skip


class SafetyCache:
    """Assessments by mint, reused for ``ttl`` seconds (a :class:`drydock.cache.JsonCache`)."""

    def __init__(self, path: Path, ttl: int = TTL_SECONDS):
        self._cache = JsonCache(path, "token_safety")
        self.ttl = ttl

    def get_or_assess(self, mint: str, client: httpx.Client, now: datetime | None = None,
                      sleep: Callable[[float], None] = time.sleep) -> tuple[Safety, bool]:  # fmt: skip
        """(assessment, whether it came from the cache)."""
        now = now or datetime.now(UTC)
        cached = self._cache.get(mint, max_age=self.ttl, now=now.timestamp())
        if cached is not None:
            return _load(cached), True
        safety = assess(mint, client, now, sleep)
        self._cache.put(mint, _dump(safety), now=now.timestamp())
        return safety, False

    def close(self) -> None:
        self._cache.close()


def _dump(s: Safety) -> dict[str, Any]:
    data = asdict(s)
    data["checked_at"] = s.checked_at.isoformat()
    return data


def _load(d: Mapping[str, Any]) -> Safety:
    data = dict(d)
    data["checked_at"] = datetime.fromisoformat(data["checked_at"])
    data["danger_risks"] = tuple(data["danger_risks"])
    data["problems"] = tuple(data["problems"])
    return Safety(**data)
