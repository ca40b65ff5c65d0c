"""Operator commands of ``drydock live``: approvals, decisions, pause, breaker reset, cash flows
and the rebuilt policy state. Every command is journaled with who (``--operator``, default the
``USER`` environment variable) and when."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

Operator = Annotated[str, typer.Option(help="Who runs the command (journaled; default: $USER).")]
Reason = Annotated[str, typer.Option(help="Why (journaled).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")]


def _operator(value: str) -> str:
    return value or os.environ.get("USER", "") or "unknown"


def _journal() -> Any:
    from live.journal import open_journal

    return open_journal()


def approvals_command(
    all_: Annotated[bool, typer.Option("--all", help="Also approved, rejected, expired.")] = False,
    as_json: AsJson = False,
) -> None:
    """List approval requests (pending by default) with their expiry."""
    from live.policy_state import approvals

    with _journal() as journal:
        rows = [a for a in approvals(journal, datetime.now(UTC)) if all_ or a.status == "pending"]
    if as_json:
        for a in rows:
            print(json.dumps(_approval_dict(a), sort_keys=True, default=str))
        return
    table = Table("decision", "status", "expires (UTC)", "why", "operator", title="approvals")
    for a in rows:
        table.add_row(
            a.decision_key, a.status, f"{a.expires_at:%Y-%m-%d %H:%M}", a.summary, a.operator
        )
    Console().print(table)


def _approval_dict(a: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(a)


def approve_command(
    decision: Annotated[
        str, typer.Argument(help="The decision key, see `drydock live approvals`.")
    ],
    reason: Reason = "",
    operator: Operator = "",
) -> None:
    """Approve a pending action; the runner re-checks every other rule before sending it."""
    from live.policy_state import approve

    with _journal() as journal:
        done = approve(journal, decision, _operator(operator), reason, datetime.now(UTC))
    Console().print(f"{done.decision_key}: {done.status} by {done.operator}")


def reject_command(
    decision: Annotated[
        str, typer.Argument(help="The decision key, see `drydock live approvals`.")
    ],
    reason: Reason = "",
    operator: Operator = "",
) -> None:
    """Reject a pending action; it can never be approved afterwards."""
    from live.policy_state import reject

    with _journal() as journal:
        done = reject(journal, decision, _operator(operator), reason, datetime.now(UTC))
    Console().print(f"{done.decision_key}: {done.status} by {done.operator}")


def decisions_command(
    run: Annotated[str | None, typer.Option(help="Only this run's decisions.")] = None,
    limit: Annotated[int, typer.Option(help="Latest N decisions (without --run).")] = 50,
    as_json: AsJson = False,
) -> None:
    """Policy decisions with their rule ids, severities, messages, suggestions and policy hash."""
    with _journal() as journal:
        records = journal.decisions(run) if run else journal.recent_decisions(limit)
    if as_json:
        for r in records:
            line = {"id": r.id, "decision_key": r.decision_key, "run_id": r.run_id,
                    "ts": r.ts.isoformat(), "verdict": r.verdict.value,
                    "policy_hash": r.policy_hash,
                    "violations": r.explanation.get("violations", [])}  # fmt: skip
            print(json.dumps(line, sort_keys=True, default=str))
        return
    table = Table("ts (UTC)", "run", "verdict", "rules", "message", "suggestion", "policy")
    for r in records:
        violations = r.explanation.get("violations", [])
        table.add_row(
            f"{r.ts:%Y-%m-%d %H:%M}", r.run_id, r.verdict.value,
            "\n".join(f"{v['rule_id']} ({v['severity']})" for v in violations),
            "\n".join(v["message"] for v in violations),
            "\n".join(v.get("suggestion", "") for v in violations), r.policy_hash[:12],
        )  # fmt: skip
    Console().print(table)


def pause_command(
    strategy: Annotated[str, typer.Argument(help="Strategy id to pause.")],
    operator: Operator = "",
) -> None:
    """Pause one strategy: its new entries are denied, exits still pass (journaled)."""
    from live.policy_state import set_paused

    with _journal() as journal:
        set_paused(journal, strategy, True, _operator(operator), datetime.now(UTC))
    Console().print(f"{strategy} paused")


def unpause_command(
    strategy: Annotated[str, typer.Argument(help="Strategy id to resume.")],
    operator: Operator = "",
) -> None:
    """Resume a paused strategy (journaled)."""
    from live.policy_state import set_paused

    with _journal() as journal:
        set_paused(journal, strategy, False, _operator(operator), datetime.now(UTC))
    Console().print(f"{strategy} resumed")


def reset_breaker_command(
    reason: Annotated[str, typer.Option(help="What was checked before resetting (required).")],
    strategy: Annotated[
        str | None, typer.Option(help="The strategy's breaker (default: the global one).")
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(help="A paper or dry-run runner's own breaker (its simulated account)."),
    ] = None,
    operator: Operator = "",
) -> None:
    """Clear a tripped circuit breaker: the only way it clears (journaled with the reason)."""
    from live.policy_state import reset_breaker, run_account

    with _journal() as journal:
        if run is not None:
            record = journal.run(run)
            if record is None:
                raise typer.BadParameter(f"no run {run!r} in the journal; see drydock status")
            scope = run_account(record.strategy_id, run, operator=True).scope
            reset_breaker(journal, None, _operator(operator), reason, datetime.now(UTC), scope)
        else:
            reset_breaker(journal, strategy, _operator(operator), reason, datetime.now(UTC))
    Console().print(f"breaker reset for {run or strategy or 'global'}")


def _cash_flow(kind: str, amount: float, balance: float, note: str, operator: str) -> None:
    from live.policy_state import record_cash_flow

    with _journal() as journal:
        record_cash_flow(
            journal, kind, amount, balance, datetime.now(UTC), _operator(operator), note
        )
    Console().print(f"{kind} of {amount:,.2f} journaled (balance {balance:,.2f} before)")


def deposit_command(
    amount: Annotated[float, typer.Argument(help="Amount in USD.")],
    balance: Annotated[float, typer.Option(help="Account balance before it, in USD.")],
    note: Annotated[str, typer.Option(help="Free text.")] = "",
    operator: Operator = "",
) -> None:
    """Journal a deposit: it raises the high-water mark 1:1 and is not PnL."""
    _cash_flow("deposit", amount, balance, note, operator)


def withdraw_command(
    amount: Annotated[float, typer.Argument(help="Amount in USD.")],
    balance: Annotated[float, typer.Option(help="Account balance before it, in USD.")],
    note: Annotated[str, typer.Option(help="Free text.")] = "",
    operator: Operator = "",
) -> None:
    """Journal a withdrawal: it scales the high-water mark by after/before and is not PnL."""
    _cash_flow("withdraw", amount, balance, note, operator)


def state_command(
    strategy: Annotated[str, typer.Argument(help="Strategy id.")],
    equity: Annotated[
        float | None,
        typer.Option(help="Current equity in USD (default with --run: its last journaled mark)."),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(help="A replay, paper or dry-run run: its own simulated account's state."),
    ] = None,
    at: Annotated[
        datetime | None,
        typer.Option(help="The moment to read the state at (default: now; a replay's bar time)."),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy TOML (default: the settings' default policy).")
    ] = None,
) -> None:
    """The policy counters rebuilt from the journal (what the next decision would read): the
    strategy's live account, or with --run a simulated run's own account."""
    from drydock.policy import load_policy
    from drydock.settings import get_settings
    from live.policy_state import build_context, live_account, run_account, state_summary

    rules = load_policy(policy or get_settings().policy_dir / "default.toml")
    now = (at if at.tzinfo else at.replace(tzinfo=UTC)) if at is not None else datetime.now(UTC)
    with _journal() as journal:
        if run is not None:
            record = journal.run(run)
            if record is None or record.strategy_id != strategy:
                raise typer.BadParameter(f"no run {run!r} of {strategy!r} in the journal")
            account = run_account(strategy, run, operator=record.mode != "paper-replay")
        else:
            account = live_account(strategy)
        if equity is None:
            marks = journal.events_of(("equity",), (account.scope,), None, now)
            if not marks:
                raise typer.BadParameter("no equity mark journaled for it yet: pass --equity")
            equity = float(marks[-1].detail["equity"])
        ctx = build_context(journal, strategy_id=strategy, policy=rules, now=now, equity=equity,
                            account=account)  # fmt: skip
    print(json.dumps(state_summary(ctx), sort_keys=True, indent=2))


def register_operator_commands(live: typer.Typer) -> None:
    """Add the operator commands to the ``live`` group."""
    live.command("approvals")(approvals_command)
    live.command("approve")(approve_command)
    live.command("reject")(reject_command)
    live.command("decisions")(decisions_command)
    live.command("pause")(pause_command)
    live.command("unpause")(unpause_command)
    live.command("reset-breaker")(reset_breaker_command)
    live.command("deposit")(deposit_command)
    live.command("withdraw")(withdraw_command)
    live.command("state")(state_command)
    live.command("verify")(verify_command)


def promote_command(
    run_id: Annotated[str, typer.Argument(help="MLflow run id of a backtest or simulation.")],
    min_sharpe: Annotated[float | None, typer.Option(help="Gate: minimum Sharpe.")] = 0.5,
    max_drawdown: Annotated[
        float | None, typer.Option(help="Gate: deepest drawdown as a fraction, e.g. 0.35.")
    ] = 0.35,
    min_trades: Annotated[int | None, typer.Option(help="Gate: minimum closed trades.")] = 20,
    policy: Annotated[
        Path | None, typer.Option(help="Policy TOML the runner will apply (hash recorded).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Promote despite a failing gate (journaled).")
    ] = False,
    reason: Reason = "",
    operator: Operator = "",
) -> None:
    """Register a run's configuration as strategy.<id>@champion if it passes the gate."""
    from live.promotion import Gate, promote

    gate = Gate(min_sharpe, max_drawdown, min_trades)
    done = promote(run_id, gate=gate, policy_file=policy, force=force,
                   operator=_operator(operator), reason=reason)  # fmt: skip
    forced = f" (FORCED past: {'; '.join(done.failures)})" if done.forced else ""
    Console().print(f"{done.name} version {done.version} is now @champion{forced}", soft_wrap=True)


def verify_command() -> None:
    """Check the journal's hash chain: exit 1 naming every edited, deleted or foreign row."""
    with _journal() as journal:
        problems = journal.verify()
        entries = journal.ledger_size()
    if problems:
        for problem in problems:
            Console().print(f"TAMPERED: {problem}", soft_wrap=True)
        raise typer.Exit(1)
    Console().print(f"journal intact: {entries} chained rows verified")
