"""The one execution and cost model shared by research, the reference loop, paper venue and sizing.

Semantics (also in docs/backtest-semantics.md):

- A target decided at bar t's close fills at bar t+1's open (:attr:`FillTiming.NEXT_OPEN`,
  default) or at t's own close (:attr:`FillTiming.CLOSE`, optimistic).
- Market orders pay the taker fee: ``fee = qty * fill_price * taker_fee + fixed_fee`` (quote).
- Slippage is adverse and fixed in bps: buys fill at ``price * (1 + bps/1e4)``, sells at
  ``price * (1 - bps/1e4)``. :meth:`ExecutionModel.slipped_price` is the one seam where a
  volume-aware model would plug in; none is implemented.
- Quantities round down to the instrument's lot; an order whose notional at the fill price is
  below the instrument's min notional is skipped and counted, never sent.
- Simulated market fills are not rounded to the tick: tick size applies to prices sent to a venue
  (:meth:`drydock.types.Instrument.round_price`).

Floats serve research arrays; the ``*_dec`` helpers serve the Decimal venue boundary; both use the
same formulas (hypothesis checks them against each other).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

from drydock.errors import ConfigError, DrydockError

__all__ = [
    "SUPPORTED_TARGETS",
    "SUPPORTED_TEXT",
    "ExecutionModel",
    "FillTiming",
    "UnsupportedTargetError",
    "below_min_notional",
    "check_target",
    "check_targets",
    "round_down",
    "unsupported_target",
]

#: Targets a spot, long-only, all-in/flat account supports today.
SUPPORTED_TARGETS: tuple[float, ...] = (0.0, 1.0)
SUPPORTED_TEXT = "0 (flat) or 1 (all-in long); spot, long-only, no fractions, no NaN or inf"


class FillTiming(StrEnum):
    """When an order decided at bar t's close fills."""

    NEXT_OPEN = "next_open"  # bar t+1's open: what live trading can do (default)
    CLOSE = "close"  # bar t's own close: optimistic, for comparison only


class UnsupportedTargetError(DrydockError):
    """A strategy emitted a target the execution model cannot trade."""


#: field -> (low, high, low inclusive, example) : one set of bounds for every path.
_BOUNDS: dict[str, tuple[float, float, bool, str]] = {
    "init_cash": (0.0, 1e12, False, "10000"),
    "taker_fee": (0.0, 0.1, True, "0.001 for 10 bps"),
    "maker_fee": (0.0, 0.1, True, "0.001 for 10 bps"),
    "fixed_fee": (0.0, 1e6, True, "0 or 1.5 (quote currency per order)"),
    "slippage_bps": (0.0, 1000.0, True, "5 for 5 bps"),
    # Below 1e-12 a lot has no exchange meaning and Decimal lot rounding runs out of precision.
    "lot_size": (1e-12, 1e9, True, "0.00001 (Binance BTC/USDT)"),
    "tick_size": (1e-12, 1e9, True, "0.01 (Binance BTC/USDT)"),
    "min_notional": (0.0, 1e12, True, "5 (Binance USDT spot)"),
}


def _check(name: str, value: float) -> float:
    """Return ``value`` as a float or raise ConfigError naming field, value, range and example."""
    low, high, low_inclusive, example = _BOUNDS[name]
    opening = "[" if low_inclusive else "("
    allowed = f"{opening}{low:g}, {high:g})"
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    ok = math.isfinite(number) and (number >= low if low_inclusive else number > low)
    if not ok or number >= high:
        raise ConfigError(
            f"Execution {name}={value!r} is out of range: it must be a finite number in {allowed}, "
            f"e.g. {example}."
        )
    return number


