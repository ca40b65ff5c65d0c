"""Series specs in Dagster config: ``"exchange:symbol:timeframe"`` strings <-> SeriesKey."""

from __future__ import annotations

from drydock.errors import ConfigError
from drydock.ohlcv import SeriesKey
from drydock.sample import sample_series
from drydock.timeframes import timeframe_seconds

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
    timeframe_seconds(timeframe)
    return SeriesKey(exchange.lower(), symbol, timeframe)


def resolve_series(specs: list[str] | None) -> list[SeriesKey]:
    """Parse configured series; ``None`` means every bundled sample series."""
    if specs is None:
        return sample_series()
    return [parse_series(spec) for spec in specs]
