"""OHLCV sources for the ``ohlcv`` asset: the bundled sample, or any ccxt exchange.

Both implement :meth:`OhlcvSource.fetch_day`, returning one UTC day of bars in
``drydock.types.BAR_SCHEMA``. The asset validates and writes whatever the source returns, so a
source never has to clean its data; it only has to cover the day.
"""

from __future__ import annotations

import difflib
import functools
import json
import time as clock
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import ccxt
import polars as pl
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from drydock.errors import DrydockError, unknown_choice
from drydock.logs import get_logger
from drydock.ohlcv import SeriesKey, conform
from drydock.sample import sample_path
from drydock.settings import get_settings
from drydock.timeframes import timeframe_seconds
from drydock.types import BAR_SCHEMA
from pipelines.series import SOURCES

DAY_MS = 86_400_000
#: ccxt errors worth retrying: network failures, timeouts, rate limits (DDoSProtection and
#: RateLimitExceeded) and an exchange that is briefly unavailable. ExchangeError (BadSymbol,
#: AuthenticationError, ...) is a wrong request and fails at once.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    ccxt.RequestTimeout,
    ccxt.DDoSProtection,
    ccxt.ExchangeNotAvailable,
    ccxt.NetworkError,
)

log = get_logger(__name__)


def _sleep(seconds: float) -> None:
    """How retries wait (module-level so tests replace it and never sleep)."""
    clock.sleep(seconds)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of a UTC day."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def empty_bars() -> pl.DataFrame:
    """A frame with the bar schema and no rows."""
    return pl.DataFrame(schema=BAR_SCHEMA)


class OhlcvSource(ConfigurableResource):  # type: ignore[type-arg]
    """Where the ``ohlcv`` asset gets its bars: one UTC day of one series per call."""

    def fetch_day(self, key: SeriesKey, day: date) -> pl.DataFrame:
        """Bars of ``key`` whose open time falls on ``day`` (UTC), in the bar schema."""
        raise NotImplementedError

    def describe(self) -> str:
        """Short human name for logs and reports."""
        return type(self).__name__


@functools.lru_cache(maxsize=16)
def _sample_frame(path: str, mtime_ns: int) -> pl.DataFrame:
    """A bundled series read once per process (keyed by mtime, so an edited file is re-read)."""
    return conform(pl.read_parquet(path))


class SampleOhlcvSource(OhlcvSource):
    """Serves the bundled sample series in ``data/sample`` (real Binance bars, no network)."""

    sample_dir: str | None = Field(
        default=None, description="Folder holding ohlcv/...; default: the settings' sample_dir."
    )

    def fetch_day(self, key: SeriesKey, day: date) -> pl.DataFrame:
        path = sample_path(key, Path(self.sample_dir) if self.sample_dir else None)
        frame = _sample_frame(str(path), path.stat().st_mtime_ns)
        start, end = day_bounds(day)
        return frame.filter((pl.col("ts") >= start) & (pl.col("ts") < end))

    def describe(self) -> str:
        return "bundled sample"


def candles_to_frame(rows: Sequence[Sequence[Any]]) -> pl.DataFrame:
    """ccxt candles ``[ms, open, high, low, close, volume]`` -> a bar-schema frame."""
    if not rows:
        return empty_bars()
    frame = pl.DataFrame(
        [list(row[:6]) for row in rows],
        schema={"ms": pl.Int64, **{c: pl.Float64 for c in list(BAR_SCHEMA)[1:]}},
        orient="row",
        strict=False,
    )
    return conform(frame.with_columns(ts=pl.from_epoch("ms", time_unit="ms")).drop("ms"))


