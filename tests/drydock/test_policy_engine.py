"""Hand-written cases for every rule of the policy engine, with exact rule ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from drydock.policy import Policy, PolicyContext, evaluate, parse_policy
from drydock.policy import _engine as engine
from drydock.policy._context import deposit_high_water, mark_high_water, withdraw_high_water
from drydock.policy._engine import LAYERS
from drydock.types import Action, Severity, Side, Verdict, Violation

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def policy(**sections: Any) -> Policy:
    return parse_policy({"version": "test", **sections})


def buy(notional: float = 100.0, **kw: Any) -> Action:
    fields: dict[str, Any] = dict(
        kind="order", venue="binance", symbol="BTC/USDT", side=Side.BUY, quantity=1.0,
        price=notional, strategy_id="ema_cross",
    )  # fmt: skip
    fields.update(kw)
    return Action(**fields)


def sell(notional: float = 100.0, **kw: Any) -> Action:
    return buy(notional, side=Side.SELL, reduces_position=True, **kw)


def ctx(**kw: Any) -> PolicyContext:
    return PolicyContext(now=NOW, **kw)


def rule_ids(action: Action, context: PolicyContext, p: Policy) -> list[str]:
    decision = evaluate(action, context, p)
    assert decision.policy_hash == p.content_hash
    critical = any(v.severity is Severity.CRITICAL for v in decision.violations)
    assert (decision.verdict is Verdict.DENY) == critical
    return [v.rule_id for v in decision.violations]


def test_layers_in_design_order() -> None:
    assert [name for name, _ in LAYERS] == [
        "system",
        "session",
        "transaction",
        "risk",
        "circuit_breakers",
    ]


def test_empty_policy_allows_an_order() -> None:
    decision = evaluate(buy(), ctx(), policy())
    assert decision.allowed
    assert decision.explain() == "allowed"


@pytest.mark.parametrize("kind", ["swap", "approve", "bridge", "ORDER", "", "Transfer"])
def test_unknown_action_kinds_are_denied(kind: str) -> None:
    assert rule_ids(buy(kind=kind), ctx(), policy()) == ["system.unsupported_action"]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (buy(float("nan")), ["system.malformed_action"]),
        (buy(-1.0), ["system.malformed_action"]),
        (buy(leverage=0.0), ["system.malformed_action"]),
        (buy(leverage=float("inf")), ["system.malformed_action"]),
    ],
)
def test_malformed_actions_are_denied(action: Action, expected: list[str]) -> None:
    assert rule_ids(action, ctx(), policy()) == expected


def test_system_rules() -> None:
    assert rule_ids(buy(), ctx(), policy(system={"kill_switch": True})) == ["system.kill_switch"]
    assert rule_ids(buy(), ctx(kill_file_present=True), policy()) == ["system.kill_file"]
    assert rule_ids(buy(), ctx(), policy(system={"emergency_stop": True})) == [
        "system.emergency_stop"
    ]
    assert rule_ids(buy(), ctx(), policy(system={"blocked_venues": ["BINANCE"]})) == [
        "system.blocked_venue"
    ]
    assert rule_ids(buy(), ctx(), policy(system={"blocked_symbols": ["btc/usdt"]})) == [
        "system.blocked_symbol"
    ]
    token = buy(token="usdc")
    assert rule_ids(token, ctx(), policy(system={"blocked_tokens": ["USDC"]})) == [
        "system.blocked_token"
    ]
    chain = buy(chain="solana")
    assert rule_ids(chain, ctx(), policy(system={"allowed_chains": ["ethereum"]})) == [
        "system.chain_not_allowed"
    ]
    assert (
        rule_ids(buy(chain="Ethereum"), ctx(), policy(system={"allowed_chains": ["ethereum"]}))
        == []
    )


def test_kill_switch_lets_exits_through_but_emergency_stop_does_not() -> None:
    held = ctx(kill_file_present=True, position_notional_usd={"BTC/USDT": 500.0})
    assert rule_ids(sell(500.0), held, policy(system={"kill_switch": True})) == []
    assert rule_ids(sell(500.0), held, policy(system={"emergency_stop": True})) == [
        "system.emergency_stop"
    ]
    assert rule_ids(sell(500.0), held, policy(system={"blocked_symbols": ["BTC/USDT"]})) == [
        "system.blocked_symbol"
    ]


def test_a_layer_reports_all_its_violations_in_rule_order() -> None:
    p = policy(system={"kill_switch": True, "blocked_venues": ["binance"]})
    decision = evaluate(buy(), ctx(kill_file_present=True), p)
    assert [v.rule_id for v in decision.violations] == [
        "system.kill_switch",
        "system.kill_file",
        "system.blocked_venue",
    ]
    assert all(v.layer == "system" and v.severity is Severity.CRITICAL for v in decision.violations)
    assert all(v.message and v.suggestion for v in decision.violations)
    assert "[system/system.kill_switch]" in decision.explain()


def test_first_denying_layer_wins() -> None:
    p = policy(system={"kill_switch": True}, risk={"max_order_notional_usd": 10})
    assert rule_ids(buy(1_000.0), ctx(breaker_tripped=True), p) == ["system.kill_switch"]
    p = policy(risk={"max_order_notional_usd": 10})
    assert rule_ids(buy(1_000.0), ctx(breaker_tripped=True), p) == ["risk.max_order_notional"]


def test_session_pause_blocks_entries_only() -> None:
    held = ctx(paused=True, position_notional_usd={"BTC/USDT": 100.0})
    assert rule_ids(buy(), held, policy()) == ["session.paused"]
    assert rule_ids(sell(), held, policy()) == []


GRANT = {
    "strategy": "ema_cross",
    "actions": ["order"],
    "venues": ["binance"],
    "symbols": ["BTC/USDT"],
    "max_notional_usd": 1000,
    "expires_at": "2024-12-31T00:00:00Z",
}


def test_session_grants() -> None:
    p = policy(session={"grants": [GRANT]})
    assert rule_ids(buy(), ctx(), p) == []
    assert rule_ids(buy(strategy_id="other"), ctx(), p) == ["session.no_grant"]
    assert rule_ids(buy(venue="kraken"), ctx(), p) == ["session.venue_not_granted"]
    assert rule_ids(buy(symbol="ETH/USDT"), ctx(), p) == ["session.symbol_not_granted"]
    assert rule_ids(buy(5_000.0), ctx(), p) == ["session.grant_notional"]
    late = PolicyContext(now=datetime(2025, 1, 1, tzinfo=UTC))
    assert rule_ids(buy(), late, p) == ["session.grant_expired"]
    assert rule_ids(buy(), PolicyContext(), p) == ["session.grant_expired"]  # no clock: deny


def test_session_any_matching_grant_suffices() -> None:
    wide = {"strategy": "*", "actions": ["order"], "symbols": ["ETH/USDT"]}
    p = policy(session={"grants": [GRANT, wide]})
    assert rule_ids(buy(symbol="ETH/USDT"), ctx(), p) == []
    assert rule_ids(buy(symbol="SOL/USDT"), ctx(), p) == ["session.symbol_not_granted"]


def test_risk_rules() -> None:
    assert rule_ids(
        buy(symbol="DOGE/USDT"), ctx(), policy(risk={"symbol_whitelist": ["BTC/USDT"]})
    ) == ["risk.symbol_not_whitelisted"]
    assert rule_ids(buy(1.0), ctx(), policy(risk={"min_order_notional_usd": 5})) == [
        "risk.min_order_notional"
    ]
    assert rule_ids(buy(1_000.01), ctx(), policy(risk={"max_order_notional_usd": 1000})) == [
        "risk.max_order_notional"
    ]
    assert rule_ids(buy(1_000.0), ctx(), policy(risk={"max_order_notional_usd": 1000})) == []
    held = ctx(position_notional_usd={"BTC/USDT": 900.0}, open_positions=1)
    assert rule_ids(buy(200.0), held, policy(risk={"max_position_notional_usd": 1000})) == [
        "risk.max_position_notional"
    ]
    assert rule_ids(buy(100.0), held, policy(risk={"max_position_notional_usd": 1000})) == []
    assert rule_ids(buy(leverage=3.0), ctx(), policy(risk={"max_leverage": 2})) == [
        "risk.max_leverage"
    ]
    assert rule_ids(buy(), ctx(trades_today=5), policy(risk={"max_daily_trades": 5})) == [
        "risk.max_daily_trades"
    ]
    assert rule_ids(buy(), ctx(trades_today=4), policy(risk={"max_daily_trades": 5})) == []


def test_max_concurrent_positions_counts_new_symbols_only() -> None:
    p = policy(risk={"max_concurrent_positions": 2})
    full = ctx(position_notional_usd={"BTC/USDT": 10.0, "ETH/USDT": 10.0}, open_positions=2)
    assert rule_ids(buy(symbol="SOL/USDT"), full, p) == ["risk.max_concurrent_positions"]
    assert rule_ids(buy(symbol="BTC/USDT"), full, p) == []  # adding to an open position


def test_exits_skip_risk_but_must_not_exceed_the_position() -> None:
    p = policy(risk={"max_order_notional_usd": 10, "symbol_whitelist": [], "max_daily_trades": 0})
    held = ctx(position_notional_usd={"BTC/USDT": 500.0}, trades_today=9)
    assert rule_ids(sell(500.0), held, p) == []
    assert rule_ids(sell(500.01), held, p) == ["risk.reduce_exceeds_position"]
    assert rule_ids(sell(1.0), ctx(), p) == ["risk.reduce_exceeds_position"]


def test_circuit_breakers() -> None:
    p = policy(
        circuit_breakers={
            "max_drawdown_pct": 20,
            "max_consecutive_losses": 3,
            "max_consecutive_failures": 2,
        }
    )
    assert rule_ids(buy(), ctx(equity_usd=8_000, equity_high_water_usd=10_000), p) == [
        "circuit_breakers.max_drawdown"
    ]
    assert rule_ids(buy(), ctx(equity_usd=8_001, equity_high_water_usd=10_000), p) == []
    assert rule_ids(buy(), ctx(consecutive_losses=3), p) == [
        "circuit_breakers.max_consecutive_losses"
    ]
    assert rule_ids(buy(), ctx(consecutive_failures=2), p) == [
        "circuit_breakers.max_consecutive_failures"
    ]
    assert rule_ids(buy(), ctx(breaker_tripped=True), policy()) == ["circuit_breakers.tripped"]


def test_breakers_never_block_exits() -> None:
    p = policy(circuit_breakers={"max_drawdown_pct": 1, "max_consecutive_losses": 1})
    state = ctx(
        equity_usd=1.0, equity_high_water_usd=100.0, consecutive_losses=9, breaker_tripped=True,
        position_notional_usd={"BTC/USDT": 100.0},
    )  # fmt: skip
    assert rule_ids(sell(100.0), state, p) == []


def test_drawdown_and_high_water_adjustments() -> None:
    assert ctx(equity_usd=75, equity_high_water_usd=100).drawdown_pct == pytest.approx(25.0)
    assert ctx(equity_usd=120, equity_high_water_usd=100).drawdown_pct == 0.0
    assert ctx(equity_usd=5).drawdown_pct == 0.0
    assert mark_high_water(100.0, 90.0) == 100.0
    assert mark_high_water(100.0, 110.0) == 110.0
    assert deposit_high_water(100.0, 50.0) == 150.0
    # 80 of 100 withdrawn at a peak of 120: the peak scales by 20/100 -> 24.
    assert withdraw_high_water(120.0, 100.0, 20.0) == pytest.approx(24.0)
    assert withdraw_high_water(120.0, 0.0, 0.0) == 120.0


def _advisory(action: Action, context: PolicyContext, p: Policy) -> list[Violation]:
    return [Violation("risk.advisory", "risk", Severity.WARNING, "large order", "split it")]


def test_warnings_never_deny_and_ride_along(monkeypatch: pytest.MonkeyPatch) -> None:
    """A warning-only layer leaves the verdict ALLOW; the warning is kept in the explanation."""
    monkeypatch.setattr(engine, "LAYERS", (("advisory", _advisory), *LAYERS))
    allowed = evaluate(buy(), ctx(), policy())
    assert allowed.verdict is Verdict.ALLOW
    assert [v.rule_id for v in allowed.violations] == ["risk.advisory"]
    assert allowed.explain() == "allowed with [risk/risk.advisory] large order (warning)"
    denied = evaluate(buy(), ctx(kill_file_present=True), policy())
    assert denied.verdict is Verdict.DENY
    assert [v.rule_id for v in denied.violations] == ["risk.advisory", "system.kill_file"]


def test_former_warning_rules_are_hard_caps() -> None:
    """Dust orders and the daily trade cap deny (they were warnings that denied anyway)."""
    for decision in (
        evaluate(buy(1.0), ctx(), policy(risk={"min_order_notional_usd": 5})),
        evaluate(buy(), ctx(trades_today=5), policy(risk={"max_daily_trades": 5})),
    ):
        assert decision.verdict is Verdict.DENY
        assert all(v.severity is Severity.CRITICAL for v in decision.violations)
