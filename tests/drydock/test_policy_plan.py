"""The compiled rule plan decides exactly as the engine's layer functions, violation for violation.

``evaluate`` runs a policy's compiled :class:`~drydock.policy._plan.RulePlan`;
``evaluate_layers`` runs every layer function of ``LAYERS`` (the uncompiled definition). Both
must return equal decisions (verdict, hash, every violation's rule id, severity, message and
suggestion) on the oracle's generated policies, actions and contexts (malformed ones included),
on transfer-rule policies with every rolling-cap scope, and on the benchmark's 50-rule book.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drydock.policy import Policy, PolicyContext, evaluate, parse_policy
from drydock.policy import _plan as plan_module
from drydock.policy._build import critical, decision
from drydock.policy._engine import evaluate_layers
from drydock.types import Action, PolicyDecision, Severity, Side, Verdict, Violation
from tests.drydock.test_policy_oracle import (
    CORRUPTIONS,
    action_data,
    context_data,
    corrupt,
    policy_data,
    random_action,
    random_context,
)

NOW = datetime(2025, 6, 1, tzinfo=UTC)
TREASURY = "0x" + "7e" * 20
OTHER = "0x" + "ab" * 20
WALLET = "0x" + "11" * 20


def same(action: Action, ctx: PolicyContext, policy: Policy) -> PolicyDecision:
    compiled = evaluate(action, ctx, policy)
    assert compiled == evaluate_layers(action, ctx, policy), (action, ctx)
    return compiled


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_data(), st.integers(0, 2**32 - 1))
def test_plan_equals_the_layers_in_bulk(data: dict[str, Any], seed: int) -> None:
    """150 drawn policies x 30 seeded actions and contexts, plus 10 corrupted actions each."""
    policy, rng = parse_policy(data), random.Random(seed)
    for _ in range(30):
        same(Action(**random_action(rng)), PolicyContext(**random_context(rng)), policy)
    for _ in range(10):
        name, bad = rng.choice(CORRUPTIONS)
        broken = corrupt(random_action(rng), name, bad)
        same(Action(**broken), PolicyContext(**random_context(rng)), policy)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_data(), action_data(), context_data())
def test_plan_equals_the_layers(data: dict[str, Any], a: dict[str, Any], c: dict[str, Any]) -> None:
    same(Action(**a), PolicyContext(**c), parse_policy(data))


@st.composite
def transfer_policies(draw: st.DrawFn) -> Policy:
    """Transfer rules and rolling caps over every scope and unit, sometimes with keys."""
    caps = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.sampled_from(["a", "b", "c"]),
                    "scope": st.sampled_from(
                        ["wallet", "strategy", "asset", "destination", "total"]
                    ),
                    "max": st.sampled_from([1_000.0, 20_000.0, 60_000.0]),
                },
                optional={
                    "unit": st.sampled_from(["usd", "USDC", "ETH"]),
                    "keys": st.lists(
                        st.sampled_from([TREASURY, WALLET, "treasury", "USDC", "BTC", "*"]),
                        unique=True,
                        max_size=2,
                    ),
                },
            ),
            max_size=3,
            unique_by=lambda cap: cap["id"],
        )
    )
    transfers = draw(
        st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "destination_allowlist": st.lists(st.sampled_from([TREASURY, OTHER]), unique=True),
                "max_amount": st.dictionaries(
                    st.sampled_from(["USDC", "ETH"]), st.sampled_from([10.0, 5_000.0]), max_size=2
                ),
                "max_usd": st.sampled_from([100.0, 10_000.0]),
            },
        )
    )
    transaction: dict[str, Any] = {"rolling_caps": caps}
    if transfers is not None:
        transaction["transfers"] = transfers
    grants = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "strategy": st.sampled_from(["*", "treasury"]),
                    "actions": st.lists(
                        st.sampled_from(["transfer", "withdraw", "deposit", "order"]),
                        min_size=1,
                        unique=True,
                    ),
                },
                optional={"max_notional_usd": st.sampled_from([1_000.0, 50_000.0])},
            ),
            max_size=2,
        )
    )
    approvals = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "above_notional_usd": st.sampled_from([500.0, 30_000.0]),
                "kinds": st.lists(st.sampled_from(["withdraw", "deposit"]), unique=True),
            },
        )
    )
    return parse_policy(
        {
            "version": "moves",
            "system": {"kill_switch": draw(st.booleans())},
            "session": {"grants": grants},
            "transaction": transaction,
            "approvals": approvals,
        }
    )


moves = st.builds(
    Action,
    kind=st.sampled_from(["transfer", "withdraw", "deposit", "order"]),
    venue=st.just(""),
    symbol=st.just(""),
    token=st.sampled_from(["USDC", "ETH", "WBTC"]),
    quantity=st.sampled_from([1.0, 50.0, 25_000.0]),
    price=st.sampled_from([0.0, 0.0, 1.0, 3_000.0]),
    to=st.sampled_from([TREASURY, OTHER, ""]),
    wallet=st.sampled_from([WALLET, ""]),
    strategy_id=st.sampled_from(["treasury", "other"]),
)
move_contexts = st.builds(
    PolicyContext,
    now=st.just(NOW),
    kill_file_present=st.booleans(),
    paused=st.booleans(),
    operator_approved=st.booleans(),
    prices_usd=st.dictionaries(
        st.sampled_from(["USDC", "ETH"]), st.sampled_from([1.0, 3_000.0]), max_size=2
    ),
    rolling_usage=st.dictionaries(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([TREASURY, WALLET, "treasury", "USDC", "ETH", "*", ""]),
        ),
        st.sampled_from([0.0, 500.0, 19_999.0, 59_000.0]),
        max_size=4,
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transfer_policies(), moves, move_contexts)
def test_plan_equals_the_layers_on_moves(
    policy: Policy, action: Action, ctx: PolicyContext
) -> None:
    """Transfers, withdrawals and deposits: allowlist, per-action caps, prices, rolling caps."""
    same(action, ctx, policy)


def test_plan_equals_the_layers_on_the_benchmark_book() -> None:
    from benchmarks.policy import BOOK, cases

    policy = parse_policy(BOOK)
    verdicts = {same(a, c, policy).verdict for a, c in cases(5_000)}
    assert verdicts == {Verdict.ALLOW, Verdict.DENY}


def test_switches_exits_and_approvals() -> None:
    """The plan's short cuts: emergency stop, kill switch and exits, approvals by kind."""
    entry = Action(
        kind="order", venue="binance", symbol="BTC/USDT", side=Side.BUY, quantity=1.0, price=100.0
    )
    exit_ = Action(
        kind="order",
        venue="binance",
        symbol="BTC/USDT",
        side=Side.SELL,
        quantity=1.0,
        price=100.0,
        reduces_position=True,
    )
    held = PolicyContext(now=NOW, position_notional_usd={"BTC/USDT": 150.0})
    for sections in (
        {"system": {"emergency_stop": True}},
        {"system": {"kill_switch": True}},
        {"approvals": {"kinds": ["order"]}},
        {"approvals": {"above_notional_usd": 50}},
        {"risk": {"max_order_notional_usd": 10}},
    ):
        policy = parse_policy({"version": "t", **sections})
        for action in (entry, exit_):
            for ctx in (held, PolicyContext(now=NOW), PolicyContext(operator_approved=True)):
                same(action, ctx, policy)


