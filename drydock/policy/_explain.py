"""What ``drydock policy check`` and ``explain`` show: effective rules, actions read from JSON.

Pure helpers (no printing): the CLI renders their output. Bad files raise :class:`ConfigError`
with one line naming the file, the problem and the fix.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from drydock.errors import ConfigError
from drydock.policy._config import Policy
from drydock.policy._context import PolicyContext
from drydock.types import Action, PolicyDecision, Side

#: Action fields a JSON file may set (``notional_usd`` is derived, ``malformed`` computed).
ACTION_FIELDS = tuple(f.name for f in fields(Action) if f.init)
CONTEXT_FIELDS = tuple(f.name for f in fields(PolicyContext) if f.init)


def effective_rules(policy: Policy) -> list[tuple[str, str]]:
    """``(rule, value)`` for every switch and every limit the policy sets, in layer order.

    Omitted limits are left out (they mean "no limit from this rule"), and so are settings that
    only qualify an unset limit (e.g. ``win_rate_window`` without ``min_win_rate_pct``); the two
    switches are always shown, so an operator sees that the kill switch is off. Nested sections
    and lists of tables (grants, rolling caps, contracts) are flattened to dotted paths.
    """
    rows: list[tuple[str, str]] = []
    for section in ("system", "session", "transaction", "risk", "circuit_breakers", "approvals"):
        dump = getattr(policy, section).model_dump(mode="json", exclude_none=True)
        rows.extend(_flatten(section, dump))
        if section == "session" and not policy.session.grants:
            rows.append(("session.grants", "(none: the session layer is open)"))
    shown = {name for name, _ in rows}
    return [
        (name, value)
        for name, value in rows
        if name not in _SOME_OF or any(q in shown for q in _SOME_OF[name])
    ]


#: Settings that only qualify other limits: shown when one of those limits is set.
_SOME_OF: dict[str, tuple[str, ...]] = {
    "risk.daily_loss_window": ("risk.max_daily_loss_usd", "risk.max_daily_loss_pct"),
    "circuit_breakers.win_rate_window": ("circuit_breakers.min_win_rate_pct",),
    "approvals.expiry_minutes": ("approvals.above_notional_usd", "approvals.kinds"),
}
_SWITCHES = frozenset({"system.kill_switch", "system.emergency_stop"})


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    """Dotted ``(path, shown value)`` rows of a dumped section, skipping empty lists and dicts
    (except the two switches, always shown)."""
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, item in value.items():
            rows.extend(_flatten(f"{prefix}.{key}", item))
        return rows
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [row for i, item in enumerate(value) for row in _flatten(f"{prefix}[{i}]", item)]
    if value == {} or (value == [] and prefix in _EMPTY_IS_NONE):
        return []
    if value is False and prefix not in _SWITCHES and prefix.startswith("system."):
        return []
    return [(prefix, _show(value))]


#: Lists where ``[]`` means "none configured" (an empty allowlist elsewhere matches nothing).
_EMPTY_IS_NONE = frozenset(
    {
        "system.blocked_venues",
        "system.blocked_symbols",
        "system.blocked_tokens",
        "session.grants",
        "transaction.rolling_caps",
        "approvals.kinds",
    }
)


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]" if value else "[] (matches nothing)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return f"{value:,.0f}"
    return str(value)


def _read_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; every failure is one ConfigError line naming the file."""
    shown = str(path).encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{what} file {shown} does not exist. Pass an existing JSON file."
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{what} file {shown} is a directory. Pass a JSON file.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} file {shown} is not UTF-8 text (byte {exc.start}).") from None
    except OSError as exc:
        raise ConfigError(f"{what} file {shown} cannot be read: {exc.strerror}.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{what} file {shown} is not valid JSON: {exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}. Fix the syntax."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} file {shown} must hold one JSON object {{...}}, not a list.")
    return data


