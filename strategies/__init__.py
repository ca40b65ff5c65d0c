"""Strategy contract and library: one definition serves backtests, sweeps and the live runner."""

from strategies.base import IncrementalRunner, ParamSpec, Strategy
from strategies.registry import StrategySource, get_strategy, strategy_ids, strategy_sources

__all__ = [
    "IncrementalRunner",
    "ParamSpec",
    "Strategy",
    "StrategySource",
    "get_strategy",
    "strategy_ids",
    "strategy_sources",
]
