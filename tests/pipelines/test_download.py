"""drydock.adapters.ccxt with the real ccxt binance, bybit, okx and kraken classes, offline.

Only the transport is replaced: ``Exchange.fetch`` answers from recorded raw payloads
(tests/fixtures/exchanges, see its PROVENANCE.md), slicing the recorded candles by the ``since``,
``until`` and ``limit`` each venue puts in its URL; ccxt builds every request and parses every
answer. HTTP failures go through the exchange's own ``handle_errors``/``handle_http_status_code``,
so a 429 or a 503 becomes whatever exception ccxt raises for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import ccxt
import polars as pl
import pytest

from drydock.adapters.ccxt import (
    Download,
    DownloadError,
    RetryPolicy,
    download_funding,
    download_ohlcv,
    infer_interval_hours,
)
from drydock.errors import DrydockError
from drydock.funding import FUNDING_SCHEMA
from drydock.ohlcv import BAR_SCHEMA
from drydock.series import SeriesKey

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EXCHANGES = FIXTURES / "exchanges"
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def load(name: str) -> Any:
    """A fixture file's JSON."""
    path = EXCHANGES / name if (EXCHANGES / name).exists() else FIXTURES / name
    return json.loads(path.read_text())


def utc(*parts: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def ms_of(moment: datetime) -> int:
    """Epoch ms."""
    return int(moment.timestamp() * 1000)


# ---- recorded candles, as each venue serves them ------------------------------------------


def binance_rows() -> list[list[Any]]:
    """Binance GET /api/v3/klines, BTCUSDT 1h, 3 klines from 2026-02-08 04:00 UTC (ascending)."""
    return list(load("ccxt-rs_binance_fetch_ohlcv_BTC_USDT.json")["http_response"])


def kraken_rows() -> list[list[Any]]:
    """Kraken /0/public/OHLC XBTUSDT 1m, 721 candles (seconds) 2025-11-10 12:17 .. 11-11 00:17."""
    return list(load("nautilus_kraken_http_ohlc.json")["result"]["XBTUSDT"])


Failure = tuple[int, str, str]  # HTTP status, reason, body


@dataclass
class Venue:
    """Stands in for ``exchange.fetch``: the recorded candles, sliced the way the venue does."""

    exchange: Any
    rows: list[list[Any]]
    failures: list[Failure] = field(default_factory=list)
    drop_once: set[int] = field(default_factory=set)
    drop_always: set[int] = field(default_factory=set)
    rewind: int = 0
    urls: list[str] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)

    def ms(self, row: list[Any]) -> int:
        value = int(row[0])
        return value * 1000 if self.exchange.id == "kraken" else value

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        self.urls.append(url)
        query = dict(parse_qsl(urlparse(url).query))
        self.queries.append(query)
        if self.failures:
            status, reason, text = self.failures.pop(0)
            data = json.loads(text) if text.startswith("{") else None
            ex = self.exchange
            if not ex.handle_errors(status, reason, url, method, {}, text, data, {}, None):
                ex.handle_http_status_code(status, reason, url, method, text)
            raise ccxt.ExchangeError(f"{ex.id} {method} {url} {status}")
        rows = [r for r in self.rows if self.ms(r) not in self.drop_always]
        served = self.slice(rows, query)
        if self.drop_once:
            kept = [r for r in served if self.ms(r) not in self.drop_once]
            self.drop_once -= {self.ms(r) for r in served}
            served = kept
        return self.wrap(served)

    def slice(self, rows: list[list[Any]], query: dict[str, str]) -> list[list[Any]]:
        venue = self.exchange.id
        if venue == "binance":
            lo, hi = int(query.get("startTime", 0)), int(query.get("endTime", 2**62))
            inside = [r for r in rows if lo <= self.ms(r) <= hi]
            first = next((i for i, r in enumerate(rows) if self.ms(r) >= lo), len(rows))
            start = max(first - self.rewind, 0) if inside else first
            picked = rows[start:] if self.rewind else inside
            return [r for r in picked if self.ms(r) <= hi][: int(query.get("limit", 500))]
        if venue == "kraken":  # candles after `since` (seconds), at most 720, ascending
            since = int(query.get("since", 0))
            return [r for r in rows if int(r[0]) > since][:720]
        if venue == "bybit":  # [start, end], newest first, at most `limit`
            lo, hi = int(query.get("start", 0)), int(query.get("end", 2**62))
            inside = sorted((r for r in rows if lo <= self.ms(r) <= hi), key=self.ms, reverse=True)
            return inside[: int(query.get("limit", 200))]
        if venue == "okx":  # (before, after) exclusive, newest first, at most `limit`
            lo, hi = int(query.get("before", -1)), int(query.get("after", 2**62))
            inside = sorted((r for r in rows if lo < self.ms(r) < hi), key=self.ms, reverse=True)
            return inside[: int(query.get("limit", 100))]
        raise AssertionError(venue)

    def wrap(self, rows: list[list[Any]]) -> Any:
        venue = self.exchange.id
        if venue == "binance":
            return rows
        if venue == "kraken":
            return {"error": [], "result": {"XBTUSDT": rows, "last": 0}}
        if venue == "bybit":
            return {"retCode": 0, "retMsg": "OK", "result": {"list": rows}, "time": 0}
        return {"code": "0", "msg": "", "data": rows}


