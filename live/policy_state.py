"""Policy state kept in the journal, so no restart resets a limit.

Every stateful input of the policy engine is an append-only journal event, written when it
happens, and :func:`build_context` rebuilds the :class:`~drydock.policy.PolicyContext` from them:

| event kind | scope | feeds |
|---|---|---|
| ``cap_usage`` | ``caps`` (a simulated account: ``run:<id>``) | ``rolling_usage`` (summed per cap id and key inside the cap's window) |
| ``equity`` | ``strategy:<id>`` (a simulated account: ``run:<id>``, as below) | high-water mark, daily PnL and the window's starting equity |
| ``deposit`` / ``withdraw`` | ``account`` | high-water mark (deposit raises it 1:1, a withdrawal scales it by after/before) and daily PnL (net flows are not PnL) |
| ``trade_closed`` | ``strategy:<id>`` | consecutive losses, recent wins, ``last_close_at`` |
| ``execution`` | ``strategy:<id>`` | consecutive execution failures |
| ``breaker_trip`` / ``breaker_reset`` | ``strategy:<id>`` or ``global`` | the breaker latch (only an operator's reset clears it) |
| ``pause`` / ``resume`` | ``strategy:<id>`` | ``paused`` |
| ``approval_*`` | ``approvals`` | pending, approved, rejected and expired approvals |

Cap usage is journaled in the same SQLite transaction as the ALLOW decision it belongs to
(:func:`record_decision`), so a crash can never leave an allowed action uncounted. Counting at
ALLOW is conservative: an allowed action whose submit then fails still counts until its window
passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from drydock.errors import DrydockError
from drydock.policy import (
    Policy,
    PolicyContext,
    cap_usage,
    deposit_high_water,
    mark_high_water,
    withdraw_high_water,
)
from drydock.types import Action, PolicyDecision, Verdict
from live.journal import DecisionRecord, EventRecord, JournalRepository

CAPS, ACCOUNT, GLOBAL, APPROVALS = "caps", "account", "global", "approvals"
#: Closed trades read back for the loss streak and the win-rate window.
TRADE_HISTORY = 200
_TICK = timedelta(microseconds=1)


def strategy_scope(strategy_id: str) -> str:
    return f"strategy:{strategy_id}"


@dataclass(frozen=True, slots=True)
class Account:
    """Whose policy state a run decides from and writes to.

    The live account of a strategy (:func:`live_account`) is shared by its live runs: events in
    ``strategy:<id>``, cap usage in the wallet-wide ``caps`` scope, orders counted by strategy,
    the operator's pauses, approvals, deposits and global breaker trips apply. A simulated
    account (:func:`run_account`: a replay, a paper or dry-run runner) is its own: every event
    in ``run:<run_id>``, orders counted by run, so history never spends the wallet's caps or
    trips a live breaker; ``operator`` says whether the operator's pause and global breaker
    apply (the paper and dry-run runners: yes; a replay of history: no).
    """

    strategy_id: str
    scope: str
    caps_scope: str
    run_id: str | None = None
    operator: bool = True

    @property
    def shared(self) -> bool:
        """The live account (wallet-wide caps, flows, approvals) rather than one run's own."""
        return self.run_id is None


def live_account(strategy_id: str) -> Account:
    """The live, shared account of ``strategy_id``."""
    return Account(strategy_id, strategy_scope(strategy_id), CAPS)


def run_account(strategy_id: str, run_id: str, operator: bool) -> Account:
    """The simulated account of one run (see :class:`Account`)."""
    scope = f"run:{run_id}"
    return Account(strategy_id, scope, scope, run_id, operator)


class ApprovalError(DrydockError):
    """An approval or rejection that cannot be applied (unknown, expired, already decided)."""


# ---- writing -----------------------------------------------------------------------------------


def record_decision(
    journal: JournalRepository,
    run_id: str,
    key: str,
    ts: datetime,
    action: Action,
    decision: PolicyDecision,
    policy: Policy,
    ctx: PolicyContext,
    account: Account | None = None,
) -> DecisionRecord:
    """Journal a decision and, for an ALLOW, what it adds to each rolling cap (in the account's
    caps scope; default the wallet-wide one), atomically; a NEEDS_APPROVAL decision of a shared
    account also opens a pending approval with its expiry (a simulated account has no operator
    to approve: its held actions never execute)."""
    caps_scope = account.caps_scope if account is not None else CAPS
    with journal.transaction():
        record = journal.record_decision(run_id, key, ts, action, decision, policy.version)
        if decision.verdict is Verdict.ALLOW:
            for (cap_id, cap_key), amount in cap_usage(action, ctx, policy).items():
                journal.record_event(
                    "cap_usage", caps_scope, {"cap": cap_id, "key": cap_key, "amount": amount,
                                              "decision_key": key},
                    ts, key=f"{key}:cap:{cap_id}:{cap_key}",
                )  # fmt: skip
        elif decision.verdict is Verdict.NEEDS_APPROVAL and (account is None or account.shared):
            expires = ts + timedelta(minutes=policy.approvals.expiry_minutes)
            journal.record_event(
                "approval_requested", APPROVALS,
                {"decision_key": key, "run_id": run_id, "expires_at": expires.isoformat(),
                 "summary": decision.explain()},
                ts, key=f"{key}:approval",
            )  # fmt: skip
    return record


