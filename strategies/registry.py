"""Name -> strategy lookup for the CLI, research and the live runner."""

from __future__ import annotations

from drydock.errors import unknown_choice
from strategies.base import Strategy
from strategies.ema_cross import EmaCross

_STRATEGIES: dict[str, type[Strategy]] = {cls.id: cls for cls in (EmaCross,)}


def strategy_ids() -> list[str]:
    return sorted(_STRATEGIES)


def get_strategy(strategy_id: str) -> Strategy:
    """Instantiate a library strategy; a clear error lists the valid ids."""
    if strategy_id not in _STRATEGIES:
        raise unknown_choice(
            "strategy", strategy_id, _STRATEGIES, "List them with `drydock strategies`."
        )
    return _STRATEGIES[strategy_id]()
