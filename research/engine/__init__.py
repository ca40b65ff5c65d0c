"""The research engine's complete single-instrument execution model (docs/backtesting.md).

Targets are exposure fractions in [-L, L] (long, short, reversal in one order, leverage up to a
cap); stops, trailing stops, take profit and scale-out ladders are evaluated intrabar against
high/low; perpetual funding is charged at funding timestamps; leveraged positions are checked for
liquidation; open positions at the end are reported or closed. A numba kernel
(:mod:`research.engine.kernel`) runs it; :mod:`drydock.fills.reference` is the same model as a
plain Python loop, and the conformance suite holds both to hand-computed scenarios.

Names load lazily (PEP 562), so registering ``drydock simulate`` costs no numpy or polars import
on ``drydock --help``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drydock.fills.model import EngineConfig, Reason
    from research.engine.run import EngineResult, run_backtest

__all__ = ["EngineConfig", "EngineResult", "Reason", "run_backtest"]

_HOMES = {
    "EngineConfig": "drydock.fills.model",
    "Reason": "drydock.fills.model",
    "EngineResult": "research.engine.run",
    "run_backtest": "research.engine.run",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'research.engine' has no attribute {name!r}")
    return getattr(import_module(home), name)
