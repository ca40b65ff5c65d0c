"""Incremental ccxt downloads: OHLCV (trade, mark or index bars) and funding-rate history.

Every request goes through ccxt's own rate-limit throttle (``enableRateLimit``) and is retried on
transient errors with exponential backoff and full jitter (tenacity). Bars are paged with an own
``since`` loop (ccxt's ``paginate`` needs ``until`` and differs per venue), the still-open last bar
is dropped, duplicates are removed (first arrival kept), and holes on the timeframe grid are
re-fetched once; what is still missing is reported, never invented.
"""

from __future__ import annotations

import itertools
import time as clock
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ccxt
import polars as pl
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from drydock.errors import DrydockError
from drydock.funding import FUNDING_SCHEMA
from drydock.logs import get_logger
from drydock.ohlcv import BAR_SCHEMA, conform
from drydock.series import SeriesKey
from drydock.timeframes import timeframe_seconds

#: ccxt errors worth retrying: network failures, timeouts, rate limits (DDoSProtection and its
#: subclass RateLimitExceeded, i.e. HTTP 418/429) and an exchange that is briefly unavailable
#: (ExchangeNotAvailable, i.e. HTTP 5xx). ExchangeError (BadSymbol, AuthenticationError, ...) is a
#: wrong request and fails at once.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    ccxt.RequestTimeout,
    ccxt.DDoSProtection,
    ccxt.ExchangeNotAvailable,
    ccxt.NetworkError,
)
#: Bar prices other than trades: ccxt's unified ``params={"price": ...}`` and the ``has`` flag.
PRICE_KINDS = {"mark": "fetchMarkOHLCV", "index": "fetchIndexOHLCV"}
#: ccxt classes that pass an unknown ``until`` straight to the venue instead of honouring it.
UNTIL_UNSUPPORTED = frozenset({"kraken"})
#: Venues that answer a ``[since, until]`` window with its NEWEST ``limit`` bars: each page's
#: window is bounded to ``limit`` bars so nothing between pages is skipped.
NEWEST_FIRST = frozenset({"okx", "bybit"})
#: ccxt classes whose funding history forwards ``until`` to the venue unhandled.
FUNDING_UNTIL_UNSUPPORTED = frozenset({"kraken", "okx"})
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

log = get_logger(__name__)


class DownloadError(DrydockError):
    """A download gave up after its retries; nothing of the requested range should be written."""


@dataclass(frozen=True)
class RetryPolicy:
    """How transient errors are retried: ``retries`` extra attempts, full-jitter backoff."""

    retries: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    sleep: Callable[[float], None] = field(default=clock.sleep, compare=False)


@dataclass(frozen=True)
class Download:
    """Bars of one download plus what it took: pages, retries, gap repairs and what is missing."""

    frame: pl.DataFrame
    pages: int
    retries: int
    gaps_refetched: int
    gaps_remaining: tuple[tuple[datetime, datetime], ...]


