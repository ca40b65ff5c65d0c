"""The shared policy engine: every order, in backtests and live, is decided here.

Names load lazily (PEP 562), so importing :mod:`drydock.policy.cli` to register the ``policy``
command group costs no pydantic or polars import on ``drydock --help``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drydock.policy.config import Policy, load_policy, parse_policy
    from drydock.policy.context import PolicyContext
    from drydock.policy.engine import evaluate

__all__ = ["Policy", "PolicyContext", "evaluate", "load_policy", "parse_policy"]

_HOMES = {
    "Policy": "drydock.policy.config",
    "load_policy": "drydock.policy.config",
    "parse_policy": "drydock.policy.config",
    "PolicyContext": "drydock.policy.context",
    "evaluate": "drydock.policy.engine",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'drydock.policy' has no attribute {name!r}")
    return getattr(import_module(home), name)