def record_equity(
    journal: JournalRepository, strategy_id: str, ts: datetime, equity: float
) -> None:
    """An equity mark (one per strategy and timestamp)."""
    key = f"equity:{strategy_id}:{ts.isoformat()}"
    journal.record_event("equity", strategy_scope(strategy_id), {"equity": equity}, ts, key=key)


def record_cash_flow(
    journal: JournalRepository,
    kind: str,
    amount: float,
    balance_before: float,
    ts: datetime,
    operator: str,
    note: str = "",
) -> None:
    """A deposit or withdrawal with the balance before and after (bookkeeping)."""
    if kind not in ("deposit", "withdraw"):
        raise ValueError(f"cash flow kind {kind!r} is not deposit or withdraw")
    if not amount > 0 or (kind == "withdraw" and amount > balance_before):
        raise DrydockError(
            f"A {kind} of {amount!r} with a balance of {balance_before:,.2f} is not possible; "
            "pass a positive amount (a withdrawal no larger than the balance)."
        )
    after = balance_before + amount if kind == "deposit" else balance_before - amount
    detail = {"amount": amount, "before": balance_before, "after": after, "operator": operator,
              "note": note}  # fmt: skip
    journal.record_event(kind, ACCOUNT, detail, ts)


def record_trade_closed(
    journal: JournalRepository, strategy_id: str, symbol: str, pnl: float, ts: datetime, key: str
) -> None:
    journal.record_event(
        "trade_closed", strategy_scope(strategy_id), {"symbol": symbol, "pnl": pnl}, ts, key=key
    )


def record_execution(
    journal: JournalRepository, strategy_id: str, ok: bool, ts: datetime, key: str
) -> None:
    journal.record_event("execution", strategy_scope(strategy_id), {"ok": ok}, ts, key=key)


def trip_breaker(
    journal: JournalRepository, strategy_id: str | None, rules: list[str], ts: datetime, key: str
) -> bool:
    scope = GLOBAL if strategy_id is None else strategy_scope(strategy_id)
    return journal.record_event("breaker_trip", scope, {"rules": rules}, ts, key=key)


def reset_breaker(
    journal: JournalRepository, strategy_id: str | None, operator: str, reason: str, ts: datetime,
    scope: str | None = None,
) -> None:  # fmt: skip
    """The only way a tripped breaker clears: an operator's journaled reset with a reason (of a
    strategy's live account, the global breaker, or the given account ``scope``)."""
    if not reason.strip():
        raise DrydockError("A breaker reset needs a reason (--reason 'what was checked').")
    if scope is None:
        scope = GLOBAL if strategy_id is None else strategy_scope(strategy_id)
    journal.record_event("breaker_reset", scope, {"operator": operator, "reason": reason}, ts)


def set_paused(
    journal: JournalRepository, strategy_id: str, paused: bool, operator: str, ts: datetime
) -> None:
    kind = "pause" if paused else "resume"
    journal.record_event(kind, strategy_scope(strategy_id), {"operator": operator}, ts)


def kill_journaled(journal: JournalRepository) -> bool:
    """Whether the last global ``kill``/``resume`` in the journal is a kill, whenever it was.

    The kill file stops the runners of the host that has it; with one journal shared by runners
    on several hosts (PostgreSQL), the journaled kill stops them all. It is current state, like
    the file: only ``drydock live resume`` (a journaled ``resume``) releases it.
    """
    return _latest(journal.events_of(("kill", "resume"), (GLOBAL,)), "kill", "resume")


def is_paused(journal: JournalRepository, strategy_id: str, now: datetime) -> bool:
    """Whether the operator's last pause/resume of ``strategy_id`` before ``now`` was a pause."""
    scope = strategy_scope(strategy_id)
    return _latest(journal.events_of(("pause", "resume"), (scope,), None, now), "pause", "resume")


# ---- approvals ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Approval:
    """One approval request and where it stands at ``now``."""

    decision_key: str
    run_id: str
    requested_at: datetime
    expires_at: datetime
    status: str  # pending, approved, rejected, expired
    summary: str
    operator: str = ""
    reason: str = ""


