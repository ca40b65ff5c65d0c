"""Policies as data: a TOML file validated by pydantic, versioned and content-hashed.

Sections mirror the engine's layers (``system``, ``session``, ``transaction``, ``risk``,
``circuit_breakers``) plus ``approvals``.
An omitted limit means "no limit from this rule"; the layers that remain still apply, and the
engine denies any action kind it has no rules for. The :attr:`Policy.content_hash` (sha256 of the
canonical JSON of the validated model) is stamped into every decision, so a journaled decision
names exactly the rules that produced it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from drydock.errors import ConfigError
from drydock.policy._evm import EvmRules
from drydock.policy._schema import Section, canonical_list, canonical_one
from drydock.policy._solana import SolanaRules
from drydock.symbols import (
    canonical_address,
    canonical_chain,
    canonical_exchange,
    canonical_symbol,
    canonical_token,
)
from drydock.types import ACTION_KINDS

#: Action kinds the engine has rules for; anything else is denied by default.
SUPPORTED_ACTION_KINDS = ACTION_KINDS

_Section = Section
_canonical_list = canonical_list


def _known_kinds(values: list[str]) -> list[str]:
    """Refuse action kinds the engine has no rules for (a typo would otherwise grant nothing)."""
    unknown = [v for v in values if v not in SUPPORTED_ACTION_KINDS]
    if unknown:
        raise ValueError(
            f"unknown action kinds {', '.join(map(repr, unknown))}; the engine has rules for "
            f"{', '.join(sorted(SUPPORTED_ACTION_KINDS))}"
        )
    return values


class SystemRules(_Section):
    """Layer 1: global switches and blocklists; they bind exits too, except the kill switch."""

    kill_switch: bool = False
    emergency_stop: bool = False
    blocked_venues: list[str] = Field(default_factory=list)
    blocked_symbols: list[str] = Field(default_factory=list)
    blocked_tokens: list[str] = Field(default_factory=list)
    allowed_chains: list[str] | None = None

    _venues = field_validator("blocked_venues")(_canonical_list(canonical_exchange))
    _symbols = field_validator("blocked_symbols")(_canonical_list(canonical_symbol))
    _tokens = field_validator("blocked_tokens")(_canonical_list(canonical_token))
    _chains = field_validator("allowed_chains")(_canonical_list(canonical_chain))


class Grant(_Section):
    """A scoped permission: which strategy may do what, where, up to how much, until when."""

    strategy: str = "*"
    actions: list[str] = Field(default_factory=lambda: ["order"], min_length=1)
    venues: list[str] | None = None
    symbols: list[str] | None = None
    max_notional_usd: float | None = Field(default=None, gt=0)
    # TOML gives a datetime; JSON (a re-parsed canonical_json) gives ISO text: accept both.
    expires_at: Annotated[datetime, Strict(False)] | None = None

    _venues = field_validator("venues")(_canonical_list(canonical_exchange))
    _symbols = field_validator("symbols")(_canonical_list(canonical_symbol))

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        if value != value.strip() or not value:
            raise ValueError('a strategy id is "*" or a non-blank id without padding')
        return value

    _actions = field_validator("actions")(lambda values: _known_kinds(values))

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expires_at needs a timezone, e.g. 2025-01-31T00:00:00Z")
        return value


class SessionRules(_Section):
    """Layer 2: grants. With no grants configured the layer is open (see the engine docs)."""

    grants: list[Grant] = Field(default_factory=list)


class RiskRules(_Section):
    """Layer 4: per-order and portfolio limits on new exposure (exits are exempt)."""

    symbol_whitelist: list[str] | None = None
    min_order_notional_usd: float | None = Field(default=None, ge=0)
    max_order_notional_usd: float | None = Field(default=None, gt=0)
    max_position_notional_usd: float | None = Field(default=None, gt=0)
    max_leverage: float | None = Field(default=None, ge=1)
    max_daily_trades: int | None = Field(default=None, ge=0)
    max_concurrent_positions: int | None = Field(default=None, ge=0)
    min_position_notional_usd: float | None = Field(default=None, gt=0)
    max_concentration_pct: float | None = Field(default=None, gt=0, le=100)
    max_slippage_bps: float | None = Field(default=None, ge=0)
    max_fee_pct: float | None = Field(default=None, ge=0, le=100)
    #: Daily loss (realized + unrealized) at which new entries stop, in USD and/or percent of the
    #: window's starting equity; the window is the UTC day or the rolling last 24 h.
    max_daily_loss_usd: float | None = Field(default=None, gt=0)
    max_daily_loss_pct: float | None = Field(default=None, gt=0, le=100)
    daily_loss_window: Literal["utc_day", "rolling_24h"] = "utc_day"
    #: Most equity an entry may lose if its stop is hit: quantity x |price - stop_price|.
    max_risk_per_trade_pct: float | None = Field(default=None, gt=0, le=100)
    #: Minutes after a symbol's position closes before a new entry in it.
    cooldown_minutes: float | None = Field(default=None, gt=0)
    max_orders_per_minute: int | None = Field(default=None, ge=1)

    _symbols = field_validator("symbol_whitelist")(_canonical_list(canonical_symbol))

    @cached_property
    def has_sizing_rules(self) -> bool:
        """Whether any rule of :mod:`drydock.policy._sizing` is set (the engine skips it if not)."""
        return any(getattr(self, name) is not None for name in _SIZING)

    @cached_property
    def has_stateful_limits(self) -> bool:
        """Whether any rule of :mod:`drydock.policy._limits` is set (the engine skips it if not)."""
        return any(getattr(self, name) is not None for name in _LIMITS)

    @model_validator(mode="after")
    def _consistent(self) -> RiskRules:
        pairs = (
            ("min_order_notional_usd", "max_order_notional_usd"),
            ("max_order_notional_usd", "max_position_notional_usd"),
            ("min_order_notional_usd", "max_position_notional_usd"),
            ("min_position_notional_usd", "max_position_notional_usd"),
        )
        for low, high in pairs:
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise ValueError(
                    f"{low} ({a:g}) is above {high} ({b:g}), so no order could pass; "
                    f"lower {low} or raise {high}"
                )
        return self


_SIZING = (
    "min_position_notional_usd",
    "max_concentration_pct",
    "max_slippage_bps",
    "max_fee_pct",
)
_LIMITS = (
    "max_daily_loss_usd",
    "max_daily_loss_pct",
    "max_risk_per_trade_pct",
    "cooldown_minutes",
    "max_orders_per_minute",
)


class CircuitBreakerRules(_Section):
    """Layer 5: account-health trips that block new entries, never exits."""

    max_drawdown_pct: float | None = Field(default=None, gt=0, le=100)
    max_consecutive_losses: int | None = Field(default=None, ge=1)
    max_consecutive_failures: int | None = Field(default=None, ge=1)
    #: Trip when fewer than this percent of the last ``win_rate_window`` closed trades won (only
    #: once that many trades have closed).
    min_win_rate_pct: float | None = Field(default=None, gt=0, le=100)
    win_rate_window: int = Field(default=20, ge=1)


class TransferRules(_Section):
    """Plain ``transfer`` and ``withdraw`` actions: payee allowlist and per-action caps."""

    destination_allowlist: list[str] | None = None
    #: Most whole units of an asset per action, e.g. ``{ USDC = 5000, ETH = 2 }``.
    max_amount: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    max_usd: float | None = Field(default=None, gt=0)

    _destinations = field_validator("destination_allowlist")(canonical_list(canonical_address))

    @field_validator("max_amount")
    @classmethod
    def _assets(cls, value: dict[str, float]) -> dict[str, float]:
        return {canonical_one(canonical_token)(k): v for k, v in value.items()}


class RollingCap(_Section):
    """A cumulative cap over a sliding window, counted per wallet, strategy, asset, destination
    or in total; ``unit`` is ``usd`` or an asset (whole units). ``keys`` limits which wallets,
    strategies, assets or destinations it applies to (default: each one separately)."""

    id: str = Field(min_length=1)
    scope: Literal["wallet", "strategy", "asset", "destination", "total"]
    unit: str = "usd"
    max: float = Field(gt=0)
    window_hours: float = Field(default=24.0, gt=0, le=24 * 31)
    keys: list[str] | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if value != value.strip() or not value.strip():
            raise ValueError('a cap id is non-blank text without padding, e.g. "wallet-24h-usd"')
        return value

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        return value if value == "usd" else canonical_one(canonical_token)(value)


class TransactionRules(_Section):
    """Layer 3: chain transaction rules and rolling caps (deny by default: a chain action needs
    its chain's section)."""

    evm: EvmRules | None = None
    solana: SolanaRules | None = None
    transfers: TransferRules | None = None
    rolling_caps: list[RollingCap] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_caps(self) -> TransactionRules:
        ids = [cap.id for cap in self.rolling_caps]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"rolling cap ids must be unique; repeated: {', '.join(twice)}")
        return self


