"""A recorded Binance klines payload served the way Binance serves it (offline ccxt tests).

The real ``ccxt.binance`` class builds the request; this stands in for ``exchange.fetch`` and
answers from the recorded ``http_response``, honouring ``startTime``, ``endTime`` and ``limit``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KLINES = FIXTURES / "ccxt-rs_binance_fetch_ohlcv_BTC_USDT.json"
MARKETS = FIXTURES / "ccxt_static_markets_binance_BTC_ETH_USDT.json"


def recorded_klines() -> dict[str, Any]:
    """The recorded payload: ``http_response`` (raw klines) and ``parsed_response`` (ccxt)."""
    return dict(json.loads(KLINES.read_text()))


@dataclass
class KlinesReplay:
    """Callable replacing ``Exchange.fetch``; keeps every request's path and query."""

    ignore_end_time: bool = False
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        parsed = urlparse(url)
        query = dict(parse_qsl(parsed.query))
        self.requests.append((parsed.path, query))
        rows = recorded_klines()["http_response"]
        start = int(query.get("startTime", 0))
        end = 2**62 if self.ignore_end_time else int(query.get("endTime", 2**62))
        return [row for row in rows if start <= row[0] <= end][: int(query.get("limit", 500))]
