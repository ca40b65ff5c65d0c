"""The state the policy rules read, gathered by the caller (the engine itself does no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType


def _empty() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """A snapshot of account and switch state at decision time.

    Stateful counters (trades today, consecutive losses, the breaker latch) come from the journal,
    so a restart does not reset them. Notionals are in USD (stablecoin quotes count as USD).
    """

    now: datetime | None = None
    kill_file_present: bool = False
    paused: bool = False
    position_notional_usd: Mapping[str, float] = field(default_factory=_empty)
    open_positions: int = 0
    trades_today: int = 0
    equity_usd: float = 0.0
    equity_high_water_usd: float = 0.0
    consecutive_losses: int = 0
    consecutive_failures: int = 0
    breaker_tripped: bool = False

    def position_of(self, symbol: str) -> float:
        """Absolute notional currently held in ``symbol`` (symbols compare case-insensitively)."""
        wanted = symbol.upper()
        return sum(abs(v) for k, v in self.position_notional_usd.items() if k.upper() == wanted)

    @property
    def drawdown_pct(self) -> float:
        """Percent below the high-water mark (0 at or above it, or with no mark yet)."""
        peak = self.equity_high_water_usd
        if peak <= 0:
            return 0.0
        return max(0.0, (peak - self.equity_usd) / peak * 100.0)


def mark_high_water(peak: float, equity: float) -> float:
    """The high-water mark after observing ``equity``."""
    return max(peak, equity)


def deposit_high_water(peak: float, amount: float) -> float:
    """A deposit raises the peak 1:1, so new money never reads as recovered drawdown."""
    return peak + amount


def withdraw_high_water(peak: float, balance_before: float, balance_after: float) -> float:
    """A withdrawal scales the peak by ``after / before``, so taking money out is no drawdown."""
    if balance_before <= 0:
        return peak
    return peak * balance_after / balance_before
