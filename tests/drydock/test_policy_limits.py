"""Allow and deny cases for the transaction-layer caps, stateful risk limits, the win-rate breaker
and operator approvals (rule ids and verdicts asserted exactly)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drydock.errors import ConfigError
from drydock.policy import Policy, PolicyContext, evaluate, parse_policy
from drydock.policy._rolling import cap_usage
from drydock.types import Action, Side, Verdict

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
WALLET = "0x" + "11" * 20
FRIEND = "0x" + "22" * 20
STRANGER = "0x" + "33" * 20


def policy(**sections: Any) -> Policy:
    return parse_policy({"version": "test", **sections})


def ctx(**kw: Any) -> PolicyContext:
    return PolicyContext(now=NOW, **kw)


def buy(notional: float = 1_000.0, **kw: Any) -> Action:
    fields: dict[str, Any] = dict(
        kind="order", venue="binance", symbol="BTC/USDT", side=Side.BUY, quantity=0.01,
        price=notional / 0.01, strategy_id="s1",
    )  # fmt: skip
    fields.update(kw)
    return Action(**fields)


def transfer(amount: float = 100.0, *, to: str = FRIEND, price: float = 0.0, **kw: Any) -> Action:
    fields: dict[str, Any] = dict(
        kind="transfer", venue="", token="USDC", quantity=amount, price=price, to=to,
        wallet=WALLET, strategy_id="s1",
    )  # fmt: skip
    fields.update(kw)
    return Action(**fields)


def ids(action: Action, context: PolicyContext, p: Policy) -> list[str]:
    return [v.rule_id for v in evaluate(action, context, p).violations]


TRANSFERS = {"transfers": {"destination_allowlist": [FRIEND], "max_amount": {"usdc": 1_000.0}}}


def test_transfers_are_denied_without_rules_and_checked_with_them() -> None:
    assert ids(transfer(), ctx(), policy()) == ["transaction.transfers_not_configured"]
    p = policy(transaction=TRANSFERS)
    assert evaluate(transfer(), ctx(), p).allowed
    assert ids(transfer(to=STRANGER), ctx(), p) == ["transaction.destination_not_allowed"]
    assert ids(transfer(1_000.01), ctx(), p) == ["transaction.transfer_amount"]
    # The same rules bind a withdrawal.
    assert ids(transfer(kind="withdraw", to=STRANGER), ctx(), p) == [
        "transaction.destination_not_allowed"
    ]


def test_transfer_usd_cap_prices_from_the_action_or_the_context_and_fails_closed() -> None:
    p = policy(transaction={"transfers": {"max_usd": 500.0}})
    assert ids(transfer(100.0), ctx(), p) == ["transaction.unpriced_asset"]
    assert evaluate(transfer(100.0), ctx(prices_usd={"USDC": 1.0}), p).allowed
    assert ids(transfer(600.0, price=1.0), ctx(), p) == ["transaction.transfer_usd"]
    assert ids(transfer(600.0), ctx(prices_usd={"USDC": 0.9999}), p) == ["transaction.transfer_usd"]


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(transfer(to=""), id="no destination"),
        pytest.param(transfer(token=""), id="no token"),
        pytest.param(transfer(float("nan")), id="nan amount"),
        pytest.param(transfer(-5.0), id="negative amount"),
        pytest.param(transfer(to=" " + FRIEND), id="padded destination"),
        pytest.param(transfer(to=FRIEND[:-1] + "\u0662"), id="look-alike digit"),
        pytest.param(transfer(reduces_position=True), id="transfer posing as an exit"),
        pytest.param(transfer(price=float("inf")), id="inf price"),
    ],
)
def test_malformed_moves_are_denied(action: Action) -> None:
    p = policy(transaction=TRANSFERS)
    assert ids(action, ctx(), p) == ["system.malformed_action"]


def test_deposit_passes_the_kill_switch_but_not_the_emergency_stop() -> None:
    deposit = Action(kind="deposit", venue="binance", token="USDT", quantity=500.0)
    assert evaluate(deposit, ctx(), policy(system={"kill_switch": True})).allowed
    assert ids(deposit, ctx(), policy(system={"emergency_stop": True})) == ["system.emergency_stop"]
    assert ids(transfer(), ctx(), policy(system={"kill_switch": True}, transaction=TRANSFERS)) == [
        "system.kill_switch"
    ]


CAPS = {
    **TRANSFERS,
    "rolling_caps": [
        {"id": "wallet-usd", "scope": "wallet", "unit": "usd", "max": 1_000.0},
        {"id": "usdc-per-dest", "scope": "destination", "unit": "USDC", "max": 600.0},
    ],
}


def test_rolling_caps_count_what_was_used_in_the_window() -> None:
    p = policy(transaction=CAPS)
    prices = {"USDC": 1.0}
    # 90% of the wallet cap used: a 20% transfer is denied, a 5% one allowed.
    used = ctx(prices_usd=prices, rolling_usage={("wallet-usd", WALLET): 900.0})
    assert ids(transfer(200.0), used, p) == ["transaction.rolling_cap"]
    assert evaluate(transfer(50.0), used, p).allowed
    # Per-destination native cap: another destination has its own budget.
    dest = ctx(prices_usd=prices, rolling_usage={("usdc-per-dest", FRIEND): 550.0})
    assert ids(transfer(100.0), dest, p) == ["transaction.rolling_cap"]
    other = policy(transaction={**CAPS, "transfers": {"destination_allowlist": [FRIEND, STRANGER]}})
    assert evaluate(transfer(100.0, to=STRANGER), dest, other).allowed


def test_rolling_usd_cap_without_a_price_fails_closed() -> None:
    p = policy(transaction=CAPS)
    assert ids(transfer(10.0), ctx(), p) == ["transaction.unpriced_asset"]


def test_cap_usage_is_what_an_allowed_action_adds_per_cap_and_key() -> None:
    p = policy(transaction=CAPS)
    usage = cap_usage(transfer(250.0), ctx(prices_usd={"USDC": 1.0}), p)
    assert usage == {("wallet-usd", WALLET): 250.0, ("usdc-per-dest", FRIEND): 250.0}
    # Replaying the journaled usage reaches exactly the cap and no further.
    full = ctx(prices_usd={"USDC": 1.0}, rolling_usage={k: v * 2 for k, v in usage.items()})
    assert evaluate(transfer(100.0), full, p).allowed  # 500 + 100 <= 600 per dest, <= 1000 wallet
    assert ids(transfer(101.0), full, p) == ["transaction.rolling_cap"]


def test_rolling_caps_count_order_entries_but_not_exits() -> None:
    p = policy(transaction={"rolling_caps": [{"id": "turnover", "scope": "strategy", "max": 5e3}]})
    near = ctx(rolling_usage={("turnover", "s1"): 4_500.0}, position_notional_usd={"BTC/USDT": 1e4})
    assert ids(buy(1_000.0), near, p) == ["transaction.rolling_cap"]
    assert evaluate(buy(400.0), near, p).allowed
    exit_ = buy(1_000.0, side=Side.SELL, reduces_position=True)
    assert evaluate(exit_, near, p).allowed
    assert cap_usage(exit_, near, p) == {}
    assert cap_usage(buy(400.0), near, p) == {("turnover", "s1"): pytest.approx(400.0)}


def test_rolling_cap_keys_limit_which_scopes_it_covers() -> None:
    p = policy(
        transaction={
            **TRANSFERS,
            "rolling_caps": [{"id": "hot", "scope": "wallet", "max": 10.0, "keys": [STRANGER]}],
        }
    )
    assert evaluate(transfer(500.0), ctx(prices_usd={"USDC": 1.0}), p).allowed


def test_daily_loss_limit_in_usd_and_percent() -> None:
    p = policy(risk={"max_daily_loss_usd": 500.0})
    assert evaluate(buy(), ctx(daily_pnl_usd=-499.0), p).allowed
    assert ids(buy(), ctx(daily_pnl_usd=-500.0), p) == ["risk.max_daily_loss"]
    exit_ = buy(side=Side.SELL, reduces_position=True)
    held = {"BTC/USDT": 1e4}
    assert evaluate(exit_, ctx(daily_pnl_usd=-900.0, position_notional_usd=held), p).allowed
    pct = policy(risk={"max_daily_loss_pct": 2.0})
    assert evaluate(buy(), ctx(daily_pnl_usd=-199.0, day_start_equity_usd=10_000.0), pct).allowed
    assert ids(buy(), ctx(daily_pnl_usd=-200.0, day_start_equity_usd=10_000.0), pct) == [
        "risk.max_daily_loss"
    ]
    # No starting equity: fail closed rather than divide by zero.
    assert ids(buy(), ctx(daily_pnl_usd=0.0), pct) == ["risk.max_daily_loss"]
    assert ids(buy(), ctx(daily_pnl_usd=float("nan")), p) == ["system.malformed_context"]


def test_risk_per_trade_needs_a_stop_on_the_right_side() -> None:
    p = policy(risk={"max_risk_per_trade_pct": 1.0})
    equity = ctx(equity_usd=10_000.0)
    # 0.01 BTC at 100k with a stop at 95k risks 50 USD = 0.5% of equity.
    assert evaluate(buy(stop_price=95_000.0), equity, p).allowed
    assert ids(buy(stop_price=85_000.0), equity, p) == ["risk.risk_per_trade"]  # 150 USD, 1.5%
    assert ids(buy(), equity, p) == ["risk.risk_per_trade"]  # no stop
    assert ids(buy(stop_price=101_000.0), equity, p) == ["risk.risk_per_trade"]  # wrong side
    short = buy(side=Side.SELL, stop_price=99_000.0)
    assert ids(short, equity, p) == ["risk.risk_per_trade"]
    assert evaluate(buy(side=Side.SELL, stop_price=100_500.0), equity, p).allowed
    assert ids(buy(stop_price=float("nan")), equity, p) == ["system.malformed_action"]


def test_cooldown_after_a_close() -> None:
    p = policy(risk={"cooldown_minutes": 30.0})
    recent = {"BTC/USDT": NOW - timedelta(minutes=10)}
    assert ids(buy(), ctx(last_close_at=recent), p) == ["risk.cooldown"]
    assert evaluate(buy(), ctx(last_close_at={"BTC/USDT": NOW - timedelta(minutes=30)}), p).allowed
    assert evaluate(buy(symbol="ETH/USDT"), ctx(last_close_at=recent), p).allowed
    assert ids(buy(), PolicyContext(last_close_at=recent), p) == ["risk.cooldown"]  # no clock
    naive = {"BTC/USDT": datetime(2024, 6, 1)}
    assert ids(buy(), ctx(last_close_at=naive), p) == ["system.malformed_context"]


def test_orders_per_minute() -> None:
    p = policy(risk={"max_orders_per_minute": 3})
    assert evaluate(buy(), ctx(orders_last_minute=2), p).allowed
    assert ids(buy(), ctx(orders_last_minute=3), p) == ["risk.max_orders_per_minute"]


def test_win_rate_breaker_waits_for_a_full_window() -> None:
    p = policy(circuit_breakers={"min_win_rate_pct": 40.0, "win_rate_window": 5})
    assert evaluate(buy(), ctx(recent_trade_wins=(False,) * 4), p).allowed  # only 4 closed
    losing = (True, False, False, False, False)  # 20% over the last 5
    assert ids(buy(), ctx(recent_trade_wins=losing), p) == ["circuit_breakers.min_win_rate"]
    assert evaluate(buy(), ctx(recent_trade_wins=(True, True, *losing[1:4])), p).allowed  # 40%
    # Only the last window counts: old wins do not hide recent losses.
    assert ids(buy(), ctx(recent_trade_wins=(True,) * 10 + losing), p) == [
        "circuit_breakers.min_win_rate"
    ]


def test_breakers_do_not_block_money_moves() -> None:
    p = policy(circuit_breakers={"max_consecutive_losses": 2}, transaction=TRANSFERS)
    assert evaluate(transfer(), ctx(consecutive_losses=5), p).allowed
    assert ids(buy(), ctx(consecutive_losses=5), p) == ["circuit_breakers.max_consecutive_losses"]


def test_approvals_hold_large_or_listed_actions_until_an_operator_approves() -> None:
    p = policy(
        approvals={"above_notional_usd": 5_000.0, "kinds": ["withdraw"]}, transaction=TRANSFERS
    )
    assert evaluate(buy(5_000.0), ctx(), p).verdict is Verdict.ALLOW
    held = evaluate(buy(5_001.0), ctx(), p)
    assert held.verdict is Verdict.NEEDS_APPROVAL
    assert [v.rule_id for v in held.violations] == ["approval.required"]
    assert "approve" in held.violations[0].suggestion
    assert evaluate(buy(5_001.0), ctx(operator_approved=True), p).verdict is Verdict.ALLOW
    withdraw = transfer(10.0, kind="withdraw")
    assert evaluate(withdraw, ctx(), p).verdict is Verdict.NEEDS_APPROVAL
    # An approval never overrides a deny: the deny wins.
    bad = transfer(10.0, kind="withdraw", to=STRANGER)
    assert evaluate(bad, ctx(operator_approved=True), p).verdict is Verdict.DENY
    # An unpriced move above a threshold is held rather than waved through.
    assert evaluate(transfer(10.0), ctx(), p).verdict is Verdict.NEEDS_APPROVAL
    assert evaluate(transfer(10.0), ctx(prices_usd={"USDC": 1.0}), p).verdict is Verdict.ALLOW


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"transaction": {"rolling_caps": [{"id": "a", "scope": "wallet", "max": 1.0}] * 2}}, "unique"),
        ({"transaction": {"rolling_caps": [{"id": " a", "scope": "wallet", "max": 1.0}]}}, "padding"),
        ({"transaction": {"rolling_caps": [{"id": "a", "scope": "planet", "max": 1.0}]}}, "scope"),
        ({"transaction": {"rolling_caps": [{"id": "a", "scope": "total", "max": float("inf")}]}}, "max"),
        ({"transaction": {"rolling_caps": [{"id": "a", "scope": "total", "max": 1.0, "window_hours": 0}]}}, "window_hours"),
        ({"transaction": {"transfers": {"destination_allowlist": ["0xabc"]}}}, "destination_allowlist"),
        ({"transaction": {"transfers": {"max_amount": {"USDC": -1.0}}}}, "max_amount"),
        ({"approvals": {"kinds": ["swap"]}}, "unknown action kinds"),
        ({"risk": {"daily_loss_window": "weekly"}}, "daily_loss_window"),
        ({"risk": {"max_orders_per_minute": 0}}, "max_orders_per_minute"),
        ({"circuit_breakers": {"win_rate_window": 0}}, "win_rate_window"),
    ],
)  # fmt: skip
def test_new_sections_are_validated_at_load(sections: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        policy(**sections)


def test_cooldown_keys_are_canonicalized_like_positions() -> None:
    """Shrunk from the oracle: a lower-case close key ('eth/usdt') skipped the cooldown."""
    p = policy(risk={"cooldown_minutes": 2.0})
    recent = {"eth/usdt": NOW - timedelta(minutes=1), "ETH/USDT": NOW - timedelta(hours=5)}
    assert ids(buy(symbol="ETH/USDT"), ctx(last_close_at=recent), p) == ["risk.cooldown"]
    assert ids(buy(), ctx(last_close_at={"not a symbol": NOW}), p) == ["system.malformed_context"]


def test_effective_rules_flatten_new_sections_and_hide_unused_qualifiers() -> None:
    from drydock.policy._explain import effective_rules

    rows = dict(
        effective_rules(
            policy(
                risk={"symbol_whitelist": [], "max_daily_loss_pct": 3.0},
                transaction=CAPS,
                approvals={"above_notional_usd": 1e4},
            )
        )
    )
    assert rows["risk.symbol_whitelist"] == "[] (matches nothing)"
    assert rows["risk.daily_loss_window"] == "utc_day"  # qualifies a set limit: shown
    assert "circuit_breakers.win_rate_window" not in rows  # qualifies nothing set: hidden
    assert rows["transaction.rolling_caps[1].id"] == "usdc-per-dest"
    assert rows["transaction.rolling_caps[1].unit"] == "USDC"
    assert rows["transaction.transfers.max_amount.USDC"] == "1,000"
    assert rows["approvals.expiry_minutes"] == "60"
    assert rows["system.kill_switch"] == "false"
    assert rows["session.grants"].startswith("(none")


POLICIES = sorted((Path(__file__).parents[2] / "policies").glob("*.toml"))


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_every_bundled_policy_loads_and_passes_check(path: Path) -> None:
    from typer.testing import CliRunner

    from drydock.cli import build_app

    result = CliRunner().invoke(build_app(), ["policy", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid. content hash" in result.output


def test_spot_cex_policy_sizes_from_the_stop_and_holds_large_orders() -> None:
    from drydock.policy import load_policy

    p = load_policy(Path(__file__).parents[2] / "policies" / "spot_cex.toml")
    book = ctx(equity_usd=100_000.0, day_start_equity_usd=100_000.0)
    btc = {"price": 100_000.0, "quoted_price": 100_000.0}
    entry = buy(quantity=0.2, stop_price=95_000.0, **btc)  # 20k; the stop risks 1,000 = 1%
    assert evaluate(entry, book, p).verdict is Verdict.ALLOW
    assert ids(buy(quantity=0.2, **btc), book, p) == ["risk.risk_per_trade"]
    big = buy(quantity=0.3, stop_price=99_000.0, **btc)
    assert evaluate(big, book, p).verdict is Verdict.NEEDS_APPROVAL
    assert ids(entry, ctx(equity_usd=1e5, day_start_equity_usd=1e5, daily_pnl_usd=-3e3), p) == [
        "risk.max_daily_loss"
    ]
