"""OHLCV sources: the bundled sample, and the real ccxt Binance class on a recorded payload."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlparse

import ccxt
import polars as pl
import pytest

import pipelines.resources
from drydock.errors import DrydockError
from drydock.funding import FUNDING_SCHEMA
from drydock.ohlcv import BAR_SCHEMA, SeriesKey
from drydock.sample import read_sample
from pipelines.resources import (
    CcxtOhlcvSource,
    SampleOhlcvSource,
    candles_to_frame,
    make_source,
    source_from_env,
)
from tests.pipelines.replay import MARKETS, KlinesReplay, recorded_klines

BTC = SeriesKey("binance", "BTC/USDT", "1h")
DAY = date(2026, 2, 8)  # the recorded klines: 04:00, 05:00 and 06:00 UTC of this day
DAY_START_MS = 1_770_508_800_000  # 2026-02-08T00:00:00Z


def offline_binance(replay: KlinesReplay, **config: object) -> CcxtOhlcvSource:
    """A ccxt source whose real ccxt.binance instance loads markets from the fixture."""
    source = CcxtOhlcvSource(exchange_id="binance", markets_file=str(MARKETS), **config)
    source.exchange().fetch = replay
    return source


def expected_bars() -> pl.DataFrame:
    """ccxt's own parse of the recorded payload, as bars."""
    return candles_to_frame(recorded_klines()["parsed_response"])


