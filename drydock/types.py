"""Domain types shared by research and live: bars, instruments, intents, orders, fills, actions.

Money is float64 in research arrays and ``Decimal`` at the live venue boundary, rounded to the
instrument's tick and lot (see :meth:`Instrument.round_qty`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from functools import partial

from drydock.errors import DrydockError
from drydock.execution import round_down
from drydock.policy._transaction import Payload
from drydock.symbols import (
    canonical_address,
    canonical_chain,
    canonical_exchange,
    canonical_symbol,
    canonical_token,
)

__all__ = [
    "ACTION_KINDS",
    "MOVE_KINDS",
    "ORDER_KINDS",
    "PAYLOAD_KINDS",
    "Action",
    "Bar",
    "Fill",
    "Instrument",
    "InstrumentKind",
    "Order",
    "OrderIntent",
    "OrderStatus",
    "PolicyDecision",
    "Position",
    "Severity",
    "Side",
    "Signal",
    "Verdict",
    "Violation",
]


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
    """The engine's answer: NEEDS_APPROVAL holds an action for an operator (no rule denied it)."""

    ALLOW = "allow"
    DENY = "deny"
    NEEDS_APPROVAL = "needs_approval"


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
    #: How a simulated venue prices it: ``market`` (the bar's open, slipped, taker fee; an exit
    #: the core released at its level has the level as that open), ``limit`` (a resting limit
    #: the core matched: its price, no slippage, maker fee), ``stop`` (a resting stop the core
    #: triggered: its price, slipped, taker fee). Kept in the decision's action (``extra``).
    kind: str = "market"


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


#: Action kinds whose quantity, price and side describe an exchange order.
ORDER_KINDS = frozenset({"order"})
#: Action kinds that carry a chain transaction as ``payload`` (its ``kind`` must match).
PAYLOAD_KINDS = frozenset({"evm_tx", "evm_sign_typed_data", "solana_tx"})
#: Action kinds that move ``quantity`` of ``token`` (``transfer``/``withdraw``: to ``to``).
MOVE_KINDS = frozenset({"transfer", "deposit", "withdraw"})
#: Every action kind the engine knows; anything else is denied as unsupported.
ACTION_KINDS = ORDER_KINDS | PAYLOAD_KINDS | MOVE_KINDS


@dataclass(frozen=True, slots=True)
class Action:
    """What reaches the policy engine: one order or on-chain transaction, described flatly.

    Identifiers are canonicalized once, here, by :mod:`drydock.symbols` in strict mode: only the
    case may change (symbol and token symbols upper-case; venue, chain and addresses lower-case);
    padded, fullwidth, control, zero-width or non-ASCII (look-alike) text does not canonicalize. ``notional_usd`` is derived as ``quantity * price``, never passed in. Building
    never raises: an action that does not canonicalize, or an order without a finite positive
    quantity and price and a side, keeps its raw fields and names the problem in ``malformed``,
    and the engine denies it with ``system.malformed_action``.
    """

    kind: str  # one of ACTION_KINDS; anything else is denied as unsupported
    venue: str
    symbol: str = ""
    side: Side | None = None
    _: KW_ONLY  # money and everything after it by name: a positional 100.0 was a silent quantity
    quantity: float = 0.0
    price: float = 0.0
    leverage: float = 1.0
    strategy_id: str = ""
    reduces_position: bool = False
    chain: str = ""
    method: str = ""
    to: str = ""
    value: int = 0
    token: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    quoted_price: float = 0.0  # the venue's quote the price was taken from; 0: none given
    fee_usd: float = 0.0  # expected fee or gas cost of the action in USD
    stop_price: float = 0.0  # the entry's protective stop (risk per trade); 0: none given
    wallet: str = ""  # the signing address or account (rolling caps per wallet)
    payload: Payload | None = None  # the chain transaction of a PAYLOAD_KINDS action
    notional_usd: float = field(init=False, default=0.0)
    malformed: str = field(init=False, default="")

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name, canonical in _IDENTIFIERS:
            raw = getattr(self, name)
            if raw == "" and not (name in ("venue", "symbol") and self.kind in ORDER_KINDS):
                continue
            try:
                object.__setattr__(self, name, canonical(raw))
            except DrydockError as exc:
                problems.append(str(exc))
        notional = _number(self.quantity) * _number(self.price)
        object.__setattr__(self, "notional_usd", notional)
        if self.kind in ORDER_KINDS:
            problems.extend(_order_problems(self, notional))
        elif self.kind in PAYLOAD_KINDS:
            problems.extend(_payload_problems(self))
        elif self.kind in MOVE_KINDS:
            problems.extend(_move_problems(self))
        if self.reduces_position is not False and (
            self.reduces_position is not True or self.kind not in ORDER_KINDS
        ):
            problems.append(
                f"reduces_position={self.reduces_position!r}: only an order can be an exit "
                "(True/False)"
            )
        for name in ("quoted_price", "fee_usd", "stop_price"):
            value = getattr(self, name)
            if not (math.isfinite(_number(value)) and value >= 0):
                problems.append(f"{name}={value!r} is not a finite number >= 0")
        if not (isinstance(self.leverage, int | float) and math.isfinite(self.leverage)):
            problems.append(f"leverage={self.leverage!r} is not a finite number")
        elif self.leverage <= 0:
            problems.append(f"leverage={self.leverage!r} is not > 0 (use 1.0 for spot)")
        object.__setattr__(self, "malformed", " ".join(problems))