def approvals(journal: JournalRepository, now: datetime) -> list[Approval]:
    """Every approval request with its status at ``now`` (oldest first)."""
    events = journal.events_of(("approval_requested", "approval_granted", "approval_rejected"))
    outcome: dict[str, EventRecord] = {}
    for event in events:
        if event.kind != "approval_requested":
            outcome.setdefault(str(event.detail["decision_key"]), event)
    out = []
    for event in events:
        if event.kind != "approval_requested":
            continue
        key = str(event.detail["decision_key"])
        expires = datetime.fromisoformat(str(event.detail["expires_at"]))
        done = outcome.get(key)
        if done is not None:
            status = "approved" if done.kind == "approval_granted" else "rejected"
        else:
            status = "expired" if now >= expires else "pending"
        out.append(
            Approval(
                key, str(event.detail["run_id"]), event.ts, expires, status,
                str(event.detail.get("summary", "")),
                "" if done is None else str(done.detail.get("operator", "")),
                "" if done is None else str(done.detail.get("reason", "")),
            )
        )  # fmt: skip
    return out


def _decide_approval(
    journal: JournalRepository, key: str, granted: bool, operator: str, reason: str, now: datetime
) -> Approval:
    with journal.transaction():
        found = {a.decision_key: a for a in approvals(journal, now)}.get(key)
        if found is None:
            raise ApprovalError(
                f"No approval request for {key!r}; list them with `drydock live approvals`."
            )
        wanted = "approved" if granted else "rejected"
        if found.status == wanted:
            return found  # idempotent: approving twice changes nothing
        if found.status != "pending":
            raise ApprovalError(
                f"Approval {key!r} is {found.status} (since {found.expires_at.isoformat()} "
                f"if expired); it can no longer be {wanted}. The action must be decided anew."
            )
        kind = "approval_granted" if granted else "approval_rejected"
        journal.record_event(
            kind, APPROVALS, {"decision_key": key, "operator": operator, "reason": reason},
            now, key=f"{key}:decided",
        )  # fmt: skip
    return {a.decision_key: a for a in approvals(journal, now)}[key]


def approve(
    journal: JournalRepository, key: str, operator: str, reason: str, now: datetime
) -> Approval:
    """Approve a pending action (journaled); expired or rejected ones stay refused."""
    return _decide_approval(journal, key, True, operator, reason, now)


def reject(
    journal: JournalRepository, key: str, operator: str, reason: str, now: datetime
) -> Approval:
    """Reject a pending action (journaled); it can never be approved afterwards."""
    return _decide_approval(journal, key, False, operator, reason, now)


def is_approved(journal: JournalRepository, key: str, now: datetime) -> bool:
    """Whether an operator approved ``key``'s action (an approval granted before its expiry)."""
    return any(a.decision_key == key and a.status == "approved" for a in approvals(journal, now))


# ---- reading: the context ----------------------------------------------------------------------


def rolling_usage(
    journal: JournalRepository, policy: Policy, now: datetime, scope: str = CAPS
) -> dict[tuple[str, str], float]:
    """Per (cap id, key), the amount allowed actions used inside each cap's window (in the
    wallet-wide ``caps`` scope, or a simulated account's own)."""
    caps = policy.transaction.rolling_caps
    if not caps:
        return {}
    widest = max(cap.window_hours for cap in caps)
    events = journal.events_of(("cap_usage",), (scope,), now - timedelta(hours=widest), now)
    windows = {cap.id: now - timedelta(hours=cap.window_hours) for cap in caps}
    out: dict[tuple[str, str], float] = {}
    for event in events:
        cap_id = str(event.detail["cap"])
        start = windows.get(cap_id)
        if start is None or event.ts <= start:  # a cap since removed, or outside its window
            continue
        key = (cap_id, str(event.detail["key"]))
        out[key] = out.get(key, 0.0) + float(event.detail["amount"])
    return out


def high_water(marks_and_flows: list[EventRecord], equity_now: float) -> float:
    """The high-water mark over equity marks, adjusted for deposits and withdrawals, in order."""
    peak = 0.0
    for event in marks_and_flows:
        if event.kind == "equity":
            peak = mark_high_water(peak, float(event.detail["equity"]))
        elif event.kind == "deposit":
            peak = deposit_high_water(peak, float(event.detail["amount"]))
        elif event.kind == "withdraw":
            before, after = float(event.detail["before"]), float(event.detail["after"])
            peak = withdraw_high_water(peak, before, after)
    return mark_high_water(peak, equity_now)