def test_repeated_evaluation_is_deterministic_and_the_plan_is_cached() -> None:
    from benchmarks.policy import BOOK, cases

    policy = parse_policy(BOOK)
    batch = cases(500)
    first = [evaluate(a, c, policy) for a, c in batch]
    assert [evaluate(a, c, policy) for a, c in batch] == first
    twin = parse_policy(BOOK)  # equal rules, one plan
    assert plan_module.plan_for(twin) is plan_module.plan_for(policy)
    assert [evaluate(a, c, twin) for a, c in batch] == first


def test_plans_are_bounded() -> None:
    for i in range(plan_module.MAX_PLANS + 5):
        plan_module.plan_for(parse_policy({"version": f"v{i}"}))
    assert len(plan_module.PLANS) <= plan_module.MAX_PLANS


def test_fast_builders_equal_the_dataclasses() -> None:
    built = critical("risk.x", "risk", "message", "suggestion")
    plain = Violation("risk.x", "risk", Severity.CRITICAL, "message", "suggestion")
    assert built == plain and hash(built) == hash(plain) and repr(built) == repr(plain)
    made = decision(Verdict.DENY, "h", (built,))
    assert made == PolicyDecision(Verdict.DENY, "h", (plain,))
    assert repr(made) == repr(PolicyDecision(Verdict.DENY, "h", (plain,)))


def test_a_replaced_layer_list_is_honoured(monkeypatch: Any) -> None:
    """With LAYERS replaced (as a test adding a layer does), evaluate runs the layer functions."""
    from drydock.policy import _engine

    def advisory(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
        return [Violation("risk.advisory", "risk", Severity.WARNING, "look", "")]

    monkeypatch.setattr(_engine, "LAYERS", (("advisory", advisory), *_engine.LAYERS))
    action = Action(
        kind="order", venue="binance", symbol="BTC/USDT", side=Side.BUY, quantity=1.0, price=1.0
    )
    decided = evaluate(
        action, PolicyContext(now=NOW - timedelta(0)), parse_policy({"version": "t"})
    )
    assert [v.rule_id for v in decided.violations] == ["risk.advisory"]


def test_remembered_denials_print_their_own_values() -> None:
    """A plan remembers denials by the values their messages print; inputs that compare equal
    but print differently (one instant in two UTC offsets, zeros of either sign, 1 and 1.0 as a
    strategy id) must not share a remembered denial."""
    policy = parse_policy(
        {
            "version": "memo",
            "session": {"grants": [{"strategy": "s", "max_notional_usd": 50}]},
            "risk": {
                "cooldown_minutes": 60,
                "max_concentration_pct": 50,
                "max_risk_per_trade_pct": 1,
                "max_daily_loss_pct": 5,
            },
        }
    )
    plus_two = timezone(timedelta(hours=2))
    closes = [NOW - timedelta(minutes=10), (NOW - timedelta(minutes=10)).astimezone(plus_two)]
    entry = Action(
        kind="order",
        venue="binance",
        symbol="BTC/USDT",
        side=Side.BUY,
        quantity=0.1,
        price=100.0,
        stop_price=90.0,
        strategy_id="s",
    )
    for _ in range(2):  # the second pass is served from memory
        for closed in closes:
            for now in (NOW, None):
                same(entry, PolicyContext(now=now, last_close_at={"BTC/USDT": closed}), policy)
        for zero in (0.0, -0.0, 0):
            same(entry, PolicyContext(now=NOW, equity_usd=zero, day_start_equity_usd=zero), policy)
            same(entry, PolicyContext(now=NOW, daily_pnl_usd=zero, equity_usd=100.0), policy)
        for strategy in (1, 1.0, True, "1"):
            stranger = replace(entry, strategy_id=strategy)
            same(stranger, PolicyContext(now=NOW), policy)
            same(stranger, PolicyContext(now=NOW, paused=True), policy)
