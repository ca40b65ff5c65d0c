"""Property tests of the policy engine over random policies, actions and account states."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from drydock.policy import Policy, PolicyContext, evaluate, parse_policy
from drydock.types import Action, Side, Verdict

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
VENUES = ["binance", "kraken"]
money = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
limit = st.none() | st.floats(min_value=1, max_value=1e6, allow_nan=False)
count = st.none() | st.integers(min_value=1, max_value=50)


@st.composite
def policies(draw: st.DrawFn, **overrides: dict[str, Any]) -> Policy:
    """A random valid policy; ``overrides`` fix fields per section (a strategy value is drawn)."""
    data: dict[str, Any] = {
        "version": draw(st.from_regex(r"[0-9a-z.]{1,8}", fullmatch=True)),
        "system": {
            "kill_switch": draw(st.booleans()),
            "blocked_venues": draw(st.lists(st.sampled_from(VENUES), max_size=1)),
            "blocked_symbols": draw(st.lists(st.sampled_from(SYMBOLS), max_size=1)),
        },
        "risk": {
            "symbol_whitelist": draw(
                st.none() | st.lists(st.sampled_from(SYMBOLS), max_size=3, unique=True)
            ),
            "max_order_notional_usd": draw(limit),
            "max_position_notional_usd": draw(limit),
            "max_leverage": draw(st.none() | st.floats(min_value=1, max_value=20)),
            "max_daily_trades": draw(count),
            "max_concurrent_positions": draw(count),
        },
        "circuit_breakers": {
            "max_drawdown_pct": draw(st.none() | st.floats(min_value=0.1, max_value=100)),
            "max_consecutive_losses": draw(count),
            "max_consecutive_failures": draw(count),
        },
    }
    for section, values in overrides.items():
        drawn = {k: draw(v) if isinstance(v, st.SearchStrategy) else v for k, v in values.items()}
        data[section] = {**data.get(section, {}), **drawn}
    risk = data["risk"]
    order, position = risk["max_order_notional_usd"], risk["max_position_notional_usd"]
    if order is not None and position is not None and order > position:
        risk["max_position_notional_usd"] = order  # the schema requires position >= order cap
    return parse_policy(data)


def action_strategy(reduces: st.SearchStrategy[bool] = st.booleans()) -> st.SearchStrategy[Action]:
    """Random actions; ``reduces`` fixes whether they reduce a position."""
    return st.builds(
        Action,
        kind=st.sampled_from(["order", "order", "order", "swap", "transfer"]),
        venue=st.sampled_from(VENUES),
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from([Side.BUY, Side.SELL]),
        quantity=st.floats(min_value=1e-3, max_value=10),
        price=st.floats(min_value=1, max_value=1e6),
        leverage=st.floats(min_value=0.5, max_value=30),
        strategy_id=st.just("s"),
        reduces_position=reduces,
    )


actions = action_strategy()
entries = action_strategy(st.just(False))

contexts = st.builds(
    PolicyContext,
    kill_file_present=st.booleans(),
    position_notional_usd=st.dictionaries(st.sampled_from(SYMBOLS), money, max_size=3),
    open_positions=st.integers(0, 60),
    trades_today=st.integers(0, 60),
    equity_usd=money,
    equity_high_water_usd=money,
    consecutive_losses=st.integers(0, 60),
    consecutive_failures=st.integers(0, 60),
    breaker_tripped=st.booleans(),
)


@settings(max_examples=300)
@given(policies(), actions, contexts)
def test_decision_shape_hash_and_determinism(
    policy: Policy, action: Action, ctx: PolicyContext
) -> None:
    decision = evaluate(action, ctx, policy)
    assert decision.policy_hash == policy.content_hash
    assert (decision.verdict is Verdict.DENY) == bool(decision.violations)
    assert len({v.layer for v in decision.violations}) <= 1  # first denying layer only
    assert all(
        v.rule_id.startswith(v.layer + ".") and v.message and v.suggestion
        for v in decision.violations
    )
    assert evaluate(action, ctx, policy) == decision
    reloaded = parse_policy(json.loads(policy.canonical_json()))
    assert reloaded.content_hash == policy.content_hash
    assert evaluate(action, ctx, reloaded) == decision


@given(
    policies(risk={"max_order_notional_usd": st.floats(1, 1e6)}),
    entries,
    contexts,
    st.floats(min_value=0.01, max_value=1e7),
)
def test_order_over_max_order_notional_is_always_denied(
    policy: Policy, action: Action, ctx: PolicyContext, excess: float
) -> None:
    """Every entry above the cap is denied (the notional is built above it, never filtered)."""
    cap = policy.risk.max_order_notional_usd
    assert cap is not None and not action.reduces_position  # guaranteed by the strategies
    over = replace(action, quantity=1.0, price=cap + excess)
    decision = evaluate(over, ctx, policy)
    assert decision.verdict is Verdict.DENY
    if decision.violations[0].layer == "risk":  # unless an earlier layer denied first
        assert "risk.max_order_notional" in {v.rule_id for v in decision.violations}


@given(policies(system={"kill_switch": True}), entries, contexts)
def test_kill_switch_denies_every_non_reducing_action(
    policy: Policy, action: Action, ctx: PolicyContext
) -> None:
    decision = evaluate(action, ctx, policy)
    assert decision.verdict is Verdict.DENY
    assert "system.kill_switch" in [v.rule_id for v in decision.violations]


@given(policies(), entries, contexts)
def test_kill_file_denies_every_non_reducing_action(
    policy: Policy, action: Action, ctx: PolicyContext
) -> None:
    ctx = replace(ctx, kill_file_present=True)
    decision = evaluate(action, ctx, policy)
    assert decision.verdict is Verdict.DENY
    assert "system.kill_file" in [v.rule_id for v in decision.violations]


@given(policies(system={"blocked_venues": [], "blocked_symbols": []}), actions, contexts)
def test_exits_always_pass_breakers_and_position_limits(
    policy: Policy, action: Action, ctx: PolicyContext
) -> None:
    """An order exit within the held notional is allowed whatever the breaker or risk state."""
    held = {action.symbol: action.notional_usd + 1.0}
    ctx = replace(ctx, position_notional_usd=held)
    exit_ = replace(action, kind="order", reduces_position=True)
    assert evaluate(exit_, ctx, policy).allowed


@given(policies(), actions, contexts)
def test_unknown_kinds_are_always_denied(
    policy: Policy, action: Action, ctx: PolicyContext
) -> None:
    odd = replace(action, kind="swap")
    decision = evaluate(odd, ctx, policy)
    assert "system.unsupported_action" in [v.rule_id for v in decision.violations]
