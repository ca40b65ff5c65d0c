"""Paper fills against hand-computed prices, and the book's cash and trade accounting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from drydock.types import Bar, Fill, Instrument, Order, Side
from live.portfolio import Book, size_order
from live.venues.base import SimulatedVenue, VenueError
from live.venues.paper import Costs, PaperVenue, default_instrument

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BAR = Bar(T0, open=100.0, high=110.0, low=90.0, close=105.0, volume=1.0)
BTC = Instrument("paper", "BTC/USDT", "BTC", "USDT", lot_size=Decimal("0.001"))


def order(side: Side, qty: str, coid: str = "c1") -> Order:
    return Order(coid, "s", "paper", "BTC/USDT", side, Decimal(qty), Decimal(100), T0)


def venue() -> PaperVenue:
    v = PaperVenue("paper", Costs(fee=0.001, slippage_bps=5), {"BTC/USDT": BTC})
    v.set_bar(BAR)
    return v


def test_is_a_simulated_venue() -> None:
    v: SimulatedVenue = venue()
    assert v.name == "paper"


def test_buy_pays_slippage_and_fee_at_the_open() -> None:
    [f] = venue().submit(order(Side.BUY, "2.0"))
    # 100 * (1 + 5/10_000) = 100.05; fee = 2 * 100.05 * 0.001 = 0.2001
    assert f.price == Decimal("100.05")
    assert f.fee == Decimal("0.2001")
    assert f.qty == Decimal("2.000")
    assert f.ts == BAR.ts


def test_sell_receives_less() -> None:
    [f] = venue().submit(order(Side.SELL, "1.5"))
    # 100 * (1 - 0.0005) = 99.95; fee = 1.5 * 99.95 * 0.001 = 0.149925
    assert f.price == Decimal("99.95")
    assert f.fee == Decimal("0.149925")


def test_quantity_rounds_down_to_lots() -> None:
    [f] = venue().submit(order(Side.BUY, "1.23456"))
    assert f.qty == Decimal("1.234")
    with pytest.raises(VenueError, match="rounds to zero"):
        venue().submit(order(Side.BUY, "0.0009", coid="dust"))


def test_resubmitting_a_client_order_id_does_not_trade_again() -> None:
    v = venue()
    first = v.submit(order(Side.BUY, "1"))
    v.set_bar(Bar(T0, 200.0, 200.0, 200.0, 200.0, 1.0))
    assert v.submit(order(Side.BUY, "1")) == first
    assert v.fills_for("c1") == first
    assert v.fills_for("other") == []


def test_needs_a_bar() -> None:
    with pytest.raises(VenueError, match="set_bar"):
        PaperVenue().submit(order(Side.BUY, "1"))


def test_costs_validate_and_default_instrument() -> None:
    with pytest.raises(ValueError):
        Costs(fee=1.5)
    with pytest.raises(ValueError):
        Costs(slippage_bps=-1)
    inst = default_instrument("binance", "ETH/USDT:USDT")
    assert (inst.base, inst.quote) == ("ETH", "USDT")


def fill(side: Side, qty: str, price: str, fee: str) -> Fill:
    return Fill("c", "paper", "BTC/USDT", side, Decimal(qty), Decimal(price), Decimal(fee), T0)


def test_book_round_trip_pnl_includes_fees() -> None:
    book = Book("s", "BTC/USDT", Decimal(1000))
    book.apply(fill(Side.BUY, "2", "100", "0.2"))
    assert book.cash == Decimal("799.8") and book.qty == 2 and book.avg_price == 100
    assert book.equity(110) == Decimal("1019.8")
    book.apply(fill(Side.SELL, "1", "110", "0.11"))
    assert book.trade_pnl == []  # still open
    book.apply(fill(Side.SELL, "1", "90", "0.09"))
    # cost 200.2; proceeds 109.89 + 89.91 = 199.80 -> pnl -0.40
    assert book.trade_pnl == [pytest.approx(-0.4)]
    assert book.cash == Decimal("999.60") and book.qty == 0
    assert book.consecutive_losses == 1
    book.apply(fill(Side.BUY, "1", "100", "0"))
    book.apply(fill(Side.SELL, "1", "101", "0"))
    assert book.trade_pnl[-1] == pytest.approx(1.0) and book.consecutive_losses == 0
    with pytest.raises(ValueError, match="long-only"):
        book.apply(fill(Side.SELL, "1", "100", "0"))


def test_all_in_sizing_fits_cash_after_slippage_and_fee() -> None:
    costs = Costs(fee=0.001, slippage_bps=5)
    book = Book("s", "BTC/USDT", Decimal(10_000))
    side, qty = size_order(book, 1.0, 100.0, costs, BTC) or (None, None)
    # 10_000 / (100.05 * 1.001) = 99.850... -> 99.850 lots of 0.001
    assert side is Side.BUY and qty == Decimal("99.850")
    [f] = venue().submit(order(Side.BUY, str(qty)))
    book.apply(f)
    assert 0 <= book.cash < Decimal("0.2")
    assert size_order(book, 1.0, 100.0, costs, BTC) is None  # already all in
    assert size_order(book, 0.0, 100.0, costs, BTC) == (Side.SELL, qty)
    assert size_order(Book("s", "BTC/USDT", Decimal(10)), 0.0, 100.0, costs, BTC) is None
    assert size_order(book, -1.0, 100.0, costs, BTC) == (Side.SELL, qty)  # long-only: clipped
    # equity = cash + 9985 -> half is ~4992.55: sell (9985 - 4992.55) / 100 = 49.9245 -> 49.924
    half = size_order(book, 0.5, 100.0, costs, BTC)
    assert half is not None and half[0] is Side.SELL and half[1] == Decimal("49.924")