def _number(value: object) -> float:
    """``value`` as a float for the notional, NaN for anything that is not a real number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _order_problems(action: Action, notional: float) -> list[str]:
    """Why an order's side, quantity, price or derived notional cannot be decided on, if at all."""
    out = []
    if not isinstance(action.side, Side):
        out.append(f"side={action.side!r} is not buy or sell")
    for name in ("quantity", "price"):
        value = getattr(action, name)
        number = _number(value)
        if not (math.isfinite(number) and number > 0):
            out.append(f"{name}={value!r} is not a finite number > 0 (side gives the direction)")
    if not out and not (math.isfinite(notional) and notional > 0):
        out.append(f"notional quantity*price={notional!r} is not a finite amount > 0")
    return out


def _payload_problems(action: Action) -> list[str]:
    """A chain action needs a payload of its own kind, and the payload's own problems count."""
    payload = action.payload
    if payload is None or not isinstance(payload, Payload):
        return [f"a {action.kind} action needs a payload (got {payload!r})"]
    if payload.kind != action.kind:
        return [f"a {action.kind} action carries a {payload.kind} payload"]
    return list(payload.problems())


def _move_problems(action: Action) -> list[str]:
    """Transfers, deposits and withdrawals name a token and a finite amount > 0 (and a payee)."""
    out = []
    if not action.token:
        out.append(f"a {action.kind} names the token it moves (token is empty)")
    number = _number(action.quantity)
    if not (math.isfinite(number) and number > 0):
        out.append(f"quantity={action.quantity!r} is not a finite amount > 0")
    price = _number(action.price)
    if not (math.isfinite(price) and price >= 0):
        out.append(f"price={action.price!r} is not a finite USD price >= 0 (0: unknown)")
    if action.kind != "deposit" and not action.to:
        out.append(f"a {action.kind} names its destination address in to (it is empty)")
    return out


#: Identifier fields of an action and the kernel function that canonicalizes each.
_IDENTIFIERS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("venue", partial(canonical_exchange, strict=True)),
    ("symbol", partial(canonical_symbol, strict=True)),
    ("token", partial(canonical_token, strict=True)),
    ("chain", partial(canonical_chain, strict=True)),
    ("to", partial(canonical_address, strict=True)),
    ("wallet", partial(canonical_address, strict=True)),
)


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
            return "allowed" if self.allowed else self.verdict.value.replace("_", " ")
        listed = "; ".join(
            f"[{v.layer}/{v.rule_id}] {v.message}"
            + ("" if v.severity is Severity.CRITICAL else f" ({v.severity.value})")
            for v in self.violations
        )
        if self.verdict is Verdict.ALLOW:
            return f"allowed with {listed}"
        if self.verdict is Verdict.NEEDS_APPROVAL:
            return f"needs approval: {listed}"
        return listed
