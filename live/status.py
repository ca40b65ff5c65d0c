"""What an operator needs at a glance: per run, its state, position, open orders, stuck exits,
venue breaker, last reconciliation and decisions; globally, the kill switch and cap usage.

Everything is read from the journal (and the kill file); nothing is asked of a venue.
"""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from drydock.policy import Policy
from live.journal import JournalRepository
from live.lease import held_on_this_host
from live.lifecycle import open_orders, order_states, stuck_symbols
from live.policy_state import GLOBAL, is_paused, rolling_usage, strategy_scope


def _last(journal: JournalRepository, run_id: str, kind: str) -> Any:
    events = journal.events(scope=run_id, kind=kind)
    return events[-1] if events else None


#: What became of a run, in the words ``drydock status`` and ``drydock live status`` print.
OUTCOMES = ("running", "stopped", "finished", "crashed")


def run_outcome(
    journal: JournalRepository, run_id: str, now: datetime, finished: bool | None = None
) -> tuple[str, str]:
    """``(outcome, why)`` of a run: ``finished`` (it journaled ``run_finished``), ``running`` (a
    holder renews its lease), ``stopped`` (the runner stopped as asked: resumable with its run id)
    or ``crashed`` (it journaled an error, or its holder stopped renewing the lease, or it ended
    without saying how). ``finished`` may be passed when the caller already knows it.

    A killed process of this host reads ``crashed`` at once (its lease row is left but the kernel
    dropped its file lock); another host's reads ``running`` until its row expires (the row is
    the only cross-host sign of life).
    """
    if finished is None:
        finished = bool(journal.events(scope=run_id, kind="run_finished"))
    if finished:
        return "finished", ""
    lease = journal.lease_expiry(run_id)
    if lease is not None:
        expiry, host = lease
        path = getattr(journal, "path", None)
        local = isinstance(path, Path) and host == socket.gethostname()
        if local and not held_on_this_host(path, run_id):  # type: ignore[arg-type]
            # the row is this host's and no live process holds the run's file lock: its holder
            # died (a SIGKILL or a power cut) before the row could expire
            return "crashed", "its process on this host is gone (it left its lease row behind)"
        if expiry > now:
            return "running", f"lease renewed until {expiry:%Y-%m-%d %H:%M:%S} UTC"
        # a holder that exits, even on an error, releases its row: it died or hangs
        return "crashed", f"its holder stopped renewing the lease ({expiry:%Y-%m-%d %H:%M} UTC)"
    state = _last(journal, run_id, "runner_state")
    failed = _last(journal, run_id, "run_failed")
    if failed is not None and (state is None or failed.ts >= state.ts):
        return "crashed", str(failed.detail.get("error", ""))
    if state is not None and state.detail.get("state") == "error":
        return "crashed", str(state.detail.get("error", ""))
    if state is not None and state.detail.get("state") == "stopped":
        return "stopped", f"at {state.ts:%Y-%m-%d %H:%M} UTC; resume with --run-id {run_id}"
    return "crashed", "it ended without a stop record (killed?)"


def _breaker_tripped(journal: JournalRepository, run_id: str, strategy_id: str, mode: str) -> bool:
    """Whether the policy breaker the run decides from is latched now (its own account's, or the
    strategy's live account for a live runner, or the global one)."""
    own = strategy_scope(strategy_id) if mode == "runner-live" else f"run:{run_id}"
    events = journal.events_of(("breaker_trip", "breaker_reset"), (own, GLOBAL))
    latched = {own: False, GLOBAL: False}
    for event in events:
        latched[event.scope] = event.kind == "breaker_trip"
    return any(latched.values())


def run_status(journal: JournalRepository, run_id: str, now: datetime) -> dict[str, Any]:
    """One run's status as plain JSON-ready values."""
    run = journal.run(run_id)
    if run is None:
        raise KeyError(run_id)
    state = _last(journal, run_id, "runner_state")
    outcome, why = run_outcome(journal, run_id, now)
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
        "outcome": outcome,
        "outcome_detail": why,
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
        "policy_breaker": _breaker_tripped(journal, run_id, run.strategy_id, run.mode),
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


def describe(field: str, value: Any) -> str:
    """One field of :func:`run_status` in words for a table cell (the JSON keeps the values)."""
    if value is None or value == [] or value == {}:
        return {"position": "flat", "last_reconciled": "never"}.get(field, "none")
    if isinstance(value, bool):
        return {"paused": "paused" if value else "no", "policy_breaker": "tripped" if value else
                "not tripped"}.get(field, "yes" if value else "no")  # fmt: skip
    if field == "position":
        return f"{value['qty']} at avg {value['avg_price']} (as of {value['as_of'][:16]})"
    if field in ("orders", "decisions"):
        return ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in value.items())
    if field == "stuck":
        return "; ".join(f"{sym}: exit {d.get('client_order_id')} of {d.get('qty')} unfilled"
                         for sym, d in value.items())  # fmt: skip
    if field == "last_reconciled":
        parts = [f"{value['at'][:16]}", f"{value.get('checked', 0)} checked",
                 f"{value.get('recovered_fills', 0)} fills recovered"]  # fmt: skip
        if value.get("unknown_to_venue"):
            parts.append(f"{value['unknown_to_venue']} unknown to the venue")
        if value.get("errors"):
            parts.append(f"{len(value['errors'])} errors")
        if value.get("drift"):
            parts.append("POSITION DRIFT")
        return ", ".join(parts)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