def exchange(venue: str) -> Any:
    """The real ccxt class with fixture markets and ccxt's throttle recorded instead of slept."""
    instance = getattr(ccxt, venue)({"enableRateLimit": True})
    instance.set_markets(load(f"markets_{venue}.json"))
    instance.throttle_costs = []
    instance.throttle = instance.throttle_costs.append
    return instance


def replay(venue: str, rows: list[list[Any]], **options: Any) -> tuple[Any, Venue]:
    """An exchange whose transport is a :class:`Venue` over ``rows``."""
    instance = exchange(venue)
    transport = Venue(instance, rows, **options)
    instance.fetch = transport
    return instance, transport


@pytest.fixture
def waits() -> list[float]:
    """Retry waits, recorded instead of slept."""
    return []


@pytest.fixture
def retry(waits: list[float]) -> RetryPolicy:
    """Three retries, 1 s scale, 4 s cap, sleeping into ``waits``."""
    return RetryPolicy(retries=3, backoff_seconds=1.0, max_backoff_seconds=4.0, sleep=waits.append)


BTC = SeriesKey("binance", "BTC/USDT", "1h")
XBT = SeriesKey("kraken", "BTC/USDT", "1m")
BINANCE_DAY = utc(2026, 2, 8)
LATER = utc(2026, 6, 1)  # long after every recorded bar closed
KRAKEN_FIRST = utc(2025, 11, 10, 12, 17)
KRAKEN_END = utc(2025, 11, 11, 0, 18)  # one minute past the last candle (00:17)


def kraken_download(transport_options: dict[str, Any], retry: RetryPolicy, **kw: Any) -> Download:
    instance, _ = replay("kraken", kraken_rows(), **transport_options)
    return download_ohlcv(instance, XBT, KRAKEN_FIRST, KRAKEN_END, now=LATER, retry=retry, **kw)


# ---- OHLCV ----------------------------------------------------------------------------------


def test_binance_one_page_parses_the_recorded_klines(retry: RetryPolicy) -> None:
    instance, venue = replay("binance", binance_rows())
    got = download_ohlcv(
        instance, BTC, utc(2026, 2, 8, 4), utc(2026, 2, 8, 7), now=LATER, retry=retry
    )
    assert got.frame.schema == pl.Schema(BAR_SCHEMA)
    assert got.frame.rows() == [
        (utc(2026, 2, 8, 4), 69100.0, 69372.06, 68952.01, 69340.16, 390.41434),
        (utc(2026, 2, 8, 5), 69340.15, 69422.43, 69146.47, 69220.52, 386.01063),
        (utc(2026, 2, 8, 6), 69220.53, 69518.56, 69090.0, 69383.06, 799.88428),
    ]
    assert (got.pages, got.retries, got.gaps_refetched, got.gaps_remaining) == (1, 0, 0, ())
    assert venue.queries == [
        {
            "interval": "1h",
            "limit": "1000",
            "symbol": "BTCUSDT",
            "startTime": str(ms_of(utc(2026, 2, 8, 4))),
            "endTime": str(ms_of(utc(2026, 2, 8, 7)) - 1),
        }
    ]
    assert instance.throttle_costs and len(instance.throttle_costs) == 1  # ccxt's limiter ran


