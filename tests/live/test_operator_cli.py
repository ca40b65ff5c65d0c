"""Operator commands end to end on a real journal: approvals, decisions, pause, breaker reset,
cash flows, state; every command journaled with who and why."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from drydock.cli import build_app, main
from drydock.policy import evaluate, parse_policy
from drydock.settings import Settings
from drydock.types import Action, Side, Verdict
from live import policy_state as state
from live.journal import RunRecord, SqliteJournal


def run(*args: str) -> Any:
    result = CliRunner().invoke(build_app(), ["live", *args], env={"COLUMNS": "250"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def held_order(settings: Settings, key: str = "big-1") -> None:
    """A decision held for approval, journaled as a runner would."""
    policy = parse_policy({"version": "a", "approvals": {"above_notional_usd": 1_000.0}})
    action = Action(kind="order", venue="binance", symbol="BTC/USDT", side=Side.BUY,
                    quantity=0.1, price=60_000.0, strategy_id="s1")  # fmt: skip
    now = datetime.now(UTC)
    with SqliteJournal(settings.journal_path) as journal:
        journal.start_run(RunRecord("r1", "s1", {}, "live", "binance", "BTC/USDT", "1h", "a", "h"))
        ctx = state.build_context(journal, strategy_id="s1", policy=policy, now=now, equity=1e5)
        decision = evaluate(action, ctx, policy)
        assert decision.verdict is Verdict.NEEDS_APPROVAL
        state.record_decision(journal, "r1", key, now, action, decision, policy, ctx)


def test_approve_flow_and_decisions(settings: Settings) -> None:
    held_order(settings)
    pending = [json.loads(line) for line in run("approvals", "--json").output.splitlines()]
    assert [(p["decision_key"], p["status"]) for p in pending] == [("big-1", "pending")]
    out = run("approve", "big-1", "--reason", "checked size", "--operator", "alice").output
    assert "big-1: approved by alice" in out
    assert run("approvals", "--json").output.strip() == ""  # nothing pending any more
    listed = [json.loads(line) for line in run("approvals", "--all", "--json").output.splitlines()]
    assert (listed[0]["status"], listed[0]["reason"]) == ("approved", "checked size")
    decisions = [json.loads(line) for line in run("decisions", "--json").output.splitlines()]
    assert decisions[0]["verdict"] == "needs_approval"
    assert [v["rule_id"] for v in decisions[0]["violations"]] == ["approval.required"]
    assert len(decisions[0]["policy_hash"]) == 64
    table = run("decisions", "--run", "r1").output
    assert "needs_approval" in table and "approval.required" in table


def test_rejecting_an_approved_action_is_one_error_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    held_order(settings)
    run("approve", "big-1", "--operator", "alice")
    monkeypatch.setattr(sys, "argv", ["drydock", "live", "reject", "big-1"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "is approved" in err and "Traceback" not in err


def test_pause_breaker_reset_cash_flows_and_state(settings: Settings) -> None:
    run("pause", "s1", "--operator", "bob")
    assert json.loads(run("state", "s1", "--equity", "1000").output)["paused"] is True
    run("unpause", "s1", "--operator", "bob")
    assert json.loads(run("state", "s1", "--equity", "1000").output)["paused"] is False
    with SqliteJournal(settings.journal_path) as journal:
        state.trip_breaker(journal, "s1", ["circuit_breakers.max_drawdown"], datetime.now(UTC), "t")
    assert json.loads(run("state", "s1", "--equity", "1000").output)["breaker_tripped"] is True
    run("reset-breaker", "--strategy", "s1", "--reason", "drawdown reviewed", "--operator", "bob")
    after = json.loads(run("state", "s1", "--equity", "1000").output)
    assert after["breaker_tripped"] is False
    run("deposit", "500", "--balance", "1000", "--note", "top-up", "--operator", "carol")
    with SqliteJournal(settings.journal_path) as journal:
        kinds = [(e.kind, e.detail.get("operator")) for e in journal.events_of(
            ("pause", "resume", "breaker_reset", "deposit"))]  # fmt: skip
    assert kinds == [("pause", "bob"), ("resume", "bob"), ("breaker_reset", "bob"),
                     ("deposit", "carol")]  # fmt: skip


def test_verify_command(settings: Settings) -> None:
    held_order(settings)
    assert "journal intact" in run("verify").output
    import sqlite3

    raw = sqlite3.connect(settings.journal_path)
    raw.execute("DROP TRIGGER decisions_no_update")
    raw.execute("UPDATE decisions SET verdict = 'allow'")
    raw.commit()
    result = CliRunner().invoke(build_app(), ["live", "verify"], env={"COLUMNS": "250"})
    assert result.exit_code == 1 and "decisions row 1 was modified" in result.output
