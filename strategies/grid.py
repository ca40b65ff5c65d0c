"""Spot grid: buy limits below the first close every ``spacing``; each filled buy is sold one
level up, and each sold level is bought again (the desks' classic range grid).

The grid is anchored at the first bar's close: level i (1..levels) buys ``order_value`` quote at
``center * (1 - spacing * i)`` and sells the same units at level i-1's price. ``stop`` (a fraction
below the lowest level, 0 = off) cancels everything and sells the position at the next open when a
close falls through it; the grid then stays stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drydock.errors import ConfigError
from drydock.matching import CancelOrder, OrderKind, PlaceOrder
from drydock.types import Side
from strategies.base import Params, ParamSpec
from strategies.order_based import Account, OrderStrategy

if TYPE_CHECKING:
    from drydock.matching import Execution
    from drydock.types import Bar


@dataclass
class GridState:
    prices: list[float] = field(default_factory=list)  # index i-1 -> level i
    center: float = 0.0
    stopped: bool = False


class Grid(OrderStrategy):
    id = "grid"
    description = (
        "Spot range grid: limit buys every `spacing` below the first close, each sold one level up."
    )
    params = (
        ParamSpec("levels", 5, 1, 50, 1, doc="Buy levels below the anchor."),
        ParamSpec("spacing", 0.01, 0.001, 0.2, 0.001, integer=False, doc="Gap between levels."),
        ParamSpec("order_value", 1_000, 1, 1e9, 1, integer=False, doc="Quote per level."),
        ParamSpec("stop", 0.0, 0.0, 0.9, 0.01, integer=False, doc="Stop below the grid (0 off)."),
    )

    def check_params(self, params: Params) -> None:
        if params["levels"] * params["spacing"] >= 1:
            raise ConfigError(
                f"Grid levels x spacing = {params['levels'] * params['spacing']:g} puts the lowest "
                "level at or below 0; use fewer levels or a smaller spacing."
            )

    def init_state(self, params: Params) -> GridState:
        return GridState()

    def on_bar(
        self, state: GridState, t: int, bar: Bar, fills: list[Execution], account: Account,
        params: Params,
    ) -> list[PlaceOrder | CancelOrder]:  # fmt: skip
        if state.stopped:
            return []
        out: list[PlaceOrder | CancelOrder] = []
        if not state.prices:
            state.center = bar.close
            n, gap = int(params["levels"]), params["spacing"]
            state.prices = [bar.close * (1 - gap * i) for i in range(1, n + 1)]
            for i, price in enumerate(state.prices, start=1):
                out.append(self._buy(i, price, params))
            return out
        floor = state.prices[-1] * (1 - params["stop"])
        if params["stop"] > 0 and bar.close < floor:
            state.stopped = True
            out.append(CancelOrder("*"))
            if account.position > 0:
                out.append(
                    PlaceOrder("stop-exit", Side.SELL, OrderKind.MARKET, qty=account.position)
                )
            return out
        for fill in fills:
            kind, _, level = fill.tag.partition("-")
            i = int(level)
            if kind == "buy":
                above = state.center if i == 1 else state.prices[i - 2]
                out.append(
                    PlaceOrder(f"sell-{i}", Side.SELL, OrderKind.LIMIT, qty=fill.qty, price=above)
                )
            elif kind == "sell":
                out.append(self._buy(i, state.prices[i - 1], params))
        return out

    @staticmethod
    def _buy(i: int, price: float, params: Params) -> PlaceOrder:
        return PlaceOrder(
            f"buy-{i}", Side.BUY, OrderKind.LIMIT, notional=params["order_value"], price=price
        )