@dataclass(frozen=True, slots=True)
class ExecutionModel:
    """Costs, increments overrides, fill timing and starting cash of a backtest or paper run."""

    init_cash: float = 10_000.0
    taker_fee: float = 0.001
    maker_fee: float = 0.001
    fixed_fee: float = 0.0
    slippage_bps: float = 5.0
    fill: FillTiming = FillTiming.NEXT_OPEN
    #: Overrides of the instrument's market metadata (None: take it from drydock.markets).
    lot_size: float | None = None
    tick_size: float | None = None
    min_notional: float | None = None

    def __post_init__(self) -> None:
        for name in ("init_cash", "taker_fee", "maker_fee", "fixed_fee", "slippage_bps"):
            object.__setattr__(self, name, _check(name, getattr(self, name)))
        for name in ("lot_size", "tick_size", "min_notional"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _check(name, getattr(self, name)))
        try:
            object.__setattr__(self, "fill", FillTiming(self.fill))
        except ValueError:
            choices = ", ".join(repr(f.value) for f in FillTiming)
            raise ConfigError(
                f"Execution fill={self.fill!r} is not a fill timing; use one of {choices}, "
                "e.g. 'next_open'."
            ) from None

    # -- shared formulas (float) -------------------------------------------------------------

    @property
    def slippage(self) -> float:
        """Adverse slippage as a fraction of price."""
        return self.slippage_bps / 1e4

    def slipped_price(self, price: float, buy: bool) -> float:
        """Fill price of a market order at ``price`` (the seam for volume-aware slippage)."""
        return price * (1 + self.slippage) if buy else price * (1 - self.slippage)

    def fee_of(self, qty: float, fill_price: float) -> float:
        """Fee of one market fill in quote currency."""
        return qty * fill_price * self.taker_fee + self.fixed_fee

    def all_in_qty(self, cash: float, fill_price: float, lot: float) -> float:
        """Whole lots that ``cash`` buys at ``fill_price`` with the fee included (0 if none)."""
        budget = (cash - self.fixed_fee) / (1 + self.taker_fee)
        if budget <= 0:
            return 0.0
        return float(math.floor(budget / fill_price / lot + 1e-9) * lot)

    # -- shared formulas (Decimal, venue boundary) ------------------------------------------

    def slipped_price_dec(self, price: float | Decimal, buy: bool) -> Decimal:
        """Decimal :meth:`slipped_price`."""
        slip = Decimal(str(self.slippage_bps)) / Decimal(10_000)
        base = Decimal(str(price))
        return base * (1 + slip) if buy else base * (1 - slip)

    def fee_of_dec(self, qty: Decimal, fill_price: Decimal, maker: bool = False) -> Decimal:
        """Decimal :meth:`fee_of` (``maker``: a resting limit's fill, at the maker fee)."""
        rate = self.maker_fee if maker else self.taker_fee
        return qty * fill_price * Decimal(str(rate)) + Decimal(str(self.fixed_fee))

    def all_in_qty_dec(self, cash: Decimal, fill_price: Decimal, lot: Decimal) -> Decimal:
        """Decimal :meth:`all_in_qty`."""
        budget = (cash - Decimal(str(self.fixed_fee))) / (1 + Decimal(str(self.taker_fee)))
        if budget <= 0:
            return Decimal(0)
        return round_down(budget / fill_price, lot)

    # -- reporting ---------------------------------------------------------------------------

    def overrides(self) -> dict[str, float]:
        """The market-metadata overrides that are set (for drydock.markets.instrument_for)."""
        pairs = (
            ("lot_size", self.lot_size),
            ("tick_size", self.tick_size),
            ("min_notional", self.min_notional),
        )
        return {k: v for k, v in pairs if v is not None}

    def as_params(self) -> dict[str, Any]:
        """Flat ``exec.*`` params for MLflow (unset overrides omitted)."""
        return {f"exec.{k}": str(v) for k, v in asdict(self).items() if v is not None}


def round_down(qty: Decimal, lot: Decimal) -> Decimal:
    """Round a quantity down to whole lots (never more than was asked)."""
    return (qty / lot).quantize(Decimal(1), ROUND_DOWN) * lot


def below_min_notional(qty: float | Decimal, fill_price: float | Decimal, minimum: Any) -> bool:
    """True when ``qty * fill_price`` is under the venue's minimum order value."""
    if isinstance(qty, Decimal) or isinstance(fill_price, Decimal):
        return Decimal(str(qty)) * Decimal(str(fill_price)) < Decimal(str(minimum))
    return qty * fill_price < float(minimum)


def unsupported_target(strategy_id: str, ts: datetime, target: float) -> UnsupportedTargetError:
    """The one error every path raises for a target it cannot trade."""
    return UnsupportedTargetError(
        f"Strategy {strategy_id!r} emitted target {target!r} at bar {ts.isoformat()}; supported "
        f"targets are {SUPPORTED_TEXT}. Fix the strategy's signals()/step() to return 0 or 1."
    )


def check_target(strategy_id: str, ts: datetime, target: float) -> None:
    """Raise :class:`UnsupportedTargetError` unless ``target`` is tradable."""
    if float(target) not in SUPPORTED_TARGETS:
        raise unsupported_target(strategy_id, ts, float(target))


def check_targets(strategy_id: str, ts: Sequence[datetime] | Any, targets: Any) -> None:
    """Vectorized :func:`check_target`: raise for the first unsupported target in time order."""
    import numpy as np

    values = np.asarray(targets, dtype=np.float64)
    bad = np.asarray(~np.isin(values, SUPPORTED_TARGETS))
    if values.ndim == 2:
        bad = np.asarray(bad.any(axis=1))
    if bad.any():
        i = int(np.argmax(bad))
        row = values[i]
        value = float(row if row.ndim == 0 else row[~np.isin(row, SUPPORTED_TARGETS)][0])
        raise unsupported_target(strategy_id, ts[i], value)