class ApprovalRules(_Section):
    """Actions an operator must approve (``drydock live approve``) before they go out."""

    above_notional_usd: float | None = Field(default=None, gt=0)
    kinds: list[str] = Field(default_factory=list)
    expiry_minutes: float = Field(default=60.0, gt=0)

    _kinds = field_validator("kinds")(lambda values: _known_kinds(values))


class Policy(_Section):
    """One policy document: ``version`` is the author's label, ``content_hash`` its identity."""

    version: str = Field(min_length=1)
    name: str = ""
    description: str = ""
    system: SystemRules = Field(default_factory=SystemRules)
    session: SessionRules = Field(default_factory=SessionRules)
    transaction: TransactionRules = Field(default_factory=TransactionRules)
    risk: RiskRules = Field(default_factory=RiskRules)
    circuit_breakers: CircuitBreakerRules = Field(default_factory=CircuitBreakerRules)
    approvals: ApprovalRules = Field(default_factory=ApprovalRules)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not value.strip() or value != value.strip():
            raise ValueError('a version label is non-blank text without padding, e.g. "2025.1"')
        return value

    def model_post_init(self, context: Any, /) -> None:
        """Hash once, at validation: every decision reads the cached value."""
        _ = self.content_hash

    def model_copy(self, *, update: Any = None, deep: bool = False) -> Policy:
        """A re-validated copy (so an update can neither skip validation nor keep a stale hash)."""
        return type(self).model_validate({**self.model_dump(), **(update or {})})

    def canonical_json(self) -> str:
        """Sorted-key, whitespace-free JSON of the validated model (what the hash covers)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def compute_hash(self) -> str:
        """sha256 hex of :meth:`canonical_json` (~10 us; :attr:`content_hash` caches it)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @cached_property
    def content_hash(self) -> str:
        """sha256 hex of :meth:`canonical_json`: equal for equal rules, whatever the file layout.

        Computed once at validation (a plain attribute read per decision afterwards); the model
        is frozen and :meth:`model_copy` re-validates, so the cached value cannot go stale.
        """
        return self.compute_hash()


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """Valid field names of the section that holds ``loc`` (for 'did you mean' hints)."""
    model: type[BaseModel] = Policy
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def _describe(source: str, error: Any) -> str:
    loc: tuple[int | str, ...] = tuple(error["loc"])
    where = _location(loc)
    if error["type"] == "extra_forbidden":
        valid = _fields_at(loc)
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return (
            f"{source}: unknown field {where!r}.{hint} Valid fields here: "
            f"{', '.join(valid) or '(none)'}; remove or rename it."
        )
    if error["type"] == "missing":
        return f'{source}: missing required field {where!r}; add it (e.g. version = "1").'
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    got = "" if isinstance(value, dict) else f" (got {value!r})"
    hint = " (TOML: write true/false and numbers unquoted)" if error["type"] in _TYPE_ERRORS else ""
    return f"{source}: field {where!r}: {message}{got}{hint}; fix the value."


