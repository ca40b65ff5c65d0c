"""Policy state rebuilt from the journal: caps, high-water mark, daily loss, breakers, pause and
approvals survive a restart (a new journal object on the same SQLite file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drydock.errors import DrydockError
from drydock.policy import Policy, evaluate, parse_policy
from drydock.types import Action, Side, Verdict
from live import policy_state as state
from live.journal import RunRecord, SqliteJournal

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)  # a Monday
WALLET = "0x" + "11" * 20
TREASURY = "0x" + "22" * 20
RUN = "run-1"


def journal_at(path: Path) -> SqliteJournal:
    journal = SqliteJournal(path)
    journal.start_run(RunRecord(RUN, "s1", {}, "live", "binance", "BTC/USDT", "1h", "v", "h"))
    return journal


def transfer(amount: float) -> Action:
    return Action(kind="transfer", venue="", token="USDC", quantity=amount, price=1.0,
                  to=TREASURY, wallet=WALLET, strategy_id="s1")  # fmt: skip


def buy(notional: float = 1_000.0) -> Action:
    return Action(kind="order", venue="binance", symbol="BTC/USDT", side=Side.BUY,
                  quantity=notional / 50_000, price=50_000.0, strategy_id="s1")  # fmt: skip


def sell(notional: float = 1_000.0) -> Action:
    return Action(kind="order", venue="binance", symbol="BTC/USDT", side=Side.SELL,
                  quantity=notional / 50_000, price=50_000.0, strategy_id="s1",
                  reduces_position=True)  # fmt: skip


CAPPED = parse_policy(
    {
        "version": "caps",
        "transaction": {
            "transfers": {"destination_allowlist": [TREASURY]},
            "rolling_caps": [{"id": "wallet-24h", "scope": "wallet", "max": 10_000.0}],
        },
    }
)


def decide(journal: SqliteJournal, key: str, action: Action, now: datetime, policy: Policy,
           **ctx: Any) -> Verdict:  # fmt: skip
    context = state.build_context(journal, strategy_id="s1", policy=policy, now=now,
                                  equity=ctx.pop("equity", 10_000.0), **ctx)  # fmt: skip
    decision = evaluate(action, context, policy)
    state.record_decision(journal, RUN, key, now, action, decision, policy, context)
    return decision.verdict


def test_a_restart_keeps_the_rolling_cap(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = journal_at(path)
    assert decide(journal, "t1", transfer(9_000.0), T0, CAPPED) is Verdict.ALLOW  # 90% used
    journal.close()
    journal = journal_at(path)  # the process restarted
    later = T0 + timedelta(hours=3)
    ctx = state.build_context(journal, strategy_id="s1", policy=CAPPED, now=later, equity=1e4)
    assert ctx.rolling_usage == {("wallet-24h", WALLET): 9_000.0}
    assert decide(journal, "t2", transfer(2_000.0), later, CAPPED) is Verdict.DENY  # 20%
    assert decide(journal, "t3", transfer(500.0), later, CAPPED) is Verdict.ALLOW  # 5%
    # A denied action adds nothing; the allowed 5% does.
    again = state.build_context(journal, strategy_id="s1", policy=CAPPED, now=later, equity=1e4)
    assert again.rolling_usage == {("wallet-24h", WALLET): 9_500.0}
    # Once the first spend leaves the 24 h window, the 20% fits again.
    after = T0 + timedelta(hours=24, seconds=1)
    assert decide(journal, "t4", transfer(2_000.0), after, CAPPED) is Verdict.ALLOW


def test_cap_usage_is_written_with_its_decision_or_not_at_all(tmp_path: Path) -> None:
    journal = journal_at(tmp_path / "journal.db")
    ctx = state.build_context(journal, strategy_id="s1", policy=CAPPED, now=T0, equity=1e4)
    decision = evaluate(transfer(4_000.0), ctx, CAPPED)

    class Crash(Exception):
        pass

    with pytest.raises(Crash), journal.transaction():  # crash right after both writes
        state.record_decision(journal, RUN, "k", T0, transfer(4_000.0), decision, CAPPED, ctx)
        raise Crash
    assert journal.decision("k") is None
    assert journal.events_of(("cap_usage",)) == []
    state.record_decision(journal, RUN, "k", T0, transfer(4_000.0), decision, CAPPED, ctx)
    state.record_decision(journal, RUN, "k", T0, transfer(4_000.0), decision, CAPPED, ctx)  # rerun
    assert [e.detail["amount"] for e in journal.events_of(("cap_usage",))] == [4_000.0]


def test_high_water_mark_across_a_week_with_deposits_and_withdrawals(tmp_path: Path) -> None:
    journal = journal_at(tmp_path / "journal.db")
    day = timedelta(days=1)
    state.record_equity(journal, "s1", T0, 10_000.0)  # Mon: peak 10,000
    state.record_equity(journal, "s1", T0 + day, 11_000.0)  # Tue: peak 11,000
    state.record_cash_flow(journal, "deposit", 5_000.0, 11_000.0, T0 + day * 1.5, "ops")
    state.record_equity(journal, "s1", T0 + day * 2, 15_400.0)  # Wed: 16,000 peak, -3.75%
    state.record_cash_flow(journal, "withdraw", 7_700.0, 15_400.0, T0 + day * 3, "ops")
    state.record_equity(journal, "s1", T0 + day * 4, 7_700.0)  # Fri: peak 16,000 x 0.5
    ctx = state.build_context(journal, strategy_id="s1", policy=CAPPED, now=T0 + day * 4,
                              equity=7_700.0)  # fmt: skip
    assert ctx.equity_high_water_usd == pytest.approx(8_000.0)
    assert ctx.drawdown_pct == pytest.approx(3.75)  # the withdrawal neither tripped nor hid it
    breaker = parse_policy({"version": "b", "circuit_breakers": {"max_drawdown_pct": 3.5}})
    assert evaluate(buy(), ctx, breaker).verdict is Verdict.DENY
    with pytest.raises(DrydockError, match="withdrawal no larger than the balance"):
        state.record_cash_flow(journal, "withdraw", 1e9, 7_700.0, T0 + day * 5, "ops")


@settings(max_examples=60, deadline=None)
@given(
    flows=st.lists(
        st.tuples(st.sampled_from(["deposit", "withdraw"]), st.floats(0.01, 0.9)), max_size=6
    ),
    drop=st.floats(0.0, 0.5),
)
def test_deposits_and_withdrawals_alone_never_change_the_drawdown(
    tmp_path_factory: pytest.TempPathFactory, flows: list[tuple[str, float]], drop: float
) -> None:
    journal = journal_at(tmp_path_factory.mktemp("hwm") / "journal.db")
    peak, equity, ts = 10_000.0, 10_000.0 * (1 - drop), T0
    state.record_equity(journal, "s1", ts, peak)
    state.record_equity(journal, "s1", ts + timedelta(seconds=1), equity)
    gap = peak - equity  # the drawdown in USD
    for i, (kind, share) in enumerate(flows):
        amount = equity * share
        state.record_cash_flow(journal, kind, amount, equity, ts + timedelta(minutes=i + 1), "q")
        if kind == "deposit":  # the peak rises 1:1: the USD drawdown is unchanged
            equity += amount
        else:  # the peak scales with the balance: the percent drawdown is unchanged
            gap *= (equity - amount) / equity
            equity -= amount
        state.record_equity(journal, "s1", ts + timedelta(minutes=i + 1, seconds=1), equity)
    ctx = state.build_context(journal, strategy_id="s1", policy=CAPPED,
                              now=ts + timedelta(hours=1), equity=equity)  # fmt: skip
    assert ctx.equity_high_water_usd - ctx.equity_usd == pytest.approx(gap, rel=1e-9, abs=1e-6)
    if all(kind == "withdraw" for kind, _ in flows):
        assert ctx.drawdown_pct == pytest.approx(drop * 100, abs=1e-6)
    journal.close()


@pytest.mark.parametrize(
    ("window", "now", "expected_pnl"),
    [
        ("utc_day", datetime(2025, 3, 4, 10, tzinfo=UTC), -900.0),  # since Tue 00:00 (10,300)
        ("rolling_24h", datetime(2025, 3, 4, 10, tzinfo=UTC), -600.0),  # since Mon 10:00 (10,000)
    ],
)
def test_daily_loss_utc_day_versus_rolling(
    tmp_path: Path, window: str, now: datetime, expected_pnl: float
) -> None:
    journal = journal_at(tmp_path / "journal.db")
    state.record_equity(journal, "s1", datetime(2025, 3, 3, 10, tzinfo=UTC), 10_000.0)
    state.record_equity(journal, "s1", datetime(2025, 3, 4, 0, tzinfo=UTC), 10_300.0)
    state.record_cash_flow(journal, "deposit", 1_000.0, 10_300.0,
                           datetime(2025, 3, 4, 5, tzinfo=UTC), "ops")  # fmt: skip
    policy = parse_policy({"version": "d", "risk": {"max_daily_loss_usd": 800.0,
                                                    "daily_loss_window": window}})  # fmt: skip
    # Equity now 10,400 after the 1,000 deposit: the deposit is not PnL.
    ctx = state.build_context(journal, strategy_id="s1", policy=policy, now=now, equity=10_400.0)
    assert ctx.daily_pnl_usd == pytest.approx(expected_pnl)
    verdict = evaluate(buy(), ctx, policy).verdict
    assert verdict is (Verdict.DENY if -expected_pnl >= 800 else Verdict.ALLOW)


def test_loss_breaker_survives_a_restart_until_an_operator_resets_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = journal_at(path)
    policy = parse_policy({"version": "b", "circuit_breakers": {"max_consecutive_losses": 2}})
    for i, pnl in enumerate([50.0, -10.0, -20.0]):
        state.record_trade_closed(journal, "s1", "BTC/USDT", pnl, T0 + timedelta(hours=i), f"t{i}")
    ctx = state.build_context(journal, strategy_id="s1", policy=policy, now=T0 + timedelta(hours=3), equity=1e4)  # fmt: skip
    assert (ctx.consecutive_losses, ctx.recent_trade_wins) == (2, (True, False, False))
    decision = evaluate(buy(), ctx, policy)
    assert decision.verdict is Verdict.DENY
    state.trip_breaker(journal, "s1", ["circuit_breakers.max_consecutive_losses"], T0, "trip-1")
    state.record_trade_closed(journal, "s1", "BTC/USDT", 30.0, T0 + timedelta(hours=4), "t3")
    journal.close()
    journal = journal_at(path)  # restart: a win ended the streak, but the latch holds
    now = T0 + timedelta(hours=5)
    ctx = state.build_context(journal, strategy_id="s1", policy=policy, now=now, equity=1e4)
    assert ctx.consecutive_losses == 0 and ctx.breaker_tripped
    assert [v.rule_id for v in evaluate(buy(), ctx, policy).violations] == [
        "circuit_breakers.tripped"
    ]
    assert evaluate(sell(), ctx.__class__(**{**_fields(ctx), "position_notional_usd": {"BTC/USDT": 5e3}}), policy).allowed  # fmt: skip
    with pytest.raises(DrydockError, match="needs a reason"):
        state.reset_breaker(journal, "s1", "alice", " ", now)
    state.reset_breaker(journal, "s1", "alice", "reviewed the losing trades", now)
    ctx = state.build_context(journal, strategy_id="s1", policy=policy, now=now, equity=1e4)
    assert not ctx.breaker_tripped and evaluate(buy(), ctx, policy).allowed
    resets = journal.events_of(("breaker_reset",))
    assert resets[0].detail == {"operator": "alice", "reason": "reviewed the losing trades"}


def _fields(ctx: Any) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(ctx, f.name) for f in fields(ctx) if f.init}


def test_pause_blocks_entries_not_exits_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = journal_at(path)
    state.set_paused(journal, "s1", True, "alice", T0)
    journal.close()
    journal = journal_at(path)
    policy = parse_policy({"version": "p"})
    ctx = state.build_context(journal, strategy_id="s1", policy=policy, now=T0, equity=1e4,
                              positions={"BTC/USDT": 5_000.0})  # fmt: skip
    assert ctx.paused
    assert [v.rule_id for v in evaluate(buy(), ctx, policy).violations] == ["session.paused"]
    assert evaluate(sell(), ctx, policy).allowed
    state.set_paused(journal, "s1", False, "alice", T0 + timedelta(minutes=1))
    ctx = state.build_context(journal, strategy_id="s1", policy=policy, now=T0 + timedelta(minutes=1), equity=1e4)  # fmt: skip
    assert not ctx.paused


APPROVING = parse_policy({"version": "a", "approvals": {"above_notional_usd": 5_000.0,
                                                       "expiry_minutes": 30}})  # fmt: skip


def test_approval_flow(tmp_path: Path) -> None:
    journal = journal_at(tmp_path / "journal.db")
    assert decide(journal, "big", buy(8_000.0), T0, APPROVING) is Verdict.NEEDS_APPROVAL
    [pending] = state.approvals(journal, T0 + timedelta(minutes=1))
    assert (pending.status, pending.expires_at) == ("pending", T0 + timedelta(minutes=30))
    assert not state.is_approved(journal, "big", T0)
    done = state.approve(journal, "big", "alice", "sized right", T0 + timedelta(minutes=5))
    again = state.approve(journal, "big", "alice", "twice", T0 + timedelta(minutes=6))
    assert done.status == again.status == "approved" and again.reason == "sized right"
    assert len(journal.events_of(("approval_granted",))) == 1  # idempotent
    assert state.is_approved(journal, "big", T0 + timedelta(minutes=10))
    # Re-evaluated with the approval: every other rule still applies at that moment.
    ctx = state.build_context(journal, strategy_id="s1", policy=APPROVING,
                              now=T0 + timedelta(minutes=10), equity=1e4, operator_approved=True)  # fmt: skip
    assert evaluate(buy(8_000.0), ctx, APPROVING).verdict is Verdict.ALLOW
    with pytest.raises(state.ApprovalError, match="is approved"):
        state.reject(journal, "big", "bob", "no", T0 + timedelta(minutes=11))


def test_rejected_and_expired_approvals_stay_refused(tmp_path: Path) -> None:
    journal = journal_at(tmp_path / "journal.db")
    decide(journal, "a1", buy(6_000.0), T0, APPROVING)
    decide(journal, "a2", buy(7_000.0), T0, APPROVING)
    state.reject(journal, "a1", "bob", "too big", T0 + timedelta(minutes=1))
    with pytest.raises(state.ApprovalError, match="is rejected"):
        state.approve(journal, "a1", "alice", "", T0 + timedelta(minutes=2))
    late = T0 + timedelta(minutes=31)
    assert {a.decision_key: a.status for a in state.approvals(journal, late)} == {
        "a1": "rejected",
        "a2": "expired",
    }
    with pytest.raises(state.ApprovalError, match="is expired"):
        state.approve(journal, "a2", "alice", "", late)
    with pytest.raises(state.ApprovalError, match="No approval request"):
        state.approve(journal, "nope", "alice", "", late)


def test_failure_streak_orders_per_minute_and_cooldown_from_the_journal(tmp_path: Path) -> None:
    from decimal import Decimal

    from drydock.types import Order

    journal = journal_at(tmp_path / "journal.db")
    for i, ok in enumerate([False, True, False, False]):
        state.record_execution(journal, "s1", ok, T0 + timedelta(seconds=i), f"e{i}")
    for i in range(3):
        journal.insert_order(RUN, Order(f"o{i}", "s1", "binance", "BTC/USDT", Side.BUY,
                                        Decimal("0.01"), Decimal("50000"), T0 + timedelta(seconds=10 * i)))  # fmt: skip
    state.record_trade_closed(journal, "s1", "BTC/USDT", -5.0, T0, "closed")
    policy = parse_policy({"version": "r", "risk": {"cooldown_minutes": 5.0,
                                                    "max_orders_per_minute": 3}})  # fmt: skip
    now = T0 + timedelta(seconds=30)
    ctx = state.build_context(journal, strategy_id="s1", policy=policy, now=now, equity=1e4)
    assert (ctx.consecutive_failures, ctx.orders_last_minute, ctx.trades_today) == (2, 3, 3)
    assert ctx.last_close_at == {"BTC/USDT": T0}
    assert [v.rule_id for v in evaluate(buy(), ctx, policy).violations] == [
        "risk.cooldown",
        "risk.max_orders_per_minute",
    ]
    later = state.build_context(journal, strategy_id="s1", policy=policy, now=T0 + timedelta(minutes=6), equity=1e4)  # fmt: skip
    assert evaluate(buy(), later, policy).allowed


def test_a_journaled_kill_is_in_force_until_a_journaled_resume(tmp_path: Path) -> None:
    """The venue path (EVM, Solana) reads the same kill as the runner: the last global
    kill/resume in the journal, whatever the kill file of this host says and whenever it was."""
    journal = journal_at(tmp_path / "journal.db")

    def killed() -> bool:
        ctx = state.build_context(journal, strategy_id="s1", policy=CAPPED, now=T0, equity=1e4)
        return ctx.kill_file_present

    assert not killed()
    journal.record_event("kill", "global", {"reason": "drill"}, T0 + timedelta(days=3))
    journal.record_event("kill", "s1", {"reason": "not global"}, T0)
    assert killed()  # a later wall-clock kill still applies to a decision at T0
    assert decide(journal, "k1", transfer(100.0), T0, CAPPED) is Verdict.DENY
    journal.record_event("resume", "global", {"reason": "checked"}, T0 + timedelta(days=4))
    assert not killed()
