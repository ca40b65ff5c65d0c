"""Paper fills against hand-computed prices, fees, lots and min notional; the book's accounting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drydock.execution import ExecutionModel
from drydock.fills import EngineConfig, simulate
from drydock.types import Bar, Fill, Instrument, Order, Side
from live.engine_book import EngineBook
from live.venues.base import MinNotionalError, SimulatedVenue, VenueError
from live.venues.paper import PaperVenue

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BAR = Bar(T0, open=100.0, high=110.0, low=90.0, close=105.0, volume=1.0)
BTC = Instrument("paper", "BTC/USDT", "BTC", "USDT", lot_size=Decimal("0.001"))
MODEL = ExecutionModel(taker_fee=0.001, slippage_bps=5)


def order(side: Side, qty: str, coid: str = "c1") -> Order:
    return Order(coid, "s", "paper", "BTC/USDT", side, Decimal(qty), Decimal(100), T0)


def venue(model: ExecutionModel = MODEL, instrument: Instrument = BTC) -> PaperVenue:
    v = PaperVenue("paper", model, {"BTC/USDT": instrument})
    v.set_bar(BAR)
    return v


def test_buy_pays_slippage_and_fee_at_the_open() -> None:
    v: SimulatedVenue = venue()
    [f] = v.submit(order(Side.BUY, "2.0"))
    # 100 * (1 + 5/10_000) = 100.05; fee = 2 * 100.05 * 0.001 = 0.2001
    assert (f.price, f.fee, f.qty, f.ts, f.side) == (
        Decimal("100.05"),
        Decimal("0.2001"),
        Decimal("2.000"),
        BAR.ts,
        Side.BUY,
    )


def test_sell_receives_less_and_fixed_fees_add_per_order() -> None:
    [f] = venue().submit(order(Side.SELL, "1.5"))
    # 100 * (1 - 0.0005) = 99.95; fee = 1.5 * 99.95 * 0.001 = 0.149925
    assert (f.price, f.fee) == (Decimal("99.95"), Decimal("0.149925"))
    [g] = venue(ExecutionModel(taker_fee=0.001, slippage_bps=5, fixed_fee=1.5)).submit(
        order(Side.SELL, "1.5")
    )
    assert g.fee == Decimal("1.649925")


def test_quantity_rounds_down_to_lots() -> None:
    [f] = venue().submit(order(Side.BUY, "1.23456"))
    assert f.qty == Decimal("1.234")
    with pytest.raises(VenueError, match=r"rounds to zero lots of 0\.001"):
        venue().submit(order(Side.BUY, "0.0009", coid="dust"))


def test_orders_below_min_notional_are_rejected_and_not_recorded() -> None:
    v = venue()
    # 0.049 * 100.05 = 4.90 < 5 (the default min notional)
    with pytest.raises(MinNotionalError, match=r"4.90, below the min notional 5"):
        v.submit(order(Side.BUY, "0.049", coid="small"))
    assert v.fills_for("small") == []
    [f] = v.submit(order(Side.BUY, "0.050", coid="ok"))  # 5.0025 >= 5
    assert f.qty * f.price == Decimal("5.002500")


def test_resubmitting_a_client_order_id_does_not_trade_again() -> None:
    v = venue()
    first = v.submit(order(Side.BUY, "1"))
    v.set_bar(Bar(T0, 200.0, 200.0, 200.0, 200.0, 1.0))
    assert v.submit(order(Side.BUY, "1")) == first
    assert v.fills_for("c1") == first and first[0].price == Decimal("100.05")
    assert v.fills_for("other") == []
    [second] = v.submit(order(Side.BUY, "1", coid="c2"))
    assert second.price == Decimal("200.1")


def test_needs_a_bar_and_instruments_come_from_the_markets() -> None:
    with pytest.raises(VenueError, match="set_bar"):
        PaperVenue().submit(order(Side.BUY, "1"))
    binance = PaperVenue("binance")
    assert binance.instrument("ETH/USDT").lot_size == Decimal("0.0001")
    coarse = PaperVenue("binance", ExecutionModel(lot_size=0.01))
    assert coarse.instrument("BTC/USDT").lot_size == Decimal("0.01")


def fill(side: Side, qty: str, price: str, fee: str) -> Fill:
    return Fill("c", "paper", "BTC/USDT", side, Decimal(qty), Decimal(price), Decimal(fee), T0)


def test_book_round_trip_pnl_includes_fees() -> None:
    """The run's book (the engine's model booking venue fills): cash, average entry and the
    closed trade's PnL with both fees."""
    book = EngineBook("s", "BTC/USDT", EngineConfig(execution=ExecutionModel(init_cash=1_000)))
    book.apply(fill(Side.BUY, "2", "100", "0.2"))
    assert book.cash == Decimal("799.8") and book.qty == 2 and book.position().avg_price == 100
    assert book.equity(110) == Decimal("1019.8")
    book.apply(fill(Side.SELL, "1", "110", "0.11"))
    assert book.trade_pnl == []  # still open
    book.apply(fill(Side.SELL, "1", "90", "0.09"))
    # cost 200.2; proceeds 109.89 + 89.91 = 199.80 -> pnl -0.40
    assert book.trade_pnl == [pytest.approx(-0.4)]
    assert float(book.cash) == pytest.approx(999.6) and book.qty == 0
    book.apply(fill(Side.BUY, "1", "100", "0"))
    book.apply(fill(Side.SELL, "1", "101", "0"))
    assert book.trade_pnl[-1] == pytest.approx(1.0)


def spot(model: ExecutionModel = MODEL, lot: float = 0.001) -> EngineConfig:
    return EngineConfig(execution=model, lot_size=lot)


def test_all_in_sizing_fits_cash_after_slippage_and_fee() -> None:
    """A spot target of 1 buys what the cash pays for at the slipped price with the fee."""
    flat = [(100.0, 100.0, 100.0, 100.0, 1e9)] * 4
    run = simulate(flat, [1.0, 1.0, 0.5, 0.5], spot())
    first, second = run.account.orders[0], run.account.orders[1]
    # 10_000 / 1.001 / 100.05 = 99.850... -> 99.850 lots of 0.001
    assert first[1] == pytest.approx(99.85) and 0 <= 10_000 - first[1] * first[2] - first[3] < 0.2
    # equity ~ cash + 9985 at 100 -> half is ~4992.5: sell 49.924 (whole lots)
    assert second[1] == pytest.approx(-49.924)
    assert run.account.cash >= 0


@given(
    cash=st.floats(10, 10**6),
    price=st.floats(0.01, 1e5),
    fixed=st.floats(0, 2),
)
def test_sized_buys_always_fit_in_cash(cash: float, price: float, fixed: float) -> None:
    model = ExecutionModel(init_cash=cash, taker_fee=0.001, slippage_bps=5, fixed_fee=fixed)
    bars = [(price, price, price, price, 1e12)] * 3
    run = simulate(bars, [1.0, 1.0, 1.0], spot(model))
    assert run.account.cash >= -1e-9 * cash