def daily_window_start(policy: Policy, now: datetime) -> datetime:
    """Start of the daily-loss window: UTC midnight or 24 h ago."""
    if policy.risk.daily_loss_window == "rolling_24h":
        return now - timedelta(hours=24)
    day = now.astimezone(UTC)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def daily_pnl(
    marks_and_flows: list[EventRecord], start: datetime, equity_now: float
) -> tuple[float, float]:
    """(PnL since ``start``, equity at ``start``): equity now minus the last mark at or before
    the start (or the first mark after it), minus net deposits since; flows are not PnL."""
    base: float | None = None
    flows = 0.0
    for event in marks_and_flows:
        if event.kind == "equity" and (event.ts <= start or base is None):
            base = float(event.detail["equity"])
        elif event.ts > start and event.kind in ("deposit", "withdraw"):
            sign = 1.0 if event.kind == "deposit" else -1.0
            flows += sign * float(event.detail["amount"])
    if base is None:
        return 0.0, 0.0
    return equity_now - base - flows, base


def _latest(events: list[EventRecord], on: str, off: str) -> bool:
    state = False
    for event in events:
        if event.kind in (on, off):
            state = event.kind == on
    return state


def build_context(
    journal: JournalRepository,
    *,
    strategy_id: str,
    policy: Policy,
    now: datetime,
    equity: float,
    positions: Mapping[str, float] | None = None,
    prices: Mapping[str, float] | None = None,
    kill_file_present: bool = False,
    operator_approved: bool = False,
    trades_today: int | None = None,
    account: Account | None = None,
) -> PolicyContext:
    """Every stateful counter of the context rebuilt from the journal at ``now`` for ``account``
    (default: the strategy's live account); the caller passes what the venue knows (equity,
    positions, prices, the kill file)."""
    account = account or live_account(strategy_id)
    scope = account.scope
    flows = (scope, ACCOUNT) if account.shared else (scope,)
    history = journal.events_of(("equity", "deposit", "withdraw"), flows, None, now)
    start = daily_window_start(policy, now)
    pnl, base = daily_pnl(history, start, equity)
    trades = journal.events_of(("trade_closed",), (scope,), None, now)[-TRADE_HISTORY:]
    wins = tuple(float(t.detail["pnl"]) > 0 for t in trades)
    losses = 0
    for won in reversed(wins):
        if won:
            break
        losses += 1
    closes: dict[str, datetime] = {}
    for trade in trades:
        closes[str(trade.detail["symbol"])] = trade.ts
    executions = journal.events_of(("execution",), (scope,), None, now)
    failures = 0
    for event in reversed(executions):
        if event.detail.get("ok"):
            break
        failures += 1
    breaker_scopes = (scope, GLOBAL) if account.operator else (scope,)
    breaker = journal.events_of(("breaker_trip", "breaker_reset"), breaker_scopes, None, now)
    tripped = any(_latest([e for e in breaker if e.scope == s], "breaker_trip", "breaker_reset")
                  for s in breaker_scopes)  # fmt: skip
    paused = account.operator and is_paused(journal, strategy_id, now)
    held = {k: abs(v) for k, v in (positions or {}).items() if v}
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    run_id = account.run_id
    if trades_today is None:  # orders since the UTC day began (the daily trade count)
        trades_today = journal.orders_between(strategy_id, midnight - _TICK, now, run_id)
    return PolicyContext(
        now=now,
        kill_file_present=kill_file_present or kill_journaled(journal),
        paused=paused,
        position_notional_usd=held,
        open_positions=len(held),
        trades_today=trades_today,
        equity_usd=equity,
        equity_high_water_usd=high_water(history, equity),
        consecutive_losses=losses,
        consecutive_failures=failures,
        breaker_tripped=tripped,
        prices_usd=dict(prices or {}),
        rolling_usage=rolling_usage(journal, policy, now, account.caps_scope),
        daily_pnl_usd=pnl,
        day_start_equity_usd=base,
        orders_last_minute=journal.orders_between(
            strategy_id, now - timedelta(minutes=1), now, run_id
        ),
        last_close_at=closes,
        recent_trade_wins=wins,
        operator_approved=operator_approved,
    )


def state_summary(ctx: PolicyContext) -> dict[str, Any]:
    """The rebuilt counters as a JSON-ready mapping (for `drydock live state`)."""
    return {
        "paused": ctx.paused,
        "breaker_tripped": ctx.breaker_tripped,
        "equity_usd": ctx.equity_usd,
        "equity_high_water_usd": ctx.equity_high_water_usd,
        "drawdown_pct": round(ctx.drawdown_pct, 4),
        "daily_pnl_usd": ctx.daily_pnl_usd,
        "day_start_equity_usd": ctx.day_start_equity_usd,
        "consecutive_losses": ctx.consecutive_losses,
        "consecutive_failures": ctx.consecutive_failures,
        "orders_last_minute": ctx.orders_last_minute,
        "trades_today": ctx.trades_today,
        "rolling_usage": {f"{c}:{k}": v for (c, k), v in ctx.rolling_usage.items()},
    }