class CcxtOhlcvSource(OhlcvSource):
    """Fetches bars from one ccxt exchange, paging with its own ``since`` loop over the day.

    ccxt's ``paginate`` without ``until`` only returns the recent window, so each page asks for
    ``since`` = one bar after the last bar received, bounded by the day's end (``until``).
    """

    exchange_id: str = Field(default="binance", description="ccxt exchange id, e.g. binance.")
    page_limit: int = Field(default=1000, description="Candles requested per page.")
    max_pages: int = Field(default=100, description="Safety bound on pages per day.")
    retries: int = Field(
        default=4,
        ge=0,
        description="Retries per page on transient ccxt errors (network, rate limit).",
    )
    retry_backoff_seconds: float = Field(
        default=1.0, ge=0, description="Backoff scale: retry n waits up to this x 2^n (jittered)."
    )
    retry_max_backoff_seconds: float = Field(
        default=30.0, ge=0, description="Upper bound of one retry wait."
    )
    markets_file: str | None = Field(
        default=None,
        description="JSON of ccxt markets ({symbol: market}) to use instead of fetching them.",
    )
    _exchange: Any = PrivateAttr(default=None)

    def describe(self) -> str:
        return f"ccxt {self.exchange_id}"

    def exchange(self) -> Any:
        """The ccxt exchange instance (created once; markets from ``markets_file`` if given)."""
        if self._exchange is None:
            if self.exchange_id not in ccxt.exchanges:
                raise unknown_choice(
                    "ccxt exchange",
                    self.exchange_id,
                    ccxt.exchanges,
                    "Set DRYDOCK_CCXT_EXCHANGE or --exchange to one of these.",
                )
            exchange = getattr(ccxt, self.exchange_id)({"enableRateLimit": True})
            if self.markets_file:
                markets = json.loads(Path(self.markets_file).read_text())
                exchange.set_markets(markets)
            self._exchange = exchange
        return self._exchange

    def _validate(self, key: SeriesKey) -> Any:
        if key.exchange != self.exchange_id:
            raise DrydockError(
                f"Series {key} is on {key.exchange!r} but this ccxt source serves "
                f"{self.exchange_id!r}. Set DRYDOCK_CCXT_EXCHANGE={key.exchange} (or --exchange) "
                "or ingest only series of that exchange."
            )
        exchange = self.exchange()
        if key.timeframe not in exchange.timeframes:
            raise unknown_choice(
                f"timeframe on {self.exchange_id}", key.timeframe, exchange.timeframes
            )
        exchange.load_markets()
        if key.symbol not in exchange.markets:
            close = difflib.get_close_matches(key.symbol, list(exchange.markets), n=8)
            raise DrydockError(
                f"Unknown symbol {key.symbol!r} on {self.exchange_id}. Close matches: "
                f"{', '.join(close) or 'none'}. Use the unified ccxt symbol, e.g. 'BTC/USDT' "
                "(spot) or 'BTC/USDT:USDT' (USDT-margined perpetual)."
            )
        return exchange

    def _retrying(self, key: SeriesKey, day: date) -> Retrying:
        """Bounded exponential backoff with full jitter, on transient ccxt errors only."""

        def note(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "ccxt.retry",
                exchange=self.exchange_id,
                symbol=key.symbol,
                timeframe=key.timeframe,
                day=day.isoformat(),
                attempt=state.attempt_number,
                wait_s=round(state.upcoming_sleep, 3),
                error=f"{type(error).__name__}: {error}",
            )

        return Retrying(
            retry=retry_if_exception_type(TRANSIENT_ERRORS),
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_random_exponential(
                multiplier=self.retry_backoff_seconds, max=self.retry_max_backoff_seconds
            ),
            sleep=lambda seconds: _sleep(seconds),
            before_sleep=note,
            reraise=False,
        )

    def _page(
        self, exchange: Any, key: SeriesKey, day: date, since: int, until: int
    ) -> list[list[Any]]:
        """One page of candles, retried on transient errors; exhausted retries name the day."""

        def fetch() -> list[list[Any]]:
            return list(
                exchange.fetch_ohlcv(
                    key.symbol,
                    key.timeframe,
                    since=since,
                    limit=self.page_limit,
                    params={"until": until},
                )
            )

        try:
            return self._retrying(key, day)(fetch)
        except RetryError as exc:
            error = exc.last_attempt.exception()
            raise DrydockError(
                f"{self.describe()} could not fetch {key.symbol} {key.timeframe} for {day} after "
                f"{self.retries + 1} attempt(s): {type(error).__name__}: {error}. Nothing was "
                "written for that day; check the network and the exchange's status, then rerun "
                "(finished days are kept)."
            ) from error

    def fetch_day(self, key: SeriesKey, day: date) -> pl.DataFrame:
        exchange = self._validate(key)
        start, _ = day_bounds(day)
        start_ms = int(start.timestamp() * 1000)
        end_ms = start_ms + DAY_MS
        step = timeframe_seconds(key.timeframe) * 1000
        rows: dict[int, list[Any]] = {}
        since = start_ms
        for _ in range(self.max_pages):
            batch = self._page(exchange, key, day, since, end_ms - 1)
            if not batch:
                break
            rows.update({int(r[0]): r for r in batch if start_ms <= int(r[0]) < end_ms})
            following = int(batch[-1][0]) + step
            if following <= since or following >= end_ms:
                break
            since = following
        else:
            raise DrydockError(
                f"{self.describe()} returned more than {self.max_pages} pages for {key} on {day}; "
                "raise max_pages or page_limit in the ccxt source config."
            )
        return candles_to_frame([rows[ms] for ms in sorted(rows)])


def make_source(
    name: str = "sample", exchange_id: str | None = None, markets_file: str | None = None
) -> OhlcvSource:
    """Build a source by name ("sample" or "ccxt"); a clear error for anything else."""
    if name == "sample":
        return SampleOhlcvSource()
    if name == "ccxt":
        exchange_id = exchange_id or "binance"
        if exchange_id not in ccxt.exchanges:  # fail at load, not in the middle of a run
            raise unknown_choice("ccxt exchange", exchange_id, ccxt.exchanges)
        return CcxtOhlcvSource(exchange_id=exchange_id, markets_file=markets_file)
    raise unknown_choice("OHLCV source", name, SOURCES, "Set DRYDOCK_OHLCV_SOURCE or --source.")


def source_from_env() -> OhlcvSource:
    """The source the settings name: DRYDOCK_OHLCV_SOURCE (default sample), DRYDOCK_CCXT_EXCHANGE."""
    settings = get_settings()
    return make_source(
        settings.ohlcv_source.strip().lower() or "sample",
        settings.ccxt_exchange.strip().lower() or None,
    )
