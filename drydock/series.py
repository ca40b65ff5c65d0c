"""Series identity, kept free of heavy imports so the CLI can name series without polars."""

from __future__ import annotations

from dataclasses import dataclass

from drydock.timeframes import canonical_timeframe

__all__ = ["SeriesKey"]


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """Identifies one OHLCV series in the lake."""

    exchange: str
    symbol: str
    timeframe: str

    def __post_init__(self) -> None:
        # one spelling per duration, so ``60m`` and ``1h`` never become two series in the lake
        try:
            canonical = canonical_timeframe(self.timeframe)
        except Exception:  # a malformed timeframe is reported by the validators that check it
            return
        if canonical != self.timeframe:
            object.__setattr__(self, "timeframe", canonical)

    def keys(self) -> dict[str, str]:
        return {"exchange": self.exchange, "symbol": self.symbol, "timeframe": self.timeframe}

    def __str__(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"
