"""The state the policy rules read, gathered by the caller (the engine itself does no I/O)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from drydock.errors import DrydockError
from drydock.symbols import canonical_symbol


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """A snapshot of account and switch state at decision time.

    Stateful counters (trades today, consecutive losses, the breaker latch) come from the journal,
    so a restart does not reset them. Notionals are in USD (stablecoin quotes count as USD).
    Position keys are canonicalized at construction; :meth:`problems` lists inputs the engine
    refuses to decide on (NaN, inf, negative counts, a naive clock).
    """

    now: datetime | None = None
    #: The kill switch: the kill file, or a kill journaled on any host sharing the journal.
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
    #: USD price per whole unit of an asset (``ETH``, ``USDC``, a token address), for value caps.
    prices_usd: Mapping[str, float] = field(default_factory=_empty)
    #: Amount already used in each rolling cap's window: ``(cap id, scope key) -> amount`` in the
    #: cap's unit (USD or the asset's whole units); the scope key is the wallet, strategy, asset or
    #: destination the cap is counted per. Built from the journal, so a restart keeps it.
    rolling_usage: Mapping[tuple[str, str], float] = field(default_factory=_empty)
    #: Realized + unrealized PnL in the daily-loss window (negative is a loss) and the equity at
    #: the window's start (the base of ``max_daily_loss_pct``).
    daily_pnl_usd: float = 0.0
    day_start_equity_usd: float = 0.0
    #: Orders this strategy sent in the last 60 s (rate limit).
    orders_last_minute: int = 0
    #: When each symbol's position last went flat (cooldown after close); canonical keys.
    last_close_at: Mapping[str, datetime] = field(default_factory=_empty)
    #: Outcomes of the most recent closed trades, oldest first (True = a win), for the win-rate
    #: breaker.
    recent_trade_wins: tuple[bool, ...] = ()
    #: True when an operator approved this very action (``drydock live approve``): the approval
    #: threshold is then satisfied, every other rule still applies.
    operator_approved: bool = False
    _bad_keys: tuple[str, ...] = field(init=False, default=(), repr=False, compare=False)
    _bad_times: tuple[str, ...] = field(init=False, default=(), repr=False, compare=False)
    _problems: tuple[str, ...] = field(init=False, default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        """Key positions and close times by canonical symbol (notionals of keys that merge are
        summed as absolutes; for close times the latest wins)."""
        positions: dict[str, float] = {}
        bad: list[str] = []
        for key, value in self.position_notional_usd.items():
            try:
                symbol = canonical_symbol(key)
            except DrydockError:
                bad.append(key)
                continue
            number = (
                math.nan if isinstance(value, bool) or not isinstance(value, int | float) else value
            )
            positions[symbol] = positions.get(symbol, 0.0) + abs(number)
        object.__setattr__(self, "position_notional_usd", MappingProxyType(positions))
        closes: dict[str, datetime] = {}
        bad_times: list[str] = []
        for key, when in self.last_close_at.items():
            try:
                symbol = canonical_symbol(key)
            except DrydockError:
                bad.append(key)
                continue
            if not isinstance(when, datetime) or when.utcoffset() is None:
                bad_times.append(f"last_close_at[{key!r}]={when!r}")
                continue
            closes[symbol] = max(closes.get(symbol, when), when)  # keys that merge: the latest
        object.__setattr__(self, "last_close_at", MappingProxyType(closes))
        object.__setattr__(self, "_bad_keys", tuple(bad))
        object.__setattr__(self, "_bad_times", tuple(bad_times))
        object.__setattr__(self, "_problems", tuple(self._find_problems()))

    def price_of(self, asset: str) -> float | None:
        """USD per whole unit of ``asset`` (a canonical token), or None when the context has none."""
        return self.prices_usd.get(asset)

    def position_of(self, symbol: str) -> float:
        """Absolute notional held in ``symbol`` (a canonical symbol; keys were canonicalized)."""
        return self.position_notional_usd.get(symbol, 0.0)

    def problems(self) -> tuple[str, ...]:
        """Why this context cannot be decided on: every numeric input finite, counts whole >= 0.

        A NaN would compare False against every limit and so pass it: fail closed instead. The
        context is frozen (positions behind a read-only mapping), so this is found once, when it
        is built.
        """
        return self._problems

    def _find_problems(self) -> list[str]:
        out = [f"key {k!r} is not a symbol" for k in self._bad_keys]
        for symbol, value in self.position_notional_usd.items():
            if not math.isfinite(value):
                out.append(f"position_notional_usd[{symbol!r}]={value!r} is not finite")
        for name, mapping in (
            ("prices_usd", self.prices_usd),
            ("rolling_usage", self.rolling_usage),
        ):
            for key, value in mapping.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    out.append(f"{name}[{key!r}]={value!r} is not a number")
                elif not (math.isfinite(value) and value >= 0):
                    out.append(f"{name}[{key!r}]={value!r} is not a finite number >= 0")
        out.extend(f"{item} is not a timezone-aware time" for item in self._bad_times)
        if any(not isinstance(win, bool) for win in self.recent_trade_wins):
            out.append("recent_trade_wins holds values that are not True/False")
        for name in (
            "equity_usd",
            "equity_high_water_usd",
            "daily_pnl_usd",
            "day_start_equity_usd",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                out.append(f"{name}={value!r} is not a number")
            elif not math.isfinite(value):
                out.append(f"{name}={value!r} is not finite")
        for name in _COUNTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                out.append(f"{name}={value!r} is not a whole number >= 0")
        if self.now is not None and self.now.utcoffset() is None:
            out.append(f"now={self.now!r} has no timezone")
        return out

    @property
    def drawdown_pct(self) -> float:
        """Percent below the high-water mark (0 at or above it, or with no mark yet)."""
        peak = self.equity_high_water_usd
        if not peak > 0:  # also a NaN peak (the engine denies NaN inputs before reading this)
            return 0.0
        return max(0.0, (peak - self.equity_usd) / peak * 100.0)


_COUNTS = (
    "open_positions",
    "trades_today",
    "consecutive_losses",
    "consecutive_failures",
    "orders_last_minute",
)


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