def _unknown(data: dict[str, Any], allowed: tuple[str, ...], what: str, path: Path) -> None:
    unknown = sorted(set(data) - set(allowed))
    if not unknown:
        return
    hint = (
        " notional_usd is derived as quantity * price; pass those instead."
        if ("notional_usd" in unknown)
        else ""
    )
    raise ConfigError(
        f"{what} file {path}: unknown field(s) {', '.join(map(repr, unknown))}.{hint} Valid "
        f"fields: {', '.join(allowed)}."
    )


def load_action(path: Path) -> Action:
    """An :class:`Action` from a JSON object; ``side`` is "buy" or "sell".

    Values are passed through as written, so a malformed action (a string quantity, a padded
    symbol) is built and then denied by the engine with its reason, rather than refused here.
    """
    data = _read_object(path, "Action")
    _unknown(data, ACTION_FIELDS, "Action", path)
    if "kind" not in data or "venue" not in data:
        raise ConfigError(
            f'Action file {path} needs "kind" and "venue", e.g. {{"kind": "order", "venue": '
            '"binance", "symbol": "BTC/USDT", "side": "buy", "quantity": 0.1, "price": 60000}.'
        )
    side = data.get("side")
    if isinstance(side, str) and side in {s.value for s in Side}:
        data["side"] = Side(side)
    if "payload" in data:
        data["payload"] = load_payload(data["kind"], data["payload"], path)
    return Action(**data)


def load_payload(kind: object, raw: object, path: Path) -> Any:
    """A chain payload from JSON: ``evm_tx`` a web3 transaction object (hex ``data``),
    ``evm_sign_typed_data`` an EIP-712 object (``domain``, ``primaryType``, ``message``),
    ``solana_tx`` a base64 serialized transaction."""
    if kind == "evm_tx" and isinstance(raw, dict):
        from drydock.policy._evm_payload import EvmTx

        return EvmTx.from_web3(raw)
    if kind == "evm_sign_typed_data" and isinstance(raw, dict):
        from drydock.policy._evm_payload import TypedData

        return TypedData.from_eip712(raw)
    if kind == "solana_tx" and isinstance(raw, str):
        from drydock.policy._solana_payload import SolanaTx

        return SolanaTx.from_bytes(raw)
    raise ConfigError(
        f'Action file {path}: "payload" must be a web3 transaction object for evm_tx, an EIP-712 '
        f"object for evm_sign_typed_data or base64 text for solana_tx (kind {kind!r}, got "
        f"{type(raw).__name__})."
    )


def load_context(path: Path | None, now: datetime) -> PolicyContext:
    """A :class:`PolicyContext` from a JSON object (``now`` as ISO 8601), or an empty one at ``now``."""
    if path is None:
        return PolicyContext(now=now)
    data = _read_object(path, "Context")
    _unknown(data, CONTEXT_FIELDS, "Context", path)
    if "now" in data:
        try:
            data["now"] = datetime.fromisoformat(data["now"])
        except (TypeError, ValueError):
            raise ConfigError(
                f'Context file {path}: "now" = {data["now"]!r} is not an ISO 8601 time; write '
                'e.g. "2025-06-01T12:00:00+00:00".'
            ) from None
    else:
        data["now"] = now
    try:
        return PolicyContext(**data)
    except (TypeError, AttributeError) as exc:
        raise ConfigError(f"Context file {path}: {exc}; check the field types.") from None


def decision_record(action: Action, decision: PolicyDecision, policy: Policy) -> dict[str, Any]:
    """The decision as a JSON-ready mapping: verdict, hash, version, action and violations."""
    return {
        "verdict": decision.verdict.value,
        "allowed": decision.allowed,
        "policy_hash": decision.policy_hash,
        "policy_version": policy.version,
        "summary": decision.explain(),
        "action": {
            k: v.value if isinstance(v, Side) else v
            for k, v in asdict(action).items()
            if k != "payload"
        }
        | ({"payload": repr(action.payload)} if action.payload is not None else {}),
        "violations": [{**asdict(v), "severity": v.severity.value} for v in decision.violations],
    }
