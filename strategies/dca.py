"""DCA with safety orders (the 3Commas-style bot): a market base order, limit safety buys below
it with growing size, and one take-profit limit on the whole position at its average entry plus
``take_profit``; after the take profit the bot waits ``cooldown`` bars and starts again.

Safety order k (1..safety_orders) buys ``base_order * volume_scale**k`` quote at
``entry * (1 - step * k)`` where ``entry`` is the base order's fill. After every safety fill the
take profit is moved to the new average entry.
"""

from __future__ import annotations

from dataclasses import dataclass
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
class DcaState:
    active: bool = False
    resume_at: int = 0
    deals: int = 0


class Dca(OrderStrategy):
    id = "dca"
    description = "DCA bot: market base order, scaled limit safety orders, take profit at avg + tp."
    params = (
        ParamSpec("base_order", 1_000, 1, 1e9, 1, integer=False, doc="Quote of the base order."),
        ParamSpec("safety_orders", 3, 0, 20, 1, doc="Safety orders below the entry."),
        ParamSpec("step", 0.02, 0.001, 0.5, 0.001, integer=False, doc="Gap between safety orders."),
        ParamSpec("volume_scale", 1.5, 1.0, 5.0, 0.1, integer=False, doc="Size growth per order."),
        ParamSpec(
            "take_profit", 0.02, 0.001, 1.0, 0.001, integer=False, doc="Gain over the average."
        ),
        ParamSpec("cooldown", 24, 0, 10_000, 1, doc="Bars to wait after a take profit."),
    )

    def check_params(self, params: Params) -> None:
        if params["safety_orders"] * params["step"] >= 1:
            raise ConfigError(
                "DCA safety_orders x step reaches a price at or below 0; use fewer safety orders or "
                "a smaller step."
            )

    def init_state(self, params: Params) -> DcaState:
        return DcaState()

    def on_bar(
        self, state: DcaState, t: int, bar: Bar, fills: list[Execution], account: Account,
        params: Params,
    ) -> list[PlaceOrder | CancelOrder]:  # fmt: skip
        out: list[PlaceOrder | CancelOrder] = []
        tp = params["take_profit"]
        for fill in fills:
            if fill.tag == "base":
                for k in range(1, int(params["safety_orders"]) + 1):
                    value = params["base_order"] * params["volume_scale"] ** k
                    price = fill.price * (1 - params["step"] * k)
                    out.append(
                        PlaceOrder(
                            f"so-{k}", Side.BUY, OrderKind.LIMIT, notional=value, price=price
                        )
                    )
            elif fill.tag == "tp" and account.position <= 0:
                state.active, state.resume_at = False, t + 1 + int(params["cooldown"])
                state.deals += 1
                return [CancelOrder("*")]
        if (
            not state.active
            and account.position <= 0
            and t >= state.resume_at
            and "base" not in account.live
        ):
            state.active = True
            return [PlaceOrder("base", Side.BUY, OrderKind.MARKET, notional=params["base_order"])]
        if state.active and account.position > 0 and fills:
            if "tp" in account.live:
                out.append(CancelOrder("tp"))
            out.append(
                PlaceOrder(
                    "tp",
                    Side.SELL,
                    OrderKind.LIMIT,
                    qty=account.position,
                    price=account.avg_entry * (1 + tp),
                )
            )
        return out
