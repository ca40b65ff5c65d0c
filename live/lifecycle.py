"""Order lifecycle as appended journal events; an order's current state is a view over them.

An order row is written once (``new``: decided, journaled, possibly sent). What the venue did is
appended as ``order_status`` events, each keyed ``<client order id>:state:<state>`` so a rerun or a
duplicate report adds nothing: ``acked`` (the venue knows it), ``partially_filled``, ``filled``,
``cancelled`` (the unfilled rest of a market order), ``rejected`` (a permanent venue refusal) and
``failed`` (transient errors outlasted the retries; reconciliation on the next start asks the
venue again) and ``not_sent`` (dry-run). A position the runner could not unwind is flagged with a ``stuck`` event, alerted,
and retried every bar until an ``unstuck`` event closes it; it is never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from drydock.types import Fill, Order
from live.journal import JournalRepository

STATUS_EVENT = "order_status"


class OrderState(StrEnum):
    NEW = "new"
    ACKED = "acked"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"
    NOT_SENT = "not_sent"  # dry-run: built, checked and journaled, never sent


#: States after which the venue will do nothing more with the order.
TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED,
                      OrderState.EXPIRED, OrderState.NOT_SENT})  # fmt: skip


def states_after(order: Order, fills: Sequence[Fill], sent: bool = True) -> list[OrderState]:
    """What a settled venue answer means: acked, then filled, or partly filled and cancelled
    (``not_sent`` for a venue that never sends, the dry-run's)."""
    if not sent:
        return [OrderState.NOT_SENT]
    filled = sum((f.qty for f in fills), Decimal(0))
    if filled >= order.qty:
        return [OrderState.ACKED, OrderState.FILLED]
    if filled > 0:
        return [OrderState.ACKED, OrderState.PARTIALLY_FILLED, OrderState.CANCELLED]
    return [OrderState.ACKED, OrderState.CANCELLED]


def record_state(
    journal: JournalRepository,
    run_id: str,
    client_order_id: str,
    state: OrderState,
    ts: datetime,
    **detail: Any,
) -> bool:
    """Append one state of an order (idempotent per order and state)."""
    return journal.record_event(
        STATUS_EVENT,
        run_id,
        {"client_order_id": client_order_id, "state": state.value, **detail},
        ts,
        key=f"{client_order_id}:state:{state.value}",
    )


def order_states(journal: JournalRepository, run_id: str) -> dict[str, OrderState]:
    """Every order of the run with its current state (``new`` until the venue answered)."""
    states = {o.client_order_id: OrderState.NEW for o in journal.orders(run_id)}
    for event in journal.events(scope=run_id, kind=STATUS_EVENT):
        states[str(event.detail["client_order_id"])] = OrderState(event.detail["state"])
    return states


def open_orders(journal: JournalRepository, run_id: str) -> list[str]:
    """Client ids of orders not in a terminal state (sent or about to be, or failed)."""
    return [cid for cid, s in order_states(journal, run_id).items() if s not in TERMINAL]


def stuck_symbols(journal: JournalRepository, run_id: str) -> dict[str, dict[str, Any]]:
    """Symbols flagged stuck and not yet unwound, with the detail of the latest flag."""
    out: dict[str, dict[str, Any]] = {}
    for event in journal.events_of(("stuck", "unstuck"), (run_id,)):
        symbol = str(event.detail["symbol"])
        if event.kind == "stuck":
            out[symbol] = event.detail
        else:
            out.pop(symbol, None)
    return out
