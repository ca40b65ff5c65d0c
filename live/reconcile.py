"""Reconcile the journal with the venue: fills the journal missed, orders the venue never saw.

Run on start (before the runner catches up) and every ``reconcile_every`` while it runs. For each
order of the run that is not in a terminal state (``new``: journaled and maybe sent before a
crash; ``acked``; ``failed``: transient errors outlasted the retries, so the venue may still have
taken it), the venue is asked for its fills by client order id. Fills it knows and the journal
lacks are journaled (idempotent by fill id) and the order's state follows; an order the venue
does not know stays ``new`` and the catch-up decides whether to send it (re-checked by the policy
first). Venue balances, where the venue reports them, are journaled as a ``balances`` snapshot
and judged: when the venue holds less of the run's base asset than the journal's fills say the
run holds (beyond :data:`DRIFT_TOLERANCE`, room for fees some venues take in the base asset), the
position has drifted (sold or withdrawn outside the runner, a fill the journal never saw): a
``position_drift`` event is journaled once per distinct finding and the runner alerts, because
the next exit would fail for want of funds. Nothing is ever sent from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from drydock.logs import get_logger
from drydock.types import Fill, Side
from live.journal import JournalRepository, fill_key
from live.lifecycle import TERMINAL, OrderState, order_states, record_state, states_after
from live.venues.base import Venue, VenueError

log = get_logger(__name__)

#: Relative shortfall of the venue's base balance tolerated before a drift is declared.
DRIFT_TOLERANCE = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconciliation found."""

    checked: int
    recovered_fills: int
    unknown_to_venue: int
    errors: int
    balances: dict[str, str] | None = None
    recovered: tuple[Fill, ...] = ()
    drift: dict[str, str] | None = None
    new_drift: bool = False


def reconcile(
    journal: JournalRepository, run_id: str, venue: Venue, now: datetime
) -> ReconcileReport:
    """Bring the journal in line with what ``venue`` did for ``run_id``'s open orders."""
    states = order_states(journal, run_id)
    todo = [cid for cid, state in states.items() if state not in TERMINAL]
    recovered: list[Fill] = []
    unknown = errors = 0
    for cid in todo:
        try:
            fills = venue.fills_for(cid)
        except VenueError as exc:
            errors += 1
            log.warning("reconcile.venue_error", run_id=run_id, client_order_id=cid, error=str(exc))
            continue
        if not fills:
            unknown += states[cid] is OrderState.NEW
            continue
        known = {fill_key(f) for f in journal.fills_for(cid)}
        for fill in fills:
            if fill_key(fill) not in known and journal.record_fill(run_id, fill):
                recovered.append(fill)
        order = journal.order(cid)
        if order is not None:
            for state in states_after(order, fills):
                record_state(journal, run_id, cid, state, now, source="reconcile")
    balances = _balances(venue)
    drift = position_drift(journal, run_id, balances)
    new_drift = drift is not None and journal.record_event(
        "position_drift", run_id, drift, now,
        key=f"{run_id}:drift:{drift['journal']}:{drift['venue']}",
    )  # fmt: skip
    if drift is not None:
        log.error("reconcile.position_drift", run_id=run_id, **drift)
    report = ReconcileReport(len(todo), len(recovered), unknown, errors, balances,
                             tuple(recovered), drift, new_drift)  # fmt: skip
    journal.record_event("reconciled", run_id, {
        "checked": report.checked, "recovered_fills": len(recovered), "unknown_to_venue": unknown,
        "errors": errors, "balances": balances, "drift": drift,
    }, now)  # fmt: skip
    log.info("reconcile.done", run_id=run_id, checked=report.checked, recovered_fills=len(recovered),
             unknown_to_venue=unknown, errors=errors)  # fmt: skip
    return report


def position_drift(
    journal: JournalRepository, run_id: str, balances: dict[str, str] | None
) -> dict[str, str] | None:
    """The shortfall of the venue's base-asset balance against the run's journaled fills, or
    None (no balances, a derivative symbol, a flat book, or a balance within tolerance)."""
    run = journal.run(run_id)
    if balances is None or run is None or ":" in run.symbol:  # perps hold contracts, not coins
        return None
    base = run.symbol.split("/")[0]
    held = sum(((f.qty if f.side is Side.BUY else -f.qty) for f in journal.fills(run_id)),
               Decimal(0))  # fmt: skip
    at_venue = Decimal(balances.get(base, "0"))
    if held <= 0 or at_venue >= held * (1 - DRIFT_TOLERANCE):
        return None
    return {"asset": base, "journal": str(held), "venue": str(at_venue),
            "short_by": str(held - at_venue)}  # fmt: skip


def _balances(venue: Any) -> dict[str, str] | None:
    reader = getattr(venue, "balances", None)
    if reader is None:
        return None
    try:
        found: dict[str, Decimal] = reader()
    except VenueError as exc:
        log.warning("reconcile.balances_failed", venue=venue.name, error=str(exc))
        return None
    return {currency: str(amount) for currency, amount in sorted(found.items())}
