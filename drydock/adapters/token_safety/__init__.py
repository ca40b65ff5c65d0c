"""Token-safety APIs (DexScreener and RugCheck) over httpx: the scored assessment, its cache and
the recorded payloads for offline runs."""

from __future__ import annotations

from drydock.adapters.token_safety._client import (
    DEXSCREENER,
    MAX_TOP10_SHARE,
    MIN_AGE_HOURS,
    MIN_LIQUIDITY_USD,
    RUGCHECK,
    TTL_SECONDS,
    WEIGHTS,
    Safety,
    SafetyCache,
    assess,
)
from drydock.adapters.token_safety._recorded import DEX_FOLDER, dex_client, http_client

__all__ = [
    "DEXSCREENER",
    "DEX_FOLDER",
    "MAX_TOP10_SHARE",
    "MIN_AGE_HOURS",
    "MIN_LIQUIDITY_USD",
    "RUGCHECK",
    "TTL_SECONDS",
    "WEIGHTS",
    "Safety",
    "SafetyCache",
    "assess",
    "dex_client",
    "http_client",
]
