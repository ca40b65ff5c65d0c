"""Resting orders against bars (drydock.matching): every rule with a hand-computed fill, and
invariants under random orders on real bars (spot never borrows or shorts; fills stay in range)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel
from drydock.matching import CancelOrder, OrderBook, OrderKind, PlaceOrder
from drydock.types import Bar, Side

T = datetime(2024, 1, 1, tzinfo=UTC)
FREE = ExecutionModel(init_cash=1_000.0, taker_fee=0.0, maker_fee=0.0, slippage_bps=0.0)
COSTS = ExecutionModel(init_cash=1_000.0, taker_fee=0.001, maker_fee=0.0002, slippage_bps=10.0)
BUY, SELL = Side.BUY, Side.SELL
LIMIT, STOP, MARKET = OrderKind.LIMIT, OrderKind.STOP, OrderKind.MARKET


def bar(o: float, h: float, lo: float, c: float) -> Bar:
    return Bar(T, o, h, lo, c, 1e6)


def book(
    execution: ExecutionModel = FREE, lot: float = 1e-8, min_notional: float = 0.0
) -> OrderBook:
    return OrderBook(execution, lot, min_notional)


def test_an_order_is_live_from_the_next_bar_and_a_market_order_fills_at_its_open() -> None:
    b = book(COSTS)
    b.place(PlaceOrder("m", BUY, MARKET, qty=1.0), bar=0)
    assert b.match(0, bar(100, 101, 99, 100)) == []  # placed at bar 0's close: not live at 0
    [fill] = b.match(1, bar(102, 103, 101, 102))
    assert fill.price == pytest.approx(102 * 1.001)  # taker: open plus 10 bps slippage
    assert fill.fee == pytest.approx(102 * 1.001 * 0.001)
    assert b.cash == pytest.approx(1000 - 102.102 - 0.102102)


def test_a_buy_limit_fills_at_its_price_on_a_touch_and_at_the_open_on_a_gap() -> None:
    b = book(COSTS)
    b.place(PlaceOrder("l", BUY, LIMIT, qty=1.0, price=95.0), bar=0)
    assert b.match(1, bar(100, 101, 95.01, 100)) == []  # 1 cent short of the limit
    [fill] = b.match(2, bar(100, 101, 95.0, 99))  # touch
    assert (fill.price, fill.fee) == (95.0, pytest.approx(95.0 * 0.0002))  # maker, no slippage
    b.place(PlaceOrder("gap", BUY, LIMIT, qty=1.0, price=95.0), bar=2)
    [gap] = b.match(3, bar(90, 92, 89, 91))
    assert gap.price == 90.0  # opened below the limit: the better open


def test_a_sell_stop_gapped_through_fills_at_the_worse_open_with_slippage() -> None:
    b = book(COSTS)
    b.place(PlaceOrder("in", BUY, MARKET, qty=2.0), bar=0)
    b.match(1, bar(100, 100, 100, 100))
    b.place(PlaceOrder("sl", SELL, STOP, qty=2.0, price=95.0), bar=1)
    [touch] = b.match(2, bar(97, 98, 94, 96))  # trades through 95 inside the bar
    assert touch.price == pytest.approx(95 * 0.999) and touch.qty == -2.0
    b.place(PlaceOrder("in2", BUY, MARKET, qty=1.0), bar=2)
    b.match(3, bar(96, 96, 96, 96))
    b.place(PlaceOrder("sl2", SELL, STOP, qty=1.0, price=95.0), bar=3)
    [gap] = b.match(4, bar(90, 91, 88, 89))
    assert gap.price == pytest.approx(90 * 0.999)


def test_a_buy_stop_triggers_on_the_high() -> None:
    b = book()
    b.place(PlaceOrder("bo", BUY, STOP, qty=1.0, price=105.0), bar=0)
    assert b.match(1, bar(100, 104.99, 99, 104)) == []
    [fill] = b.match(2, bar(101, 106, 100, 105))
    assert fill.price == 105.0


@pytest.mark.parametrize(
    ("candle", "order"),
    [
        (bar(100, 112, 88, 105), ["buy", "sell"]),  # up bar: open -> low -> high -> close
        (bar(100, 112, 88, 95), ["sell", "buy"]),  # down bar: open -> high -> low -> close
    ],
)
def test_the_path_rule_orders_fills_inside_one_bar(candle: Bar, order: list[str]) -> None:
    b = book()
    b.place(PlaceOrder("in", BUY, MARKET, qty=1.0), bar=0)
    b.match(1, bar(100, 100, 100, 100))
    b.place(PlaceOrder("sell", SELL, LIMIT, qty=1.0, price=110.0), bar=1)
    b.place(PlaceOrder("buy", BUY, LIMIT, qty=1.0, price=90.0), bar=1)
    fills = b.match(2, candle)
    assert [f.tag for f in fills] == order
    assert b.position == 1.0 and b.cash == pytest.approx(1000 - 100 - 90 + 110)


def test_a_falling_leg_reaches_higher_buy_limits_first() -> None:
    b = book()
    for i, price in enumerate((99.0, 97.0, 98.0)):
        b.place(PlaceOrder(f"b{i}", BUY, LIMIT, qty=1.0, price=price), bar=0)
    fills = b.match(1, bar(100, 100.5, 96, 100.2))
    assert [f.price for f in fills] == [99.0, 98.0, 97.0]


def test_spot_cuts_a_buy_to_the_cash_and_a_sell_to_the_position() -> None:
    b = book(lot=0.01)
    b.place(PlaceOrder("big", BUY, LIMIT, qty=20.0, price=100.0), bar=0)
    [fill] = b.match(1, bar(101, 101, 99, 100))
    assert fill.qty == 10.0 and b.cash == pytest.approx(0.0)
    b.place(PlaceOrder("dump", SELL, MARKET, qty=15.0), bar=1)
    [sold] = b.match(2, bar(100, 100, 100, 100))
    assert sold.qty == -10.0 and b.position == 0.0
    b.place(PlaceOrder("naked", SELL, MARKET, qty=1.0), bar=2)
    assert b.match(3, bar(100, 100, 100, 100)) == [] and b.rejected == 1  # never short


def test_notional_orders_size_at_the_fill_price_and_min_notional_rejects() -> None:
    b = book(lot=0.001, min_notional=50.0)
    b.place(PlaceOrder("n", BUY, LIMIT, notional=100.0, price=30.0), bar=0)
    [fill] = b.match(1, bar(31, 31, 29, 30))
    assert fill.qty == pytest.approx(3.333)  # 100 / 30 rounded down to the 0.001 lot
    b.place(PlaceOrder("small", BUY, MARKET, notional=40.0), bar=1)
    assert b.match(2, bar(30, 30, 30, 30)) == [] and b.rejected == 1


def test_expiry_and_cancel() -> None:
    b = book()
    b.place(PlaceOrder("x", BUY, LIMIT, qty=1.0, price=50.0, expire_after=2), bar=0)
    b.match(1, bar(100, 100, 100, 100))
    assert "x" in b.live
    b.match(2, bar(100, 100, 100, 100))
    assert "x" not in b.live and b.expired == 1
    b.place(PlaceOrder("y", BUY, LIMIT, qty=1.0, price=50.0), bar=2)
    b.place(PlaceOrder("z", BUY, LIMIT, qty=1.0, price=50.0), bar=2)
    assert b.cancel("y") and not b.cancel("y")
    assert b.cancel("*") and not b.live
    b.place(PlaceOrder("y", BUY, LIMIT, qty=1.0, price=50.0), bar=3)
    with pytest.raises(ConfigError, match="'y' is already live"):
        b.place(PlaceOrder("y", BUY, LIMIT, qty=1.0, price=50.0), bar=3)
    assert CancelOrder("*").tag == "*"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qty": 1.0, "notional": 5.0}, "exactly one of qty"),
        ({"qty": float("nan")}, "must be a finite number > 0"),
        ({"qty": -1.0}, "must be a finite number > 0"),
        ({"qty": 1.0, "kind": LIMIT}, "needs a finite price > 0"),
        ({"qty": 1.0, "kind": LIMIT, "price": float("inf")}, "needs a finite price > 0"),
        ({"qty": 1.0, "price": 5.0}, "market order takes no price"),
        ({"qty": 1.0, "kind": LIMIT, "price": 5.0, "expire_after": 0}, "expire_after=0"),
        ({"qty": 1.0, "tag": " pad"}, "without padding"),
    ],
)
def test_bad_orders_are_refused_at_construction(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"tag": "o", "side": BUY} | kwargs
    with pytest.raises(ConfigError, match=message):
        PlaceOrder(**args)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    orders=st.lists(
        st.tuples(
            st.sampled_from([BUY, SELL]),
            st.sampled_from([LIMIT, STOP, MARKET]),
            st.floats(0.9, 1.1),
            st.floats(0.01, 0.5),
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_random_orders_never_borrow_short_or_fill_outside_the_bar(
    seed: int, orders: list[tuple[Side, OrderKind, float, float]]
) -> None:
    from drydock.sample import read_sample
    from drydock.series import SeriesKey

    frame = read_sample(SeriesKey("binance", "BTC/USDT", "1h")).slice(seed % 8_000, 200)
    rows = [
        Bar(*r) for r in frame.select("ts", "open", "high", "low", "close", "volume").iter_rows()
    ]
    b = book(COSTS, lot=1e-5)
    b.cash = 100_000.0
    fees = 0.0
    for t, candle in enumerate(rows):
        if t < len(orders):
            side, kind, rel, qty = orders[t]
            price = None if kind is MARKET else candle.close * rel
            b.place(PlaceOrder(f"o{t}", side, kind, qty=qty, price=price), bar=t)
        for fill in b.match(t, candle):
            fees += fill.fee
            slip = 1.001 if fill.qty > 0 else 0.999
            low, high = (
                (candle.low, candle.high * slip)
                if fill.qty > 0
                else (candle.low * slip, candle.high)
            )
            assert low - 1e-9 <= fill.price <= high + 1e-9
            rate = 0.0002 if fill.kind is LIMIT else 0.001
            assert fill.fee == pytest.approx(abs(fill.qty) * fill.price * rate)
        assert b.cash >= -1e-9 and b.position >= -1e-12


def bracket(b: OrderBook, at: int = 0) -> None:
    """An entry buy limit at 95 with a stop at 90 and a take profit at 110 after it (OCO)."""
    b.place(PlaceOrder("entry", BUY, LIMIT, qty=1.0, price=95.0), bar=at)
    b.place(PlaceOrder("sl", SELL, STOP, qty=1.0, price=90.0, oco="exit", after="entry"), bar=at)
    b.place(PlaceOrder("tp", SELL, LIMIT, qty=1.0, price=110.0, oco="exit", after="entry"), bar=at)


def test_a_bracket_waits_for_its_entry_then_one_exit_cancels_the_other() -> None:
    b = book()
    bracket(b)
    assert set(b.live) == {"entry"}  # the exits wait for the entry
    assert [f.tag for f in b.match(1, bar(100, 101, 94, 96))] == ["entry"]  # touch at 95
    assert set(b.live) == {"sl", "tp"}  # released, live from the next bar
    [tp] = b.match(2, bar(100, 112, 99, 111))
    assert (tp.tag, tp.price) == ("tp", 110.0) and b.live == {} and b.position == 0


def test_an_oco_pair_reached_in_one_bar_fills_only_the_first_on_its_path() -> None:
    b = book()
    b.place(PlaceOrder("long", BUY, MARKET, qty=1.0), bar=0)
    b.match(1, bar(100, 100, 100, 100))
    b.place(PlaceOrder("sl", SELL, STOP, qty=1.0, price=95.0, oco="x"), bar=1)
    b.place(PlaceOrder("tp", SELL, LIMIT, qty=1.0, price=105.0, oco="x"), bar=1)
    # a bearish bar travels open -> high -> low: the take profit at 105 is reached first
    fills = b.match(2, bar(100, 106, 94, 95))
    assert [f.tag for f in fills] == ["tp"] and b.live == {} and b.position == 0


def test_children_go_with_a_cancelled_expired_or_rejected_parent() -> None:
    b = book()
    bracket(b)
    assert b.cancel("entry") and b.waiting == {} and b.live == {}
    b2 = book()
    b2.place(PlaceOrder("entry", BUY, LIMIT, qty=1.0, price=50.0, expire_after=1), bar=0)
    b2.place(PlaceOrder("sl", SELL, STOP, qty=1.0, price=40.0, after="entry"), bar=0)
    b2.match(1, bar(100, 101, 99, 100))  # not reached: expires
    assert b2.live == {} and b2.waiting == {} and b2.expired == 1
    b3 = book(min_notional=1_000.0)  # the entry's fill is rejected below min notional
    bracket(b3)
    b3.match(1, bar(100, 101, 94, 96))
    assert b3.live == {} and b3.waiting == {} and b3.rejected == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"oco": " g"}, "without padding"),
        ({"after": ""}, "without padding"),
        ({"after": "me"}, "cannot wait for itself"),
    ],
)
def test_bad_contingent_orders_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PlaceOrder("me", BUY, MARKET, qty=1.0, **kwargs)  # type: ignore[arg-type]


def test_an_order_waiting_for_an_unknown_order_is_refused() -> None:
    with pytest.raises(ConfigError, match="waits for 'ghost', which is not live"):
        book().place(PlaceOrder("sl", SELL, STOP, qty=1.0, price=90.0, after="ghost"), bar=0)