def test_the_still_open_last_bar_is_dropped(retry: RetryPolicy) -> None:
    """Recorded at 06:19:24 UTC (the payload's capture time): the 06:00 bar was still open."""
    instance, _ = replay("binance", binance_rows())
    captured = datetime.fromtimestamp(1_770_531_564.519, tz=UTC)
    got = download_ohlcv(
        instance, BTC, utc(2026, 2, 8, 4), utc(2026, 2, 8, 7), now=captured, retry=retry
    )
    assert got.frame["ts"].to_list() == [utc(2026, 2, 8, 4), utc(2026, 2, 8, 5)]
    assert got.gaps_remaining == ()  # 06:00 is not missing, it is not final yet
    at_close = download_ohlcv(
        instance, BTC, utc(2026, 2, 8, 4), utc(2026, 2, 8, 7), now=utc(2026, 2, 8, 7), retry=retry
    )
    assert at_close.frame.height == 3  # at 07:00 sharp the 06:00 bar has closed


def test_kraken_many_pages_across_boundaries(retry: RetryPolicy) -> None:
    instance, venue = replay("kraken", kraken_rows())
    got = download_ohlcv(
        instance, XBT, KRAKEN_FIRST, KRAKEN_END, now=LATER, page_limit=100, retry=retry
    )
    assert got.frame.height == 721
    assert got.frame["ts"][0] == KRAKEN_FIRST
    assert got.frame["ts"][-1] == utc(2025, 11, 11, 0, 17)
    assert got.frame["ts"].diff().drop_nulls().unique().to_list() == [timedelta(minutes=1)]
    assert got.frame.row(0) == (KRAKEN_FIRST, 106038.2, 106038.2, 106038.2, 106038.2, 0.0)
    last = kraken_rows()[-1]
    assert got.frame.row(-1)[1:] == tuple(
        float(v) for v in (last[1], last[2], last[3], last[4], last[6])
    )
    # ccxt keeps 100 of each answer: 7 full pages, the 8th holds the last 21 candles and reaches
    # the end of the range, so no empty page is asked for.
    assert got.pages == 8 and got.gaps_remaining == () and got.gaps_refetched == 0
    sinces = [int(q["since"]) for q in venue.queries]
    assert sinces[:2] == [ms_of(KRAKEN_FIRST) // 1000 - 60, ms_of(KRAKEN_FIRST) // 1000 + 99 * 60]
    assert len(instance.throttle_costs) == 8


def test_bybit_newest_first_pages_are_windowed_so_nothing_is_skipped(retry: RetryPolicy) -> None:
    rows = load("ccxt-rs_bybit_fetch_ohlcv_BTC_USDT.json")["http_response"]["result"]["list"]
    instance, venue = replay("bybit", rows)
    key = SeriesKey("bybit", "BTC/USDT", "1h")
    got = download_ohlcv(
        instance, key, utc(2026, 2, 8, 4), utc(2026, 2, 8, 7), now=LATER, page_limit=2, retry=retry
    )
    assert got.frame["close"].to_list() == [69342.9, 69222.8, 69372.6]
    assert got.frame["ts"].to_list() == [utc(2026, 2, 8, h) for h in (4, 5, 6)]
    assert [(int(q["start"]), int(q["end"])) for q in venue.queries] == [
        (ms_of(utc(2026, 2, 8, 4)), ms_of(utc(2026, 2, 8, 6)) - 1),
        (ms_of(utc(2026, 2, 8, 6)), ms_of(utc(2026, 2, 8, 7)) - 1),
    ]


def test_okx_spot_pages_parse_the_recorded_candles(retry: RetryPolicy) -> None:
    rows = load("ccxt-rs_okx_fetch_ohlcv_BTC_USDT.json")["http_response"]["data"]
    instance, venue = replay("okx", rows)
    key = SeriesKey("okx", "BTC/USDT", "1h")
    got = download_ohlcv(
        instance, key, utc(2026, 2, 8, 4), utc(2026, 2, 8, 7), now=LATER, page_limit=2, retry=retry
    )
    assert got.frame.rows()[0] == (
        utc(2026, 2, 8, 4),
        69101.1,
        69370.3,
        68971.0,
        69345.7,
        159.66146446,
    )
    assert got.frame["close"].to_list() == [69345.7, 69222.8, 69344.1]
    assert got.pages == 2 and all(q["instId"] == "BTC-USDT" for q in venue.queries)


@pytest.mark.parametrize(
    ("status", "reason", "body", "error"),
    [
        (
            429,
            "Too Many Requests",
            '{"code":-1003,"msg":"Too many requests."}',
            ccxt.DDoSProtection,
        ),
        (503, "Service Unavailable", "Service Unavailable", ccxt.ExchangeNotAvailable),
        (504, "Gateway Timeout", "Gateway Timeout", ccxt.RequestTimeout),
    ],
)
def test_a_transient_http_error_then_success(
    status: int,
    reason: str,
    body: str,
    error: type[Exception],
    retry: RetryPolicy,
    waits: list[float],
) -> None:
    instance, venue = replay("binance", binance_rows(), failures=[(status, reason, body)])
    with pytest.raises(error):  # ccxt's own mapping of the status
        instance.fetch_ohlcv("BTC/USDT", "1h", since=ms_of(BINANCE_DAY))
    venue.failures = [(status, reason, body)]
    got = download_ohlcv(
        instance, BTC, utc(2026, 2, 8, 4), utc(2026, 2, 8, 7), now=LATER, retry=retry
    )
    assert got.frame.height == 3 and got.retries == 1 and got.pages == 1
    assert len(waits) == 1 and 0 <= waits[0] <= 1.0  # full jitter: uniform in [0, 1 x 2^0]


def test_retries_exhausted_name_exchange_symbol_timeframe_and_day(
    retry: RetryPolicy, waits: list[float]
) -> None:
    busy = (429, "Too Many Requests", '{"code":-1003,"msg":"Too many requests."}')
    instance, venue = replay("binance", binance_rows(), failures=[busy] * 10)
    with pytest.raises(
        DownloadError,
        match=r"ccxt binance could not fetch BTC/USDT 1h for 2026-02-08 after 4 attempt\(s\): "
        r"DDoSProtection: .*Nothing was written",
    ) as raised:
        download_ohlcv(
            instance, BTC, utc(2026, 2, 8, 4), utc(2026, 2, 8, 7), now=LATER, retry=retry
        )
    assert isinstance(raised.value, DrydockError)
    assert isinstance(raised.value.__cause__, ccxt.DDoSProtection)
    assert len(venue.urls) == 4 and len(waits) == 3
    assert all(0 <= w <= cap for w, cap in zip(waits, [1.0, 2.0, 4.0], strict=True))


def test_request_errors_are_not_retried(retry: RetryPolicy, waits: list[float]) -> None:
    bad = (400, "Bad Request", '{"code":-1121,"msg":"Invalid symbol."}')
    instance, venue = replay("binance", binance_rows(), failures=[bad])
    with pytest.raises(ccxt.BadSymbol):
        download_ohlcv(instance, BTC, BINANCE_DAY, utc(2026, 2, 9), now=LATER, retry=retry)
    assert len(venue.urls) == 1 and waits == []


def test_a_gap_that_appears_is_repaired_by_the_one_refetch(retry: RetryPolicy) -> None:
    hole = {ms_of(utc(2025, 11, 10, 15, m)) for m in range(10, 20)}  # 15:10..15:19, 10 candles
    got = kraken_download({"drop_once": hole}, retry, page_limit=300)
    assert got.frame.height == 721 and got.gaps_refetched == 1 and got.gaps_remaining == ()
    assert got.frame.filter(pl.col("ts") == utc(2025, 11, 10, 15, 10)).height == 1


def test_a_gap_that_stays_is_reported(retry: RetryPolicy) -> None:
    hole = {ms_of(utc(2025, 11, 10, 15, m)) for m in range(10, 20)}
    got = kraken_download({"drop_always": hole}, retry, page_limit=300)
    assert got.frame.height == 711 and got.gaps_refetched == 1
    assert got.gaps_remaining == ((utc(2025, 11, 10, 15, 10), utc(2025, 11, 10, 15, 20)),)


def test_duplicates_are_dropped_first_arrival_kept(retry: RetryPolicy) -> None:
    rows = binance_rows()
    changed = [*rows[1][:4], "1.0", *rows[1][5:]]  # a second 05:00 kline with another close
    instance, _ = replay("binance", [rows[0], rows[1], changed, rows[2]])
    got = download_ohlcv(
        instance, BTC, utc(2026, 2, 8, 4), utc(2026, 2, 8, 7), now=LATER, retry=retry
    )
    assert got.frame["close"].to_list() == [69340.16, 69220.52, 69383.06]


def test_pages_that_overlap_the_previous_page_give_each_bar_once(retry: RetryPolicy) -> None:
    """A venue answering from 1 candle before ``since``: the overlap is not duplicated."""
    instance, venue = replay("binance", binance_rows(), rewind=1)
    got = download_ohlcv(
        instance,
        BTC,
        utc(2026, 2, 8, 4),
        utc(2026, 2, 8, 7),
        now=LATER,
        page_limit=2,
        retry=retry,
    )
    assert got.frame["ts"].to_list() == [utc(2026, 2, 8, h) for h in (4, 5, 6)]
    assert got.frame["close"].to_list() == [69340.16, 69220.52, 69383.06]
    assert len(venue.urls) == 2  # 04:00+05:00, then 05:00 (again) + 06:00


@pytest.mark.parametrize(
    ("venue", "symbol", "path"),
    [
        ("binance", "BTC/USDT:USDT", "/fapi/v1/markPriceKlines"),
        ("binance", "BTC/USD:BTC", "/dapi/v1/markPriceKlines"),
        ("bybit", "BTC/USDT:USDT", "/v5/market/mark-price-kline"),
        ("okx", "BTC/USDT:USDT", "/api/v5/market/history-mark-price-candles"),
    ],
)
def test_mark_bars_request_carries_the_price(
    venue: str, symbol: str, path: str, retry: RetryPolicy
) -> None:
    instance, transport = replay(venue, [])
    key = SeriesKey(venue, symbol, "1h")
    got = download_ohlcv(
        instance, key, utc(2026, 2, 8), utc(2026, 2, 9), now=LATER, price="mark", retry=retry
    )
    assert got.frame.height == 0
    assert {urlparse(u).path for u in transport.urls} == {path}


def test_binance_mark_bars_parse_the_kline_payload(retry: RetryPolicy) -> None:
    instance, transport = replay("binance", binance_rows())
    key = SeriesKey("binance", "BTC/USDT:USDT", "1h")
    got = download_ohlcv(
        instance,
        key,
        utc(2026, 2, 8, 4),
        utc(2026, 2, 8, 7),
        now=LATER,
        price="mark",
        retry=retry,
    )
    assert got.frame["close"].to_list() == [69340.16, 69220.52, 69383.06]
    assert urlparse(transport.urls[0]).netloc == "fapi.binance.com"


def test_mark_bars_on_a_venue_without_them_is_a_clear_error(retry: RetryPolicy) -> None:
    instance, _ = replay("kraken", kraken_rows())
    with pytest.raises(DrydockError, match=r"ccxt kraken has no mark-price bars"):
        download_ohlcv(
            instance, XBT, KRAKEN_FIRST, KRAKEN_END, now=LATER, price="mark", retry=retry
        )
    with pytest.raises(DrydockError, match=r"Unknown bar price 'last'"):
        download_ohlcv(
            instance, XBT, KRAKEN_FIRST, KRAKEN_END, now=LATER, price="last", retry=retry
        )


# ---- funding --------------------------------------------------------------------------------


def funding_exchange(venue: str, payload: str) -> tuple[Any, list[str]]:
    """An exchange answering every request with one recorded funding payload."""
    instance = exchange(venue)
    urls: list[str] = []
    body = load(payload)

    def fetch(url: str, method: str = "GET", headers: Any = None, data: Any = None) -> Any:
        urls.append(url)
        return body if len(urls) == 1 else ([] if venue == "binance" else empty(venue))

    instance.fetch = fetch
    return instance, urls


def empty(venue: str) -> dict[str, Any]:
    """The venue's empty funding answer."""
    if venue == "bybit":
        return {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": []}}
    return {"code": "0", "msg": "", "data": []}


@pytest.mark.parametrize(
    ("venue", "payload", "expected"),
    [
        (
            "binance",
            "nautilus_binance_http_futures_market_funding_rate.json",
            [(utc(2019, 10, 9, 8), -0.0375), (utc(2019, 10, 9, 16), 0.0001)],
        ),
        (
            "bybit",
            "nautilus_bybit_http_get_funding_history.json",
            [(utc(2024, 3, 8, 0), 0.00015), (utc(2024, 3, 8, 8), 0.0001)],
        ),
        (
            "okx",
            "nautilus_okx_http_get_funding_rate_history.json",
            [(utc(2023, 12, 31, 16), -0.00002), (utc(2024, 1, 1, 0), 0.00015)],
        ),
    ],
)
def test_funding_history_parsed_with_inferred_interval(
    venue: str, payload: str, expected: list[tuple[datetime, float]], retry: RetryPolicy
) -> None:
    instance, urls = funding_exchange(venue, payload)
    frame = download_funding(
        instance, "BTC/USDT:USDT", utc(2019, 1, 1), utc(2025, 1, 1), retry=retry
    )
    assert frame.schema == pl.Schema(FUNDING_SCHEMA)
    assert list(zip(frame["ts"].to_list(), frame["rate"].to_list(), strict=True)) == expected
    assert frame["interval_hours"].to_list() == [8.0, 8.0]
    assert frame["mark_price"].null_count() == 2
    assert len(urls) == 2  # the page, then an empty page after the last funding time


def test_funding_interval_from_market_info_wins(retry: RetryPolicy) -> None:
    """A market stating ``fundingInterval`` (bybit: minutes) is used as stated, not inferred."""
    instance, _ = funding_exchange("bybit", "nautilus_bybit_http_get_funding_history.json")
    instance.markets["BTC/USDT:USDT"]["info"]["fundingInterval"] = "240"
    frame = download_funding(
        instance, "BTC/USDT:USDT", utc(2024, 1, 1), utc(2025, 1, 1), retry=retry
    )
    assert frame["interval_hours"].to_list() == [4.0, 4.0]


def test_one_funding_event_without_a_stated_interval_is_an_error(retry: RetryPolicy) -> None:
    instance, _ = funding_exchange(
        "binance", "nautilus_binance_http_futures_market_funding_rate.json"
    )
    with pytest.raises(DrydockError, match=r"returned one funding event .*at least two"):
        download_funding(
            instance, "BTC/USDT:USDT", utc(2019, 10, 9, 12), utc(2019, 10, 10), retry=retry
        )


def test_interval_inference_rule() -> None:
    h = HOUR_MS
    # 8h apart with one missing event (16h hole) and ms jitter: each row takes its smaller gap.
    times = [0, 8 * h + 2, 16 * h, 32 * h + 1, 40 * h]
    assert infer_interval_hours(times) == [8.0, 8.0, 8.0, 8.0, 8.0]
    assert infer_interval_hours([0, 4 * h, 8 * h, 9 * h]) == [4.0, 4.0, 1.0, 1.0]


def test_funding_retries_then_names_the_day(retry: RetryPolicy, waits: list[float]) -> None:
    instance = exchange("binance")
    calls: list[str] = []

    def down(url: str, method: str = "GET", headers: Any = None, data: Any = None) -> Any:
        calls.append(url)
        instance.handle_http_status_code(502, "Bad Gateway", url, method, "Bad Gateway")
        raise AssertionError("unreachable")

    instance.fetch = down
    with pytest.raises(DownloadError, match=r"BTC/USDT:USDT funding rates for 2024-03-01 after 4"):
        download_funding(instance, "BTC/USDT:USDT", utc(2024, 3, 1), utc(2024, 4, 1), retry=retry)
    assert len(calls) == 4 and len(waits) == 3