@dataclass
class _Counters:
    pages: int = 0
    retries: int = 0


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """Aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def candles_to_frame(rows: Sequence[Sequence[Any]]) -> pl.DataFrame:
    """ccxt candles ``[ms, open, high, low, close, volume]`` -> a bar-schema frame."""
    if not rows:
        return pl.DataFrame(schema=BAR_SCHEMA)
    frame = pl.DataFrame(
        [list(row[:6]) for row in rows],
        schema={"ms": pl.Int64, **{c: pl.Float64 for c in list(BAR_SCHEMA)[1:]}},
        orient="row",
        strict=False,
    )
    return conform(frame.with_columns(ts=pl.from_epoch("ms", time_unit="ms")).drop("ms"))


def _request(
    exchange: Any,
    what: str,
    day_ms: int,
    retry: RetryPolicy,
    counters: _Counters,
    call: Callable[[], list[Any]],
) -> list[Any]:
    """One ccxt request, throttled by ccxt and retried on transient errors only."""

    def note(state: RetryCallState) -> None:
        counters.retries += 1
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "ccxt.retry",
            exchange=exchange.id,
            request=what,
            day=from_ms(day_ms).date().isoformat(),
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            error=f"{type(error).__name__}: {error}",
        )

    retrying = Retrying(
        retry=retry_if_exception_type(TRANSIENT_ERRORS),
        stop=stop_after_attempt(retry.retries + 1),
        wait=wait_random_exponential(
            multiplier=retry.backoff_seconds, max=retry.max_backoff_seconds
        ),
        sleep=retry.sleep,
        before_sleep=note,
        reraise=False,
    )
    try:
        result = retrying(call)
    except RetryError as exc:
        error = exc.last_attempt.exception()
        raise DownloadError(
            f"ccxt {exchange.id} could not fetch {what} for {from_ms(day_ms).date()} after "
            f"{retry.retries + 1} attempt(s): {type(error).__name__}: {error}. Nothing was "
            "written for that day; check the network and the exchange's status, then rerun "
            "(finished days are kept)."
        ) from error
    counters.pages += 1
    return list(result or [])


def _paginate(
    fetch_page: Callable[[int, int], list[Any]],
    timestamp: Callable[[Any], int],
    since: int,
    until: int,
    step_ms: int,
) -> list[Any]:
    """Pages ``[since, until)``: each next page starts one step after the last item received."""
    items: list[Any] = []
    while since < until:
        batch = fetch_page(since, until)
        if not batch:
            break
        items.extend(item for item in batch if since <= timestamp(item) < until)
        following = max(timestamp(item) for item in batch) + step_ms
        if following <= since:  # the venue ignores since: a page that does not advance
            break
        since = following
    return items


def _missing_spans(
    have: Iterable[int], start_ms: int, horizon_ms: int, step_ms: int, phase: int
) -> list[tuple[int, int]]:
    """Holes ``[first_missing, end)`` on the bar grid (aligned to ``phase``) within the window."""
    present = set(have)
    first = start_ms + (phase - start_ms) % step_ms
    spans: list[tuple[int, int]] = []
    open_span: int | None = None
    for ts in range(first, horizon_ms, step_ms):
        if ts in present:
            if open_span is not None:
                spans.append((open_span, ts))
                open_span = None
        elif open_span is None:
            open_span = ts
    if open_span is not None:
        spans.append((open_span, max(horizon_ms, open_span + step_ms)))
    return spans


def _price_params(exchange: Any, key: SeriesKey, price: str | None) -> dict[str, Any]:
    if price is None:
        return {}
    if price not in PRICE_KINDS:
        raise DrydockError(
            f"Unknown bar price {price!r}: use 'mark' or 'index' (or leave it out for trade bars)."
        )
    if not exchange.has.get(PRICE_KINDS[price]):
        raise DrydockError(
            f"ccxt {exchange.id} has no {price}-price bars ({PRICE_KINDS[price]} is not "
            f"supported), so {key} cannot be downloaded as {price} prices; use a venue that has "
            "them (binance, bybit, okx) or download trade bars."
        )
    return {"price": price}


def venue_page_limit(exchange: Any, symbol: str, price: str | None) -> int | None:
    """The most candles one request returns on this venue/market (ccxt ``features``), if known."""
    market = exchange.market(symbol)
    features = exchange.features or {}
    if market.get("spot"):
        section = features.get("spot") or {}
    else:
        kind = "swap" if market.get("swap") else "future"
        side = "linear" if market.get("linear") else "inverse"
        section = (features.get(kind) or {}).get(side) or {}
    ohlcv = section.get("fetchOHLCV") or {}
    value = ohlcv.get(price) if price else None
    value = value or ohlcv.get("limit")
    return int(value) if value else None


def download_ohlcv(
    exchange: Any,
    key: SeriesKey,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    price: str | None = None,
    page_limit: int | None = None,
    retry: RetryPolicy,
) -> Download:
    """Closed bars of ``key`` with ``start <= ts < end`` from a ccxt exchange, gaps re-fetched once.

    ``price`` "mark" or "index" fetches those bars instead of trade bars. A bar still open at
    ``now`` (``ts + timeframe > now``) is dropped. Turns ccxt's rate limiter on for
    ``exchange``. Raises :class:`DownloadError` naming the exchange, symbol, timeframe and UTC day
    when a request keeps failing.
    """
    exchange.enableRateLimit = True  # ccxt's own throttle spaces every request; never hammer
    step_ms = timeframe_seconds(key.timeframe) * 1000
    start_ms, end_ms, now_ms = to_ms(start), to_ms(end), to_ms(now)
    params = _price_params(exchange, key, price)
    counters = _Counters()
    label = f"{key.symbol} {key.timeframe}" + (f" {price}-price bars" if price else "")
    venue_limit = venue_page_limit(exchange, key.symbol, price)
    limit = min(page_limit or venue_limit or 1000, venue_limit or page_limit or 1000)

    def fetch_page(since: int, until: int) -> list[Any]:
        extra = dict(params)
        if exchange.id in NEWEST_FIRST:
            until = min(until, since + limit * step_ms)
        if exchange.id not in UNTIL_UNSUPPORTED:
            extra["until"] = until - 1
        return _request(
            exchange,
            label,
            since,
            retry,
            counters,
            lambda: exchange.fetch_ohlcv(
                key.symbol, key.timeframe, since=since, limit=limit, params=extra
            ),
        )

    def closed(rows: Iterable[Sequence[Any]]) -> dict[int, Sequence[Any]]:
        kept: dict[int, Sequence[Any]] = {}
        for row in rows:
            ts = int(row[0])
            if ts + step_ms <= now_ms and ts not in kept:  # first arrival wins
                kept[ts] = row
        return kept

    bars = closed(_paginate(fetch_page, lambda row: int(row[0]), start_ms, end_ms, step_ms))
    horizon = min(end_ms, now_ms - step_ms + 1)
    phase = min(bars) % step_ms if bars else start_ms % step_ms
    spans = _missing_spans(bars, start_ms, horizon, step_ms, phase)
    for lo, hi in spans:
        for ts, row in closed(
            _paginate(fetch_page, lambda row: int(row[0]), lo, hi, step_ms)
        ).items():
            bars.setdefault(ts, row)
    remaining = _missing_spans(bars, start_ms, horizon, step_ms, phase)
    if remaining:
        log.warning(
            "ccxt.gaps_remaining",
            exchange=exchange.id,
            symbol=key.symbol,
            timeframe=key.timeframe,
            gaps=len(remaining),
            first=from_ms(remaining[0][0]).isoformat(),
        )
    return Download(
        frame=candles_to_frame([bars[ts] for ts in sorted(bars)]),
        pages=counters.pages,
        retries=counters.retries,
        gaps_refetched=len(spans),
        gaps_remaining=tuple((from_ms(lo), from_ms(hi)) for lo, hi in remaining),
    )


def market_funding_interval_hours(exchange: Any, symbol: str) -> float | None:
    """The funding interval the market info states (bybit ``fundingInterval`` minutes), if any."""
    market = exchange.market(symbol)
    info = market.get("info") or {}
    minutes = info.get("fundingInterval")
    if minutes not in (None, ""):
        value = float(minutes) / 60.0
        if value > 0:
            return value
    hours = info.get("fundingIntervalHours")
    if hours not in (None, ""):
        value = float(hours)
        if value > 0:
            return value
    return None


def infer_interval_hours(timestamps_ms: Sequence[int]) -> list[float]:
    """Each funding event's interval: the smaller gap to its neighbours, rounded to the minute.

    Taking the smaller neighbour gap keeps one missing event from doubling the interval of the
    rows beside the hole. Needs at least two events.
    """
    gaps = [b - a for a, b in itertools.pairwise(timestamps_ms)]
    out = []
    for i in range(len(timestamps_ms)):
        smallest = min(gaps[max(i - 1, 0) : i + 1])
        out.append(round(smallest / MINUTE_MS) * MINUTE_MS / HOUR_MS)
    return out


def _mark_price(entry: dict[str, Any]) -> float | None:
    info = entry.get("info") or {}
    value = info.get("markPrice") if isinstance(info, dict) else None
    return float(value) if value not in (None, "") else None


def download_funding(
    exchange: Any, symbol: str, start: datetime, end: datetime, *, retry: RetryPolicy
) -> pl.DataFrame:
    """Funding events of ``symbol`` with ``start <= ts < end`` (``drydock.funding`` schema).

    ``interval_hours`` comes from the market info where ccxt gives it (bybit's
    ``fundingInterval``), else it is inferred from consecutive funding times (see
    :func:`infer_interval_hours`); a single event with no stated interval is an error.
    """
    exchange.enableRateLimit = True
    if not exchange.has.get("fetchFundingRateHistory"):
        raise DrydockError(
            f"ccxt {exchange.id} has no funding-rate history (fetchFundingRateHistory is not "
            f"supported), so funding for {symbol} cannot be downloaded there; use its futures "
            "venue class (e.g. krakenfutures) or another exchange."
        )
    exchange.load_markets()
    counters = _Counters()

    def fetch_page(since: int, until: int) -> list[Any]:
        extra = {} if exchange.id in FUNDING_UNTIL_UNSUPPORTED else {"until": until - 1}
        return _request(
            exchange,
            f"{symbol} funding rates",
            since,
            retry,
            counters,
            lambda: exchange.fetch_funding_rate_history(symbol, since=since, params=extra),
        )

    entries = _paginate(fetch_page, lambda e: int(e["timestamp"]), to_ms(start), to_ms(end), 1)
    unique: dict[int, dict[str, Any]] = {}
    for entry in entries:
        unique.setdefault(int(entry["timestamp"]), entry)
    times = sorted(unique)
    if not times:
        return pl.DataFrame(schema=FUNDING_SCHEMA)
    stated = market_funding_interval_hours(exchange, symbol)
    if stated is not None:
        intervals = [stated] * len(times)
    elif len(times) >= 2:
        intervals = infer_interval_hours(times)
    else:
        raise DrydockError(
            f"ccxt {exchange.id} returned one funding event for {symbol} in {start:%Y-%m-%d} .. "
            f"{end:%Y-%m-%d} and its market info states no funding interval, so the interval "
            "cannot be inferred; download a window spanning at least two funding times."
        )
    return pl.DataFrame(
        {
            "ts": [from_ms(ts) for ts in times],
            "rate": [unique[ts]["fundingRate"] for ts in times],
            "interval_hours": intervals,
            "mark_price": [_mark_price(unique[ts]) for ts in times],
        },
        schema=FUNDING_SCHEMA,
    )
