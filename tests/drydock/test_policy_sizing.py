"""Risk sizing and cost rules: position floor, concentration, slippage against a quote, fees."""

from __future__ import annotations

import math
from typing import Any

import pytest

from drydock.errors import ConfigError
from drydock.policy import Policy, PolicyContext, evaluate, parse_policy
from drydock.types import Action, Side


def policy(**risk: Any) -> Policy:
    return parse_policy({"version": "sizing", "risk": risk})


def order(price: float = 100.0, quantity: float = 1.0, **kw: Any) -> Action:
    fields: dict[str, Any] = dict(
        kind="order", venue="binance", symbol="BTC/USDT", side=Side.BUY, quantity=quantity,
        price=price,
    )  # fmt: skip
    fields.update(kw)
    return Action(**fields)


def rules(action: Action, p: Policy, **ctx: Any) -> list[str]:
    return [v.rule_id for v in evaluate(action, PolicyContext(**ctx), p).violations]


def test_min_position_notional() -> None:
    p = policy(min_position_notional_usd=1_000)
    assert rules(order(999.0), p) == ["risk.min_position_notional"]
    assert rules(order(1_000.0), p) == []
    # topping up an existing position counts what is held
    assert rules(order(100.0), p, position_notional_usd={"BTC/USDT": 950.0}) == []


def test_max_concentration() -> None:
    p = policy(max_concentration_pct=20)
    assert rules(order(2_000.0), p, equity_usd=10_000.0) == []
    assert rules(order(2_000.01), p, equity_usd=10_000.0) == ["risk.max_concentration"]
    held = {"BTC/USDT": 1_500.0}
    assert rules(order(600.0), p, equity_usd=10_000.0, position_notional_usd=held) == [
        "risk.max_concentration"
    ]
    assert rules(order(1.0), p, equity_usd=0.0) == ["risk.max_concentration"]  # fail closed


@pytest.mark.parametrize(
    ("side", "price", "denied"),
    [
        (Side.BUY, 100.50, False),  # 50 bps worse: at the limit
        (Side.BUY, 100.51, True),
        (Side.BUY, 90.0, False),  # better than the quote
        (Side.SELL, 99.50, False),
        (Side.SELL, 99.49, True),
        (Side.SELL, 110.0, False),
    ],
)
def test_max_slippage_against_the_quote(side: Side, price: float, denied: bool) -> None:
    p = policy(max_slippage_bps=50.0)
    action = order(price, side=side, quoted_price=100.0)
    assert rules(action, p) == (["risk.max_slippage"] if denied else [])


def test_max_slippage_needs_a_quote() -> None:
    decision = evaluate(order(), PolicyContext(), policy(max_slippage_bps=50.0))
    assert [v.rule_id for v in decision.violations] == ["risk.max_slippage"]
    assert "no quoted price" in decision.violations[0].message


def test_max_fee() -> None:
    p = policy(max_fee_pct=0.5)
    assert rules(order(1_000.0, fee_usd=5.0), p) == []
    assert rules(order(1_000.0, fee_usd=5.01), p) == ["risk.max_fee"]
    assert rules(order(1_000.0), p) == []  # no fee given: zero


@pytest.mark.parametrize("field", ["quoted_price", "fee_usd"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_quote_and_fee_must_be_finite(field: str, bad: float) -> None:
    assert rules(order(**{field: bad}), policy()) == ["system.malformed_action"]


def test_exits_are_exempt() -> None:
    p = policy(max_slippage_bps=1, max_fee_pct=0.01, min_position_notional_usd=10_000)
    exit_ = order(50.0, side=Side.SELL, reduces_position=True, fee_usd=10.0)
    assert rules(exit_, p, position_notional_usd={"BTC/USDT": 100.0}) == []


def test_min_position_cannot_exceed_max_position() -> None:
    with pytest.raises(ConfigError, match=r"min_position_notional_usd .* is above"):
        policy(min_position_notional_usd=5_000, max_position_notional_usd=1_000)
