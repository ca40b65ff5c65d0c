"""Policies as data: a TOML file validated by pydantic, versioned and content-hashed.

Sections mirror the engine's layers (``system``, ``session``, ``risk``, ``circuit_breakers``).
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
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drydock.errors import ConfigError

#: Action kinds the engine has rules for; anything else is denied by default.
SUPPORTED_ACTION_KINDS = frozenset({"order"})


def _upper(values: list[str] | None) -> list[str] | None:
    return None if values is None else [v.strip().upper() for v in values]


def _lower(values: list[str] | None) -> list[str] | None:
    return None if values is None else [v.strip().lower() for v in values]


class _Section(BaseModel):
    """Strict, immutable base: unknown fields are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemRules(_Section):
    """Layer 1: global switches and blocklists; they bind exits too, except the kill switch."""

    kill_switch: bool = False
    emergency_stop: bool = False
    blocked_venues: list[str] = Field(default_factory=list)
    blocked_symbols: list[str] = Field(default_factory=list)
    blocked_tokens: list[str] = Field(default_factory=list)
    allowed_chains: list[str] | None = None

    _venues = field_validator("blocked_venues", "allowed_chains")(_lower)
    _symbols = field_validator("blocked_symbols")(_upper)


class Grant(_Section):
    """A scoped permission: which strategy may do what, where, up to how much, until when."""

    strategy: str = "*"
    actions: list[str] = Field(default_factory=lambda: ["order"], min_length=1)
    venues: list[str] | None = None
    symbols: list[str] | None = None
    max_notional_usd: float | None = Field(default=None, gt=0)
    expires_at: datetime | None = None

    _venues = field_validator("venues", "actions")(_lower)
    _symbols = field_validator("symbols")(_upper)

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

    _symbols = field_validator("symbol_whitelist")(_upper)


class CircuitBreakerRules(_Section):
    """Layer 5: account-health trips that block new entries, never exits."""

    max_drawdown_pct: float | None = Field(default=None, gt=0, le=100)
    max_consecutive_losses: int | None = Field(default=None, ge=1)
    max_consecutive_failures: int | None = Field(default=None, ge=1)


class Policy(_Section):
    """One policy document: ``version`` is the author's label, ``content_hash`` its identity."""

    version: str = Field(min_length=1)
    name: str = ""
    description: str = ""
    system: SystemRules = Field(default_factory=SystemRules)
    session: SessionRules = Field(default_factory=SessionRules)
    risk: RiskRules = Field(default_factory=RiskRules)
    circuit_breakers: CircuitBreakerRules = Field(default_factory=CircuitBreakerRules)

    def canonical_json(self) -> str:
        """Sorted-key, whitespace-free JSON of the validated model (what the hash covers)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @property
    def content_hash(self) -> str:
        """sha256 hex of :meth:`canonical_json`: equal for equal rules, whatever the file layout.

        Recomputed on each access (~10 us) rather than cached, so a ``model_copy(update=...)``
        can never carry a stale hash.
        """
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


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
    return f"{source}: field {where!r}: {error['msg']} (got {error.get('input')!r}); fix the value."


def parse_policy(data: dict[str, Any], source: str = "<policy>") -> Policy:
    """Validate a policy mapping; every problem is reported with its field path and a fix."""
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = " ".join(_describe(source, e) for e in exc.errors())
        raise ConfigError(f"Invalid policy. {problems}") from None


def load_policy(path: str | Path) -> Policy:
    """Read and validate a TOML policy file; bad files fail here, at load, never mid-run."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"Policy file {path} does not exist. Pass an existing TOML policy, e.g. "
            "--policy policies/default.toml."
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Policy file {path} is not valid TOML: {exc}. Fix the syntax.") from None
    return parse_policy(data, str(path))
