"""Market-data sources for the assets: the bundled sample, or any ccxt exchange.

Each implements :meth:`OhlcvSource.fetch_range` (bars of a series in ``[start, end)`` for the
``ohlcv`` or ``mark_prices`` dataset, in ``drydock.ohlcv.BAR_SCHEMA``), :meth:`OhlcvSource.supports`
and :meth:`OhlcvSource.fetch_funding` (``drydock.funding.FUNDING_SCHEMA``). The assets validate and
write whatever a source returns, so a source never has to clean its data; it only has to cover the
range. The ccxt download logic itself lives in :mod:`drydock.adapters.ccxt`.
"""

from __future__ import annotations

import difflib
import functools
import json
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from drydock.adapters.ccxt import (
    TRANSIENT_ERRORS,
    Download,
    RetryPolicy,
    candles_to_frame,
    download_funding,
    download_ohlcv,
    exchange_ids,
    make_exchange,
)
from drydock.errors import DrydockError, unknown_choice
from drydock.funding import FUNDING_SCHEMA
from drydock.logs import get_logger
from drydock.ohlcv import BAR_SCHEMA, SeriesKey, conform
from drydock.sample import (
    sample_funding_path,
    sample_funding_series,
    sample_path,
    sample_series,
)
from drydock.settings import get_settings
from pipelines.series import SOURCES

__all__ = [
    "TRANSIENT_ERRORS",
    "CcxtOhlcvSource",
    "OhlcvSource",
    "SampleOhlcvSource",
    "candles_to_frame",
    "day_bounds",
    "empty_bars",
    "make_source",
    "source_from_env",
]

#: Bar datasets a source can serve: trade bars and mark-price bars.
BAR_DATASETS = ("ohlcv", "mark_prices")
#: Everything :meth:`OhlcvSource.supports` answers for.
DATASETS = (*BAR_DATASETS, "funding_rates")

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


def _check_dataset(dataset: str, allowed: tuple[str, ...] = BAR_DATASETS) -> None:
    if dataset not in allowed:
        raise unknown_choice("dataset", dataset, allowed)


class OhlcvSource(ConfigurableResource):  # type: ignore[type-arg]
    """Where the market-data assets get bars and funding: one series and range per call."""

    def fetch_range(
        self, key: SeriesKey, start: datetime, end: datetime, *, dataset: str = "ohlcv"
    ) -> pl.DataFrame:
        """Bars of ``key`` with ``start <= ts < end`` (dataset "ohlcv" or "mark_prices")."""
        raise NotImplementedError

    def fetch_day(self, key: SeriesKey, day: date) -> pl.DataFrame:
        """Trade bars of ``key`` whose open time falls on ``day`` (UTC), in the bar schema."""
        return self.fetch_range(key, *day_bounds(day))

    def supports(self, dataset: str, key: SeriesKey) -> bool:
        """Whether this source can serve ``dataset`` ("ohlcv", "mark_prices", "funding_rates")."""
        raise NotImplementedError

    def fetch_funding(
        self, exchange: str, symbol: str, start: datetime, end: datetime
    ) -> pl.DataFrame:
        """Funding events of a perp with ``start <= ts < end`` (``drydock.funding`` schema)."""
        raise NotImplementedError

    def describe(self) -> str:
        """Short human name for logs and reports."""
        return type(self).__name__


@functools.lru_cache(maxsize=16)
def _sample_frame(path: str, mtime_ns: int) -> pl.DataFrame:
    """A bundled series read once per process (keyed by mtime, so an edited file is re-read)."""
    return conform(pl.read_parquet(path))


@functools.lru_cache(maxsize=16)
def _sample_funding(path: str, mtime_ns: int) -> pl.DataFrame:
    """A bundled funding history read once per process (re-read when the file changes)."""
    return pl.read_parquet(path).select([pl.col(c).cast(t) for c, t in FUNDING_SCHEMA.items()])


