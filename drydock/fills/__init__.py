"""One execution model for every engine: its configuration and its plain-Python statement.

:mod:`drydock.fills.model` holds :class:`EngineConfig` (costs, sizing limits, exits, margin, end
rule); :mod:`drydock.fills.reference` states the model as a Python loop, which the research
engine's numba kernel must reproduce and which the live core steps bar by bar with every order
sent through the policy engine and a venue (docs/backtesting.md, docs/live.md).
"""

from __future__ import annotations

from drydock.fills.model import EndRule, EngineConfig, Reason, check_exposures, floor_lots
from drydock.fills.portfolio_model import PortfolioConfig
from drydock.fills.portfolio_reference import PortfolioStepper
from drydock.fills.reference import Account, Gate, Stepper, book_fill, simulate

__all__ = [
    "Account",
    "EndRule",
    "EngineConfig",
    "Gate",
    "PortfolioConfig",
    "PortfolioStepper",
    "Reason",
    "Stepper",
    "book_fill",
    "check_exposures",
    "floor_lots",
    "simulate",
]
