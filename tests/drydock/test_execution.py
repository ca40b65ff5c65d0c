"""The one execution model: validation, shared float/Decimal formulas, target checks."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drydock.errors import ConfigError
from drydock.execution import (
    ExecutionModel,
    FillTiming,
    UnsupportedTargetError,
    below_min_notional,
    check_target,
    check_targets,
    round_down,
)

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("taker_fee", math.nan, "[0, 0.1)"),
        ("taker_fee", 0.2, "[0, 0.1)"),
        ("maker_fee", -0.001, "[0, 0.1)"),
        ("slippage_bps", math.inf, "[0, 1000)"),
        ("slippage_bps", -1, "[0, 1000)"),
        ("init_cash", 0, "(0, 1e+12)"),
        ("fixed_fee", -1, "[0, 1e+06)"),
        ("lot_size", 0, "[1e-12, 1e+09)"),
        ("lot_size", 1e-30, "[1e-12, 1e+09)"),  # Decimal lot rounding ran out of precision
        ("tick_size", math.nan, "[1e-12, 1e+09)"),
        ("min_notional", -5, "[0, 1e+12)"),
    ],
)
def test_every_bound_names_field_value_range_and_example(
    field: str, value: float, allowed: str
) -> None:
    with pytest.raises(ConfigError) as err:
        ExecutionModel(**{field: value})  # type: ignore[arg-type]
    message = str(err.value)
    assert f"{field}={value!r}" in message and allowed in message and "e.g." in message


def test_fill_timing_is_validated_and_normalised() -> None:
    assert ExecutionModel(fill="close").fill is FillTiming.CLOSE  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"fill='open'.*'next_open', 'close'"):
        ExecutionModel(fill="open")  # type: ignore[arg-type]


def test_params_and_overrides() -> None:
    model = ExecutionModel(lot_size=0.001, fixed_fee=1.0)
    assert model.overrides() == {"lot_size": 0.001}
    params = model.as_params()
    assert params["exec.taker_fee"] == "0.001" and params["exec.lot_size"] == "0.001"
    assert "exec.tick_size" not in params


def test_hand_computed_fill_fee_and_all_in_size() -> None:
    model = ExecutionModel(taker_fee=0.001, slippage_bps=5, fixed_fee=1.0)
    assert model.slipped_price(100.0, buy=True) == pytest.approx(100.05)
    assert model.slipped_price_dec(100, buy=False) == Decimal("99.95")
    # fee = 2 * 100.05 * 0.001 + 1 = 1.2001
    assert model.fee_of_dec(Decimal(2), Decimal("100.05")) == Decimal("1.2001")
    # (1000 - 1) / 1.001 / 100.05 = 9.9750... -> 9.975 in lots of 0.001
    assert model.all_in_qty_dec(Decimal(1000), Decimal("100.05"), Decimal("0.001")) == Decimal(
        "9.975"
    )
    assert model.all_in_qty(1000.0, 100.05, 0.001) == pytest.approx(9.975)
    assert model.all_in_qty(0.5, 100.05, 0.001) == 0.0  # the fixed fee eats the cash
    assert below_min_notional(Decimal("0.04"), Decimal("100"), 5)
    assert not below_min_notional(0.05, 100.0, 5)


def test_target_check_names_strategy_bar_value_and_what_is_supported() -> None:
    check_target("s", T0, 1.0)
    check_target("s", T0, 0.0)
    for bad in (-1.0, 0.5, math.nan, math.inf):
        with pytest.raises(UnsupportedTargetError) as err:
            check_target("s", T0, bad)
        assert str(err.value).startswith(
            f"Strategy 's' emitted target {bad!r} at bar 2024-03-01T12:00:00+00:00; supported"
        )
        assert "0 (flat) or 1 (all-in long)" in str(err.value)
    ts = [T0.replace(hour=h) for h in range(4)]
    with pytest.raises(UnsupportedTargetError, match=r"target -1.0 at bar 2024-03-01T02:00"):
        check_targets("s", ts, np.array([0.0, 1.0, -1.0, 2.0]))
    with pytest.raises(UnsupportedTargetError, match=r"target nan at bar 2024-03-01T01:00"):
        check_targets("s", ts, np.array([[0.0, 1.0], [1.0, np.nan], [0, 0], [1, 1]]))


fees = st.floats(0, 0.099, allow_nan=False)
bps = st.floats(0, 999, allow_nan=False)
prices = st.floats(1e-4, 1e6, allow_nan=False)
qtys = st.floats(1e-6, 1e4, allow_nan=False)
lots = st.sampled_from([Decimal("1"), Decimal("0.1"), Decimal("0.001"), Decimal("0.00001")])


@given(fee=fees, slip=bps, fixed=st.floats(0, 10), price=prices, qty=qtys)
def test_round_trip_at_an_unchanged_price_never_makes_money(
    fee: float, slip: float, fixed: float, price: float, qty: float
) -> None:
    model = ExecutionModel(taker_fee=fee, slippage_bps=slip, fixed_fee=fixed)
    q, p = Decimal(str(qty)), Decimal(str(price))
    buy = model.slipped_price_dec(p, buy=True)
    sell = model.slipped_price_dec(p, buy=False)
    cost = q * buy + model.fee_of_dec(q, buy)
    proceeds = q * sell - model.fee_of_dec(q, sell)
    assert proceeds <= cost
    assert model.fee_of_dec(q, buy) >= 0 and model.fee_of(qty, price) >= 0


@given(qty=qtys, lot=lots)
def test_lot_rounding_never_exceeds_the_request(qty: float, lot: Decimal) -> None:
    q = Decimal(str(qty))
    rounded = round_down(q, lot)
    assert 0 <= rounded <= q and q - rounded < lot
    assert rounded % lot == 0


@given(fee=fees, slip=bps, fixed=st.floats(0, 10), price=prices, qty=qtys, buy=st.booleans())
def test_decimal_and_float_formulas_agree(
    fee: float, slip: float, fixed: float, price: float, qty: float, buy: bool
) -> None:
    model = ExecutionModel(taker_fee=fee, slippage_bps=slip, fixed_fee=fixed)
    fill = model.slipped_price(price, buy)
    fill_dec = model.slipped_price_dec(price, buy)
    assert float(fill_dec) == pytest.approx(fill, rel=1e-9)
    assert float(model.fee_of_dec(Decimal(str(qty)), fill_dec)) == pytest.approx(
        model.fee_of(qty, fill), rel=1e-9, abs=1e-12
    )


@given(cash=st.floats(1, 1e7), fee=fees, fixed=st.floats(0, 5), price=prices, lot=lots)
def test_all_in_size_fits_cash_and_matches_between_float_and_decimal(
    cash: float, fee: float, fixed: float, price: float, lot: Decimal
) -> None:
    model = ExecutionModel(taker_fee=fee, fixed_fee=fixed)
    qty = model.all_in_qty_dec(Decimal(str(cash)), Decimal(str(price)), lot)
    if qty > 0:
        spent = qty * Decimal(str(price)) + model.fee_of_dec(qty, Decimal(str(price)))
        assert spent <= Decimal(str(cash)) * (1 + Decimal("1e-12"))
    flt = model.all_in_qty(cash, price, float(lot))
    # floats may land one lot apart only when the exact size sits on a lot boundary, and carry
    # float64's own representation error on huge quantities
    assert abs(flt - float(qty)) <= float(lot) * (1 + 1e-9) + 1e-12 * float(qty)
