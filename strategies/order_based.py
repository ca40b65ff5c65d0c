"""Strategies that think in orders (grid, DCA, copy trading): resting limit and stop orders.

An :class:`OrderStrategy` sees each closed bar with the fills it produced and its account, and
returns orders to place or cancel (:mod:`drydock.matching`); the same ``on_bar`` serves the
research loop (:func:`research.engine.orders.run_orders`) and, later, the live runner.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from drydock.errors import unknown_choice
from strategies.base import Parameterized, Params

if TYPE_CHECKING:
    from drydock.matching import CancelOrder, Execution, PlaceOrder
    from drydock.types import Bar


@dataclass(frozen=True, slots=True)
class Account:
    """What a strategy may read at a bar's close: cash, position, its average entry, live tags."""

    cash: float
    position: float
    avg_entry: float  # volume-weighted fill price of the open position (0 when flat)
    live: frozenset[str]


class OrderStrategy(Parameterized, ABC):
    """Base class of order-level strategies (spot, long-only: the order book never shorts)."""

    id: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def init_state(self, params: Params) -> Any:
        """Fresh state."""

    @abstractmethod
    def on_bar(
        self, state: Any, t: int, bar: Bar, fills: list[Execution], account: Account,
        params: Params,
    ) -> list[PlaceOrder | CancelOrder]:  # fmt: skip
        """React to bar ``t``'s close and its fills; orders returned are live from ``t + 1``."""


def order_strategies() -> dict[str, type[OrderStrategy]]:
    """The bundled order-level strategies by id."""
    from strategies.dca import Dca
    from strategies.grid import Grid

    return {cls.id: cls for cls in (Grid, Dca)}


def get_order_strategy(strategy_id: str) -> OrderStrategy:
    """An order-level strategy by id; a clear error listing the valid ids."""
    known = order_strategies()
    if strategy_id not in known:
        raise unknown_choice("order strategy", strategy_id, sorted(known))
    return known[strategy_id]()
