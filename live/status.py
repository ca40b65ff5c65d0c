"""What an operator needs at a glance: per run, its state, position, open orders, stuck exits,
venue breaker, last reconciliation and decisions; globally, the kill switch and cap usage.

Everything is read from the journal (and the kill file); nothing is asked of a venue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drydock.policy import Policy
from live.journal import JournalRepository
from live.lifecycle import open_orders, order_states, stuck_symbols
from live.policy_state import is_paused, rolling_usage


def _last(journal: JournalRepository, run_id: str, kind: str) -> Any:
    events = journal.events(scope=run_id, kind=kind)
    return events[-1] if events else None


def run_status(journal: JournalRepository, run_id: str, now: datetime) -> dict[str, Any]:
    """One run's status as plain JSON-ready values."""
    run = journal.run(run_id)
    if run is None:
        raise KeyError(run_id)
    state = _last(journal, run_id, "runner_state")
    positions = journal.positions(run_id)
    breaker_events = journal.events_of(("venue_breaker_open", "venue_breaker_closed"), (run_id,))
    breaker = breaker_events[-1] if breaker_events else None
    reconciled = _last(journal, run_id, "reconciled")
    counts = journal.counts(run_id)
    states = order_states(journal, run_id)
    return {
        "run_id": run_id,
        "strategy": run.strategy_id,
        "mode": run.mode,
        "venue": run.venue,
        "symbol": run.symbol,
        "timeframe": run.timeframe,
        "state": state.detail["state"] if state else "idle",
        "state_since": state.ts.isoformat() if state else None,
        "paused": is_paused(journal, run.strategy_id, now),
        "position": (
            {
                "qty": str(positions[-1][1].qty),
                "avg_price": str(positions[-1][1].avg_price),
                "as_of": positions[-1][0].isoformat(),
            }
            if positions
            else None
        ),
        "orders": {s.value: list(states.values()).count(s) for s in sorted(set(states.values()))},
        "open_orders": open_orders(journal, run_id),
        "stuck": stuck_symbols(journal, run_id),
        "venue_breaker": (
            "open" if breaker is not None and breaker.kind == "venue_breaker_open" else "closed"
        ),
        "last_reconciled": (
            {"at": reconciled.ts.isoformat(), **reconciled.detail} if reconciled else None
        ),
        "decisions": {k: counts[k] for k in ("decisions", "allowed", "denied")},
        "policy_breaker": bool(journal.events(scope=run_id, kind="breaker")),
    }


def status(
    journal: JournalRepository, now: datetime, kill_on: bool, policy: Policy | None = None,
    run_ids: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The whole desk: kill switch, rolling cap usage and every chosen (default: unfinished) run."""
    ids = run_ids or [s.run.run_id for s in journal.runs(unfinished_only=True)]
    usage = rolling_usage(journal, policy, now) if policy is not None else {}
    return {
        "as_of": now.isoformat(),
        "kill_switch": "engaged" if kill_on else "off",
        "cap_usage": {f"{cap}:{key}": round(v, 6) for (cap, key), v in sorted(usage.items())},
        "runs": [run_status(journal, run_id, now) for run_id in ids],
    }
