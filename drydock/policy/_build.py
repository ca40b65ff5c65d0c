"""Fast construction of the engine's frozen results: :class:`Violation`, :class:`PolicyDecision`.

Both are frozen, slotted dataclasses; calling the class runs the generated ``__init__``, which
sets each field through ``object.__setattr__`` behind the type-call machinery (~3x the cost of
setting the slots directly). A denial builds one decision and one or more violations, so the
engine builds them here instead: the same objects (equal, hashable, same ``repr``), without
the detour. Neither class has a ``__post_init__`` or a validator to skip; the field lists are
checked at import, so a field added to either class fails loudly here instead of being left
unset.
"""

from __future__ import annotations

from dataclasses import fields

from drydock.types import PolicyDecision, Severity, Verdict, Violation

_new = object.__new__
_set = object.__setattr__

if tuple(f.name for f in fields(Violation)) != (
    "rule_id",
    "layer",
    "severity",
    "message",
    "suggestion",
) or tuple(f.name for f in fields(PolicyDecision)) != ("verdict", "policy_hash", "violations"):
    raise ImportError("Violation or PolicyDecision changed fields: update drydock.policy._build")
if hasattr(Violation, "__post_init__") or hasattr(PolicyDecision, "__post_init__"):
    raise ImportError("Violation or PolicyDecision gained a __post_init__: build them normally")


def critical(rule_id: str, layer: str, message: str, suggestion: str) -> Violation:
    """``Violation(rule_id, layer, Severity.CRITICAL, message, suggestion)``."""
    v = _new(Violation)
    _set(v, "rule_id", rule_id)
    _set(v, "layer", layer)
    _set(v, "severity", Severity.CRITICAL)
    _set(v, "message", message)
    _set(v, "suggestion", suggestion)
    return v


def decision(
    verdict: Verdict, policy_hash: str, violations: tuple[Violation, ...]
) -> PolicyDecision:
    """``PolicyDecision(verdict, policy_hash, violations)``."""
    d = _new(PolicyDecision)
    _set(d, "verdict", verdict)
    _set(d, "policy_hash", policy_hash)
    _set(d, "violations", violations)
    return d
