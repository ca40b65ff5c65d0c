"""Series identity, kept free of heavy imports so the CLI can name series without polars."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SeriesKey"]


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """Identifies one OHLCV series in the lake."""

    exchange: str
    symbol: str
    timeframe: str

    def keys(self) -> dict[str, str]:
        return {"exchange": self.exchange, "symbol": self.symbol, "timeframe": self.timeframe}

    def __str__(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"