def test_sample_source_serves_one_utc_day() -> None:
    frame = SampleOhlcvSource().fetch_day(BTC, date(2024, 2, 29))
    assert frame.schema == pl.Schema(BAR_SCHEMA)
    assert frame.height == 24
    assert frame["ts"][0] == datetime(2024, 2, 29, tzinfo=UTC)
    assert frame["ts"][-1] == datetime(2024, 2, 29, 23, tzinfo=UTC)
    sample = read_sample(BTC, datetime(2024, 2, 29, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    assert frame.equals(sample)


def test_sample_source_day_outside_coverage_is_empty() -> None:
    frame = SampleOhlcvSource().fetch_day(BTC, date(2023, 6, 1))
    assert frame.height == 0
    assert frame.schema == pl.Schema(BAR_SCHEMA)


def test_ccxt_binance_parses_recorded_klines_into_exact_bars() -> None:
    replay = KlinesReplay()
    source = offline_binance(replay)
    frame = source.fetch_day(BTC, DAY)

    assert frame.schema == pl.Schema(BAR_SCHEMA)
    assert frame.rows() == [
        (datetime(2026, 2, 8, 4, tzinfo=UTC), 69100.0, 69372.06, 68952.01, 69340.16, 390.41434),
        (datetime(2026, 2, 8, 5, tzinfo=UTC), 69340.15, 69422.43, 69146.47, 69220.52, 386.01063),
        (datetime(2026, 2, 8, 6, tzinfo=UTC), 69220.53, 69518.56, 69090.0, 69383.06, 799.88428),
    ]
    assert frame.equals(expected_bars())
    path, query = replay.requests[0]
    assert path == "/api/v3/klines"
    assert query == {
        "interval": "1h",
        "limit": "1000",
        "symbol": "BTCUSDT",
        "startTime": str(DAY_START_MS),
        "endTime": str(DAY_START_MS + 86_400_000 - 1),
    }
    # The page ended at 06:00, so the loop asked once more from 07:00 and got nothing; then
    # each hole of the (long closed) day was asked for once more: 00:00-04:00 and 07:00-24:00.
    hours = [(int(q["startTime"]) - DAY_START_MS) // 3_600_000 for _, q in replay.requests]
    assert hours == [0, 7, 0, 7]
    report = source.last_download
    assert report is not None and report.pages == 4 and report.gaps_refetched == 2
    assert report.gaps_remaining == (
        (datetime(2026, 2, 8, tzinfo=UTC), datetime(2026, 2, 8, 4, tzinfo=UTC)),
        (datetime(2026, 2, 8, 7, tzinfo=UTC), datetime(2026, 2, 9, tzinfo=UTC)),
    )


def test_ccxt_pages_with_its_own_since_loop() -> None:
    replay = KlinesReplay()
    frame = offline_binance(replay, page_limit=2).fetch_day(BTC, DAY)

    assert frame.equals(expected_bars())
    hours = [(int(q["startTime"]) - DAY_START_MS) // 3_600_000 for _, q in replay.requests]
    # 04:00+05:00, then 06:00, then an empty page; the gap re-fetches (00:00-04:00 gets 04:00 and
    # 05:00 back, outside the gap, so it stops; 07:00-24:00 is empty).
    assert hours == [0, 6, 7, 0, 7]
    assert all(q["limit"] == "2" for _, q in replay.requests)


def test_ccxt_drops_bars_outside_the_day_even_if_the_exchange_ignores_until() -> None:
    replay = KlinesReplay(ignore_end_time=True)
    frame = offline_binance(replay).fetch_day(BTC, date(2026, 2, 7))
    assert frame.height == 0
    # The next bar is past the day: no second page; the empty day is re-fetched once as a gap.
    assert len(replay.requests) == 2


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the retry waits instead of sleeping through them."""
    recorded: list[float] = []
    monkeypatch.setattr(pipelines.resources, "_sleep", recorded.append)
    return recorded


def flaky(replay: KlinesReplay, errors: list[Exception]) -> Any:
    """``Exchange.fetch`` that raises ``errors`` in turn, then answers from the replay."""
    pending = iter(errors)

    def fetch(url: str, method: str = "GET", headers: object = None, body: object = None) -> Any:
        error = next(pending, None)
        if error is not None:
            raise error
        return replay(url, method, headers, body)

    return fetch


@pytest.mark.parametrize(
    "error",
    [
        ccxt.RequestTimeout("binance GET /api/v3/klines 408 timed out"),
        ccxt.NetworkError("binance GET /api/v3/klines connection reset"),
        ccxt.DDoSProtection("binance 418 banned"),
        ccxt.RateLimitExceeded("binance 429 Too Many Requests"),
        ccxt.ExchangeNotAvailable("binance 503 Service Unavailable"),
    ],
)
def test_ccxt_retries_transient_errors_with_jittered_backoff(
    error: Exception, waits: list[float]
) -> None:
    replay = KlinesReplay()
    source = offline_binance(replay, retry_backoff_seconds=2.0, retry_max_backoff_seconds=5.0)
    source.exchange().fetch = flaky(replay, [error, error, error])

    assert source.fetch_day(BTC, DAY).equals(expected_bars())
    assert len(waits) == 3
    # Full jitter: retry n waits a random time in [0, min(5, 2 * 2^n)].
    assert all(0 <= wait <= bound for wait, bound in zip(waits, [4.0, 5.0, 5.0], strict=True))


def test_ccxt_gives_up_after_bounded_attempts_naming_exchange_symbol_and_day(
    waits: list[float],
) -> None:
    replay = KlinesReplay()
    source = offline_binance(replay, retries=2)
    source.exchange().fetch = flaky(replay, [ccxt.RequestTimeout("timed out")] * 10)

    with pytest.raises(
        DrydockError,
        match=r"ccxt binance could not fetch BTC/USDT 1h for 2026-02-08 after 3 attempt\(s\): "
        r"RequestTimeout: timed out\. Nothing was written",
    ) as raised:
        source.fetch_day(BTC, DAY)
    assert isinstance(raised.value.__cause__, ccxt.RequestTimeout)
    assert len(waits) == 2


@pytest.mark.parametrize(
    "error",
    [
        ccxt.BadSymbol("binance Invalid symbol."),
        ccxt.AuthenticationError("binance API-key format invalid."),
        ccxt.ExchangeError("binance Invalid interval."),
    ],
)
def test_ccxt_does_not_retry_request_errors(error: Exception, waits: list[float]) -> None:
    replay = KlinesReplay()
    calls: list[str] = []
    source = offline_binance(replay)
    fail = flaky(replay, [error])

    def counted(url: str, *args: Any) -> Any:
        calls.append(url)
        return fail(url, *args)

    source.exchange().fetch = counted
    with pytest.raises(type(error)):
        source.fetch_day(BTC, DAY)
    assert len(calls) == 1 and waits == []


def test_ccxt_unknown_symbol_names_close_matches() -> None:
    source = offline_binance(KlinesReplay())
    with pytest.raises(DrydockError, match=r"Unknown symbol 'BTC/USDC' on binance.*BTC/USDT"):
        source.fetch_day(SeriesKey("binance", "BTC/USDC", "1h"), DAY)


def test_ccxt_rejects_timeframe_and_exchange_mismatch() -> None:
    source = offline_binance(KlinesReplay())
    with pytest.raises(DrydockError, match=r"Unknown timeframe on binance '7m'.*1h"):
        source.fetch_day(SeriesKey("binance", "BTC/USDT", "7m"), DAY)
    with pytest.raises(DrydockError, match=r"on 'okx' but this ccxt source serves 'binance'"):
        source.fetch_day(SeriesKey("okx", "BTC/USDT", "1h"), DAY)


def test_source_choice_by_name_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_source("sample"), SampleOhlcvSource)
    with pytest.raises(
        DrydockError, match=r"Unknown OHLCV source 'csv'. Valid choices: ccxt, sample"
    ):
        make_source("csv")
    with pytest.raises(DrydockError, match=r"Unknown ccxt exchange 'nope'"):
        CcxtOhlcvSource(exchange_id="nope").exchange()
    with pytest.raises(DrydockError, match=r"Unknown ccxt exchange 'nope'.*binance"):
        make_source("ccxt", "nope")
    monkeypatch.delenv("DRYDOCK_OHLCV_SOURCE", raising=False)
    monkeypatch.delenv("DRYDOCK_CCXT_EXCHANGE", raising=False)
    assert isinstance(source_from_env(), SampleOhlcvSource)
    monkeypatch.setenv("DRYDOCK_OHLCV_SOURCE", " CCXT ")
    assert source_from_env().describe() == "ccxt binance"  # the settings' default exchange
    monkeypatch.setenv("DRYDOCK_OHLCV_SOURCE", "ccxt")
    monkeypatch.setenv("DRYDOCK_CCXT_EXCHANGE", "okx")
    source = source_from_env()
    assert isinstance(source, CcxtOhlcvSource) and source.exchange_id == "okx"


# ---- ranges, datasets and funding (issue 6) --------------------------------------------------

PERP = SeriesKey("binance", "BTC/USDT:USDT", "1h")
EXCHANGE_FIXTURES = MARKETS.parent / "exchanges"
PERP_MARKETS = EXCHANGE_FIXTURES / "markets_binance.json"


def test_sample_source_serves_a_range_of_the_perp() -> None:
    source = SampleOhlcvSource()
    frame = source.fetch_range(
        PERP, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 3, tzinfo=UTC)
    )
    assert frame.rows() == [
        (datetime(2024, 1, 1, 0, tzinfo=UTC), 42314.0, 42603.2, 42289.6, 42503.5, 8459.477),
        (datetime(2024, 1, 1, 1, tzinfo=UTC), 42503.5, 42832.0, 42462.0, 42647.9, 9043.411),
        (datetime(2024, 1, 1, 2, tzinfo=UTC), *frame.row(2)[1:]),
    ]
    assert source.fetch_day(PERP, date(2024, 3, 31)).height == 24


def test_sample_source_supports_what_is_bundled_and_no_mark_prices() -> None:
    source = SampleOhlcvSource()
    assert source.supports("ohlcv", PERP) and source.supports("ohlcv", BTC)
    assert not source.supports("ohlcv", SeriesKey("binance", "DOGE/USDT", "1h"))
    assert not source.supports("mark_prices", PERP)
    assert source.supports("funding_rates", PERP)
    assert not source.supports("funding_rates", BTC)
    with pytest.raises(DrydockError, match=r"Unknown dataset 'trades'"):
        source.supports("trades", PERP)
    with pytest.raises(DrydockError, match=r"bundled sample has no mark_prices"):
        source.fetch_range(
            PERP,
            datetime(2024, 1, 1, tzinfo=UTC),
            datetime(2024, 1, 2, tzinfo=UTC),
            dataset="mark_prices",
        )


def test_sample_source_serves_funding() -> None:
    frame = SampleOhlcvSource().fetch_funding(
        "binance",
        "BTC/USDT:USDT",
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 2, tzinfo=UTC),
    )
    assert frame.schema == pl.Schema(FUNDING_SCHEMA)
    assert frame["rate"].to_list() == [0.00037409, 0.00027213, 0.00033601]
    assert frame["interval_hours"].to_list() == [8.0, 8.0, 8.0]
    assert frame["mark_price"][0] == 42313.9


def perp_source(replay: KlinesReplay) -> CcxtOhlcvSource:
    source = CcxtOhlcvSource(exchange_id="binance", markets_file=str(PERP_MARKETS))
    source.exchange().fetch = replay
    source.exchange().throttle = lambda cost=None: None  # ccxt's limiter, not slept in tests
    return source


def test_ccxt_mark_prices_dataset_fetches_mark_klines() -> None:
    replay = KlinesReplay()
    source = perp_source(replay).at(datetime(2026, 2, 8, 7, tzinfo=UTC))
    frame = source.fetch_range(
        PERP,
        datetime(2026, 2, 8, 4, tzinfo=UTC),
        datetime(2026, 2, 8, 7, tzinfo=UTC),
        dataset="mark_prices",
    )
    assert frame.equals(expected_bars())
    assert {path for path, _ in replay.requests} == {"/fapi/v1/markPriceKlines"}
    assert replay.requests[0][1]["symbol"] == "BTCUSDT"
    assert source.last_download is not None and source.last_download.pages == 1


def test_ccxt_fetch_range_drops_the_bar_open_at_the_source_clock() -> None:
    source = perp_source(KlinesReplay()).at(datetime(2026, 2, 8, 6, 59, tzinfo=UTC))
    frame = source.fetch_range(
        PERP, datetime(2026, 2, 8, 4, tzinfo=UTC), datetime(2026, 2, 8, 7, tzinfo=UTC)
    )
    assert frame["close"].to_list() == [69340.16, 69220.52]


def test_ccxt_supports_mark_prices_and_funding_on_perps_only() -> None:
    source = perp_source(KlinesReplay())
    spot = SeriesKey("binance", "BTC/USDT", "1h")
    assert source.supports("ohlcv", spot) and source.supports("mark_prices", PERP)
    assert source.supports("funding_rates", PERP)
    assert not source.supports("mark_prices", spot)
    assert not source.supports("funding_rates", spot)
    kraken = CcxtOhlcvSource(
        exchange_id="kraken", markets_file=str(EXCHANGE_FIXTURES / "markets_kraken.json")
    )
    assert not kraken.supports("mark_prices", SeriesKey("kraken", "BTC/USDT", "1h"))


def test_ccxt_fetch_funding_parses_binance_history() -> None:
    source = perp_source(KlinesReplay())
    body = json.loads(
        (EXCHANGE_FIXTURES / "nautilus_binance_http_futures_market_funding_rate.json").read_text()
    )
    urls: list[str] = []

    def fetch(url: str, *args: object) -> object:
        urls.append(url)
        return body if len(urls) == 1 else []

    source.exchange().fetch = fetch
    frame = source.fetch_funding(
        "binance",
        "BTC/USDT:USDT",
        datetime(2019, 10, 1, tzinfo=UTC),
        datetime(2019, 11, 1, tzinfo=UTC),
    )
    assert frame.schema == pl.Schema(FUNDING_SCHEMA)
    assert frame["ts"].to_list() == [
        datetime(2019, 10, 9, 8, tzinfo=UTC),
        datetime(2019, 10, 9, 16, tzinfo=UTC),
    ]
    assert frame["rate"].to_list() == [-0.0375, 0.0001]
    assert frame["interval_hours"].to_list() == [8.0, 8.0]
    assert urlparse(urls[0]).path == "/fapi/v1/fundingRate"
    with pytest.raises(DrydockError, match=r"on 'okx' but this ccxt source serves 'binance'"):
        source.fetch_funding(
            "okx",
            "BTC/USDT:USDT",
            datetime(2019, 10, 1, tzinfo=UTC),
            datetime(2019, 11, 1, tzinfo=UTC),
        )
