"""Exchanges through ccxt: instances with credentials from the environment, incremental OHLCV and
funding downloads (paging, rate limits, retries), the execution client (orders by client id,
errors mapped to retry or stop) and a recorded Kraken for offline runs."""

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
from drydock.adapters.ccxt._exchanges import (
    CcxtError,
    credential_names,
    exchange_ids,
    exchange_timeframes,
    make_exchange,
)
from drydock.adapters.ccxt._execution import TERMINAL, CcxtVenue, map_ccxt_error
from drydock.adapters.ccxt._recorded import (
    ERRORS,
    FAULTS,
    TAKER_FEE,
    RecordedKraken,
    recorded_cases,
    recorded_kraken_exchange,
)

__all__ = [
    "ERRORS",
    "FAULTS",
    "FUNDING_UNTIL_UNSUPPORTED",
    "HOUR_MS",
    "MINUTE_MS",
    "NEWEST_FIRST",
    "PRICE_KINDS",
    "TAKER_FEE",
    "TERMINAL",
    "TRANSIENT_ERRORS",
    "UNTIL_UNSUPPORTED",
    "CcxtError",
    "CcxtVenue",
    "Download",
    "DownloadError",
    "RecordedKraken",
    "RetryPolicy",
    "candles_to_frame",
    "credential_names",
    "download_funding",
    "download_ohlcv",
    "exchange_ids",
    "exchange_timeframes",
    "from_ms",
    "infer_interval_hours",
    "make_exchange",
    "map_ccxt_error",
    "market_funding_interval_hours",
    "recorded_cases",
    "recorded_kraken_exchange",
    "to_ms",
    "venue_page_limit",
]
