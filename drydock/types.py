"""Domain types shared by research and live: bars, instruments, intents, orders, fills, actions.

Money is float64 in research arrays and ``Decimal`` at the live venue boundary, rounded to the
instrument's tick and lot (see :meth:`Instrument.round_qty`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

import polars as pl

from drydock.execution import round_down

#: OHLCV bar schema: ``ts`` is the UTC open time of the bar; prices float64; volume in base units.
BAR_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
}


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class InstrumentKind(StrEnum):
    SPOT = "spot"
    PERP = "perp"


class OrderStatus(StrEnum):
    """States an order is journaled with today; the live runner will append status events."""

    NEW = "new"
    REJECTED = "rejected"
    CANCELED = "canceled"


class Verdict(StrEnum):
    """The engine's answer; operator approvals arrive with the policy issue, not before."""

    ALLOW = "allow"
    DENY = "deny"


class Severity(StrEnum):
    """Only CRITICAL violations deny; INFO and WARNING ride along with the verdict."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; ``ts`` is the bar's open time (UTC)."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument on one venue, with the increments the venue accepts."""

    venue: str
    symbol: str
    base: str
    quote: str
    kind: InstrumentKind = InstrumentKind.SPOT
    tick_size: Decimal = Decimal("0.01")
    lot_size: Decimal = Decimal("0.00001")
    min_notional: Decimal = Decimal("5")

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size", "min_notional"):
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                object.__setattr__(self, name, value := Decimal(str(value)))
            if not value.is_finite() or value < 0 or (value == 0 and name != "min_notional"):
                raise ValueError(
                    f"Instrument {self.symbol} {name}={value} must be a finite positive number "
                    "(min_notional may be 0), e.g. lot_size=Decimal('0.00001')."
                )

    def round_price(self, price: float | Decimal) -> Decimal:
        """Round a price to the nearest tick."""
        ticks = (Decimal(str(price)) / self.tick_size).quantize(Decimal(1), ROUND_HALF_EVEN)
        return ticks * self.tick_size

    def round_qty(self, qty: float | Decimal) -> Decimal:
        """Round a quantity down to whole lots (never buy more than was asked)."""
        return round_down(Decimal(str(qty)), self.lot_size)


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's target exposure at a bar: +1 long, 0 flat, -1 short (fractions allowed)."""

    ts: datetime
    symbol: str
    target: float


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy wants: move ``symbol`` to ``target`` exposure of its allocated capital."""

    strategy_id: str
    symbol: str
    ts: datetime
    side: Side
    target: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Order:
    """An order as journaled: sized, priced and keyed by a deterministic client order id."""

    client_order_id: str
    strategy_id: str
    venue: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    ts: datetime
    status: OrderStatus = OrderStatus.NEW


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution against an order."""

    client_order_id: str
    venue: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts: datetime


@dataclass(frozen=True, slots=True)
class Position:
    """Net holding of one symbol for one strategy."""

    strategy_id: str
    symbol: str
    qty: Decimal
    avg_price: Decimal


@dataclass(frozen=True, slots=True)
class Action:
    """What reaches the policy engine: one order or on-chain transaction, described flatly."""

    kind: str  # order, swap, transfer, approve, bridge, ...
    venue: str
    symbol: str = ""
    side: Side | None = None
    notional_usd: float = 0.0
    leverage: float = 1.0
    strategy_id: str = ""
    reduces_position: bool = False
    chain: str = ""
    method: str = ""
    to: str = ""
    value: int = 0
    token: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule that objected, with a message and a suggestion the operator can act on."""

    rule_id: str
    layer: str
    severity: Severity
    message: str
    suggestion: str = ""


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The engine's answer for one action, stamped with the policy version hash."""

    verdict: Verdict
    policy_hash: str
    violations: tuple[Violation, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW

    def explain(self) -> str:
        """'allowed', or the violations (warnings included) as one line."""
        if not self.violations:
            return "allowed"
        listed = "; ".join(
            f"[{v.layer}/{v.rule_id}] {v.message}"
            + ("" if v.severity is Severity.CRITICAL else f" ({v.severity.value})")
            for v in self.violations
        )
        return listed if self.verdict is Verdict.DENY else f"allowed with {listed}"
