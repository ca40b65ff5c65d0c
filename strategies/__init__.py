"""Strategy contract and library: one definition serves backtests, sweeps and the live runner."""

from strategies.base import IncrementalRunner, ParamSpec, Strategy
from strategies.registry import get_strategy, strategy_ids

__all__ = ["IncrementalRunner", "ParamSpec", "Strategy", "get_strategy", "strategy_ids"]
