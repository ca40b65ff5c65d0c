"""Exchanges through ccxt: incremental OHLCV and funding-rate downloads with paging, rate limits
and retries."""

from __future__ import annotations

from drydock.adapters.ccxt._data import (
    FUNDING_UNTIL_UNSUPPORTED,
    HOUR_MS,
    MINUTE_MS,
    NEWEST_FIRST,
    PRICE_KINDS,
    TRANSIENT_ERRORS,
    UNTIL_UNSUPPORTED,
    Download,
    DownloadError,
    RetryPolicy,
    candles_to_frame,
    download_funding,
    download_ohlcv,
    from_ms,
    infer_interval_hours,
    market_funding_interval_hours,
    to_ms,
    venue_page_limit,
)

__all__ = [
    "FUNDING_UNTIL_UNSUPPORTED",
    "HOUR_MS",
    "MINUTE_MS",
    "NEWEST_FIRST",
    "PRICE_KINDS",
    "TRANSIENT_ERRORS",
    "UNTIL_UNSUPPORTED",
    "Download",
    "DownloadError",
    "RetryPolicy",
    "candles_to_frame",
    "download_funding",
    "download_ohlcv",
    "from_ms",
    "infer_interval_hours",
    "market_funding_interval_hours",
    "to_ms",
    "venue_page_limit",
]