#: pydantic error types for a value of the wrong type, e.g. "5" for a number or 1 for true.
_TYPE_ERRORS = frozenset({"bool_type", "float_type", "int_type", "string_type", "list_type"})


def parse_policy(data: dict[str, Any], source: str = "<policy>") -> Policy:
    """Validate a policy mapping; every problem is reported with its field path and a fix."""
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = " ".join(_describe(source, e) for e in exc.errors())
        raise ConfigError(f"Invalid policy. {problems}") from None


def _shown(path: Path) -> str:
    """The path as printable text (undecodable bytes escaped rather than crashing the message)."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


def _read(path: Path) -> str:
    """The file's UTF-8 text, or a one-line ConfigError naming the file and the fix."""
    shown = _shown(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"Policy file {shown} does not exist. Pass an existing TOML policy, e.g. "
            "--policy policies/default.toml."
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"Policy file {shown} is a directory. Pass a TOML file inside it, e.g. "
            "policies/default.toml."
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Policy file {shown} is not UTF-8 text (byte {exc.start}: {exc.reason}). Save it "
            "as UTF-8."
        ) from None
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(
            f"Policy file {shown} cannot be read: {reason}. Check the path and its permissions."
        ) from None


def load_policy(path: str | Path) -> Policy:
    """Read and validate a TOML policy file; bad files fail here, at load, never mid-run."""
    path = Path(path)
    text = _read(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Policy file {_shown(path)} is not valid TOML: {exc}. Fix the syntax."
        ) from None
    return parse_policy(data, _shown(path))