class SampleOhlcvSource(OhlcvSource):
    """Serves the bundled sample in ``data/sample`` (real Binance bars and funding, no network).

    The sample holds trade bars (spot and the ``BTC/USDT:USDT`` perp) and that perp's funding
    history, but no mark-price history: ``supports("mark_prices", key)`` is False.
    """

    sample_dir: str | None = Field(
        default=None, description="Folder holding ohlcv/...; default: the settings' sample_dir."
    )

    def _dir(self) -> Path | None:
        return Path(self.sample_dir) if self.sample_dir else None

    def fetch_range(
        self, key: SeriesKey, start: datetime, end: datetime, *, dataset: str = "ohlcv"
    ) -> pl.DataFrame:
        _check_dataset(dataset)
        if dataset != "ohlcv":
            raise DrydockError(
                f"The bundled sample has no {dataset} for {key}; switch the source to ccxt "
                "(needs network) to download mark prices."
            )
        path = sample_path(key, self._dir())
        frame = _sample_frame(str(path), path.stat().st_mtime_ns)
        return frame.filter((pl.col("ts") >= start) & (pl.col("ts") < end))

    def supports(self, dataset: str, key: SeriesKey) -> bool:
        _check_dataset(dataset, DATASETS)
        if dataset == "ohlcv":
            return key in sample_series(self._dir())
        if dataset == "funding_rates":
            return (key.exchange, key.symbol) in sample_funding_series(self._dir())
        return False

    def fetch_funding(
        self, exchange: str, symbol: str, start: datetime, end: datetime
    ) -> pl.DataFrame:
        path = sample_funding_path(exchange, symbol, self._dir())
        frame = _sample_funding(str(path), path.stat().st_mtime_ns)
        return frame.filter((pl.col("ts") >= start) & (pl.col("ts") < end))

    def describe(self) -> str:
        return "bundled sample"


