"""Series in Dagster: ``"exchange:symbol:timeframe"`` specs, and what the catalog says of each.

A spec is also the ``series`` partition key (``binance:BTC/USDT:1h``; with the day dimension a
multi-partition key reads ``2024-01-01|binance:BTC/USDT:1h``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from drydock.catalog import Catalog, is_perp, load_catalog
from drydock.errors import ConfigError
from drydock.ohlcv import SeriesKey
from drydock.symbols import canonical_exchange, canonical_symbol
from drydock.timeframes import canonical_timeframe

#: Where OHLCV can come from: the bundled sample (offline, the default) or a ccxt exchange.
SOURCES = ("sample", "ccxt")


def format_series(key: SeriesKey) -> str:
    """``SeriesKey('binance', 'BTC/USDT', '1h')`` -> ``'binance:BTC/USDT:1h'``."""
    return f"{key.exchange}:{key.symbol}:{key.timeframe}"


def parse_series(spec: str) -> SeriesKey:
    """Parse ``exchange:symbol:timeframe``; the symbol may hold a colon (``BTC/USDT:USDT``)."""
    parts = spec.strip().split(":")
    if len(parts) < 3 or not all(parts):
        raise ConfigError(
            f"Invalid series {spec!r}: write it as exchange:symbol:timeframe, "
            "e.g. 'binance:BTC/USDT:1h' (perpetuals: 'binance:BTC/USDT:USDT:1h')."
        )
    exchange, symbol, timeframe = parts[0], ":".join(parts[1:-1]), parts[-1]
    timeframe = canonical_timeframe(timeframe)
    return SeriesKey(canonical_exchange(exchange), canonical_symbol(symbol), timeframe)


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """One series with its catalog range (None: unbounded) and which perp datasets it wants."""

    key: SeriesKey
    start: date | None = None
    end: date | None = None
    funding: bool = False
    mark_prices: bool = False
    calendar: str = "24/7"  # which bars the gap check expects (drydock.quality.CALENDARS)

    @property
    def spec(self) -> str:
        return format_series(self.key)

    @property
    def perp(self) -> bool:
        return is_perp(self.key.symbol)

    def covers(self, day: date) -> bool:
        """Whether the catalog range holds ``day`` (days before ``start`` are skipped)."""
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


def plan_for(key: SeriesKey, catalog: Catalog | None = None) -> SeriesPlan:
    """The catalog's view of ``key``; a series not in the catalog is unbounded, perps get both."""
    entry = catalog.entry(key) if catalog is not None else None
    if entry is None:
        perp = is_perp(key.symbol)
        return SeriesPlan(key, funding=perp, mark_prices=perp)
    return SeriesPlan(
        key, entry.start, entry.end, entry.wants_funding, entry.wants_mark_prices, entry.calendar
    )


def catalog_plans(
    catalog: Catalog | None = None, extra: Iterable[SeriesKey] = ()
) -> dict[str, SeriesPlan]:
    """Plans of the catalog's enabled series (default: the settings' catalog) plus ``extra``."""
    catalog = catalog if catalog is not None else load_catalog()
    keys = [*catalog.series(), *extra]
    return {format_series(k): plan_for(k, catalog) for k in dict.fromkeys(keys)}


def resolve_series(specs: list[str] | None, catalog: Catalog | None = None) -> list[SeriesKey]:
    """Parse configured series; ``None`` means every enabled catalog series."""
    if specs is None:
        return (catalog if catalog is not None else load_catalog()).series()
    return [parse_series(spec) for spec in specs]