class CcxtOhlcvSource(OhlcvSource):
    """Fetches bars and funding from one ccxt exchange through :mod:`drydock.adapters.ccxt`.

    Pages with an own ``since`` loop, honours ccxt's rate limiter, retries transient errors,
    drops the still-open bar and re-fetches gaps once.
    """

    exchange_id: str = Field(default="binance", description="ccxt exchange id, e.g. binance.")
    page_limit: int = Field(default=1000, description="Candles requested per page.")
    retries: int = Field(
        default=4,
        ge=0,
        description="Retries per request on transient ccxt errors (network, rate limit, 5xx).",
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
    _fixed_now: datetime | None = PrivateAttr(default=None)
    _last: Download | None = PrivateAttr(default=None)

    def describe(self) -> str:
        return f"ccxt {self.exchange_id}"

    def exchange(self) -> Any:
        """The ccxt exchange instance (created once; markets from ``markets_file`` if given)."""
        if self._exchange is None:
            if self.exchange_id not in exchange_ids():
                raise unknown_choice(
                    "ccxt exchange",
                    self.exchange_id,
                    exchange_ids(),
                    "Set DRYDOCK_CCXT_EXCHANGE or --exchange to one of these.",
                )
            exchange = make_exchange(self.exchange_id)
            if self.markets_file:
                markets = json.loads(Path(self.markets_file).read_text())
                exchange.set_markets(markets)
            self._exchange = exchange
        return self._exchange

    def now(self) -> datetime:
        """The clock that decides which bar is still open (fixed with ``at`` in tests)."""
        return self._fixed_now or datetime.now(UTC)

    def at(self, moment: datetime) -> CcxtOhlcvSource:
        """Fix the clock (replays of recorded payloads); returns self."""
        self._fixed_now = moment
        return self

    def retry_policy(self) -> RetryPolicy:
        """The configured retries; waits go through this module's ``_sleep`` (patched in tests)."""
        return RetryPolicy(
            retries=self.retries,
            backoff_seconds=self.retry_backoff_seconds,
            max_backoff_seconds=self.retry_max_backoff_seconds,
            sleep=lambda seconds: _sleep(seconds),
        )

    def _validate(self, exchange_id: str, symbol: str, timeframe: str | None = None) -> Any:
        if exchange_id != self.exchange_id:
            raise DrydockError(
                f"Series {exchange_id} {symbol} is on {exchange_id!r} but this ccxt source serves "
                f"{self.exchange_id!r}. Set DRYDOCK_CCXT_EXCHANGE={exchange_id} (or --exchange) "
                "or ingest only series of that exchange."
            )
        exchange = self.exchange()
        if timeframe is not None and timeframe not in exchange.timeframes:
            raise unknown_choice(f"timeframe on {self.exchange_id}", timeframe, exchange.timeframes)
        exchange.load_markets()
        if symbol not in exchange.markets:
            close = difflib.get_close_matches(symbol, list(exchange.markets), n=8)
            raise DrydockError(
                f"Unknown symbol {symbol!r} on {self.exchange_id}. Close matches: "
                f"{', '.join(close) or 'none'}. Use the unified ccxt symbol, e.g. 'BTC/USDT' "
                "(spot) or 'BTC/USDT:USDT' (USDT-margined perpetual)."
            )
        return exchange

    def download(
        self, key: SeriesKey, start: datetime, end: datetime, *, dataset: str = "ohlcv"
    ) -> Download:
        """The full download report (pages, retries, gaps) behind :meth:`fetch_range`."""
        _check_dataset(dataset)
        exchange = self._validate(key.exchange, key.symbol, key.timeframe)
        result = download_ohlcv(
            exchange,
            key,
            start,
            end,
            now=self.now(),
            price="mark" if dataset == "mark_prices" else None,
            page_limit=self.page_limit,
            retry=self.retry_policy(),
        )
        self._last = result
        return result

    @property
    def last_download(self) -> Download | None:
        """The report of the most recent :meth:`download` (for asset metadata)."""
        return self._last

    def fetch_range(
        self, key: SeriesKey, start: datetime, end: datetime, *, dataset: str = "ohlcv"
    ) -> pl.DataFrame:
        return self.download(key, start, end, dataset=dataset).frame

    def supports(self, dataset: str, key: SeriesKey) -> bool:
        """Trade bars: always; mark bars and funding: on contract markets of venues having them."""
        _check_dataset(dataset, DATASETS)
        if dataset == "ohlcv":
            return True
        exchange = self._validate(key.exchange, key.symbol)
        flag = "fetchMarkOHLCV" if dataset == "mark_prices" else "fetchFundingRateHistory"
        return bool(exchange.has.get(flag)) and bool(exchange.market(key.symbol).get("contract"))

    def fetch_funding(
        self, exchange: str, symbol: str, start: datetime, end: datetime
    ) -> pl.DataFrame:
        client = self._validate(exchange, symbol)
        frame = download_funding(client, symbol, start, end, retry=self.retry_policy())
        return frame.select([pl.col(c).cast(t) for c, t in FUNDING_SCHEMA.items()])


def make_source(
    name: str = "sample", exchange_id: str | None = None, markets_file: str | None = None
) -> OhlcvSource:
    """Build a source by name ("sample" or "ccxt"); a clear error for anything else."""
    if name == "sample":
        return SampleOhlcvSource()
    if name == "ccxt":
        exchange_id = exchange_id or "binance"
        if exchange_id not in exchange_ids():  # fail at load, not in the middle of a run
            raise unknown_choice("ccxt exchange", exchange_id, exchange_ids())
        return CcxtOhlcvSource(exchange_id=exchange_id, markets_file=markets_file)
    raise unknown_choice("OHLCV source", name, SOURCES, "Set DRYDOCK_OHLCV_SOURCE or --source.")


def source_from_env() -> OhlcvSource:
    """The source the settings name: DRYDOCK_OHLCV_SOURCE (default sample), DRYDOCK_CCXT_EXCHANGE."""
    settings = get_settings()
    return make_source(
        settings.ohlcv_source.strip().lower() or "sample",
        settings.ccxt_exchange.strip().lower() or None,
    )
