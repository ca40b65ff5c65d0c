"""Conformance scenarios of docs/backtesting.md: a few bars each, fills and PnL worked out by hand
in the test, and both the numba kernel and the Python reference must produce them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel, FillTiming
from research.engine import EngineConfig, run_backtest
from research.engine import reference as ref

FREE = ExecutionModel(init_cash=1_000.0, taker_fee=0.0, slippage_bps=0.0)
BASE = EngineConfig(execution=FREE, lot_size=1e-9)
Bar = tuple[float, float, float, float]  # open, high, low, close


def frame(bars: list[Bar], volume: float = 1e9) -> pl.DataFrame:
    ts = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(len(bars))]
    o, h, lo, c = ([float(v) for v in x] for x in zip(*bars, strict=True))
    return pl.DataFrame(
        {"ts": ts, "open": o, "high": h, "low": lo, "close": c, "volume": [volume] * len(bars)}
    ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def both(bars: list[Bar], targets: list[float], cfg: EngineConfig = BASE,
         funding: list[float] | None = None) -> tuple[Any, Any]:  # fmt: skip
    """Kernel result and reference run; asserts they agree order for order and bar for bar."""
    f = frame(bars)
    fund = None
    if funding is not None:
        fund = pl.DataFrame({"ts": f["ts"], "rate": funding})
    kernel = run_backtest(f, targets, cfg, funding=fund)
    loop = ref.simulate([(*b, 1e9) for b in bars], targets, cfg, funding)
    np.testing.assert_allclose(kernel.equity["equity"].to_numpy(), loop.equity, rtol=1e-12)
    np.testing.assert_allclose(kernel.equity["position"].to_numpy(), loop.position, atol=1e-12)
    got = [(r["bar"], r["qty"] * (1 if r["side"] == "buy" else -1), r["price"], r["reason"])
           for r in kernel.orders.iter_rows(named=True)]  # fmt: skip
    want = [(b, q, p, reason.name.lower()) for b, q, p, _, reason in loop.account.orders]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[0] == w[0] and g[3] == w[3]
        assert g[1] == pytest.approx(w[1], rel=1e-12) and g[2] == pytest.approx(w[2], rel=1e-12)
    assert kernel.trade_pnl.tolist() == pytest.approx(loop.account.trades, rel=1e-12)
    return kernel, loop


def fills(kernel: Any) -> list[tuple[int, str, float, float, str]]:
    return [(r["bar"], r["side"], round(r["qty"], 9), round(r["price"], 9), r["reason"])
            for r in kernel.orders.iter_rows(named=True)]  # fmt: skip


FLAT: Bar = (100.0, 100.0, 100.0, 100.0)


def test_next_open_fill_and_fractional_target() -> None:
    kernel, _ = both([FLAT, (100, 101, 99, 110), (110, 111, 109, 110)], [0.5, 0.5, 0.5])
    assert fills(kernel) == [(1, "buy", 5.0, 100.0, "signal")]  # 50% of 1,000 at the open
    assert kernel.final_equity == pytest.approx(1_050.0)  # 500 cash + 5 x 110
    assert kernel.open_position == 5.0 and "still open" in kernel.notes[0]


def test_stop_and_target_in_the_same_bar_assume_the_stop() -> None:
    cfg = replace(BASE, stop_loss=0.05, take_profit=0.05)
    kernel, _ = both([FLAT, (100, 106, 94, 100), FLAT], [1, 1, 1], cfg)
    assert fills(kernel) == [
        (1, "buy", 10.0, 100.0, "signal"),
        (1, "sell", 10.0, 95.0, "stop_loss"),
    ]
    assert kernel.trade_pnl.tolist() == [-50.0] and kernel.final_equity == 950.0


def test_gap_through_the_stop_fills_at_the_open() -> None:
    cfg = replace(BASE, stop_loss=0.05)
    kernel, _ = both([FLAT, (100, 101, 99, 100), (90, 92, 88, 91)], [1, 1, 1], cfg)
    assert fills(kernel)[-1] == (2, "sell", 10.0, 90.0, "stop_loss")
    assert kernel.trade_pnl.tolist() == [-100.0]


def test_a_stop_exit_waits_for_the_target_to_change_before_re_entering() -> None:
    cfg = replace(BASE, stop_loss=0.05)
    bars = [FLAT, (100, 101, 94, 96), FLAT, FLAT, FLAT, FLAT]
    kernel, _ = both(bars, [1, 1, 1, 0, 1, 1], cfg)
    assert [(*f[:2], f[4]) for f in fills(kernel)] == [
        (1, "buy", "signal"), (1, "sell", "stop_loss"), (5, "buy", "signal"),
    ]  # fmt: skip


def test_short_stop_and_take_profit() -> None:
    cfg = replace(BASE, allow_short=True, stop_loss=0.05, take_profit=0.1)
    kernel, _ = both([FLAT, (100, 106, 99, 104), FLAT], [-1, -1, -1], cfg)
    assert fills(kernel) == [
        (1, "sell", 10.0, 100.0, "signal"),
        (1, "buy", 10.0, 105.0, "stop_loss"),
    ]
    kernel, _ = both([FLAT, (100, 101, 89, 95), FLAT], [-1, -1, -1], cfg)
    assert fills(kernel)[-1] == (1, "buy", 10.0, 90.0, "take_profit")
    assert kernel.trade_pnl.tolist() == [100.0]


def test_funding_sign_for_long_and_short() -> None:
    bars = [FLAT, FLAT, FLAT, FLAT]
    rates = [0.0, 0.0, 0.001, 0.0]  # due at bar 2's open, on the position held into it
    long_, _ = both(bars, [1, 1, 1, 1], BASE, rates)
    short, _ = both(bars, [-1, -1, -1, -1], replace(BASE, allow_short=True), rates)
    assert long_.funding_paid == pytest.approx(1.0) and long_.final_equity == pytest.approx(999.0)
    assert short.funding_paid == pytest.approx(-1.0) and short.final_equity == pytest.approx(
        1_001.0
    )


def test_reversal_is_one_order_sized_from_equity() -> None:
    cfg = replace(BASE, leverage=2.0)
    kernel, _ = both([FLAT, (100, 110, 100, 110), (110, 110, 110, 110)], [1, -1, -1], cfg)
    # Long 10 at 100; at 110 equity is 1,100, so -1 means -10 units: one sell of 20.
    assert fills(kernel) == [(1, "buy", 10.0, 100.0, "signal"), (2, "sell", 20.0, 110.0, "signal")]
    assert kernel.trade_pnl.tolist() == [100.0] and kernel.open_position == -10.0


def test_min_notional_rejection_is_counted_not_sent() -> None:
    kernel, loop = both([FLAT, FLAT, FLAT], [1, 1, 1], replace(BASE, min_notional=2_000.0))
    assert kernel.orders.height == 0 and kernel.rejected_min_notional == 1 == loop.account.rejected


def test_lot_rounding_never_buys_more_than_cash_allows() -> None:
    cfg = replace(BASE, execution=replace(FREE, init_cash=1_050.0), lot_size=1.0)
    kernel, _ = both([FLAT, FLAT], [1, 1], cfg)
    assert fills(kernel) == [(1, "buy", 10.0, 100.0, "signal")]  # not 10.5


def test_fees_and_slippage_on_an_all_in_buy() -> None:
    costly = replace(FREE, taker_fee=0.001, slippage_bps=10.0)
    kernel, _ = both([FLAT, FLAT, FLAT, FLAT], [1, 1, 0, 0], replace(BASE, execution=costly))
    qty = 1_000.0 / (1.001 * 100.1)  # cash / ((1 + fee) x slipped price): the fee fits in cash
    [(_, _, bought, px, _), (_, _, sold, px2, _)] = fills(kernel)
    assert bought == pytest.approx(qty, abs=1e-9) and px == pytest.approx(100.1)
    assert sold == pytest.approx(bought) and px2 == pytest.approx(99.9)
    cash = 1_000.0 - qty * 100.1 * 1.001 + qty * 99.9 * 0.999
    assert kernel.final_equity == pytest.approx(cash, rel=1e-12)


def test_trailing_stop_with_activation() -> None:
    cfg = replace(BASE, trailing_stop=0.10, trailing_activation=0.05)
    bars = [FLAT, (100, 103, 99, 102), (104, 120, 103, 118), (118, 119, 100, 101)]
    kernel, _ = both(bars, [1, 1, 1, 1], cfg)
    # Best 103 after bar 1 (not active: +3%); bar 2 checks with 103 (still inactive), then the best
    # becomes 120; bar 3 trails at 120 x 0.9 = 108 and the low of 100 takes it.
    assert fills(kernel)[-1] == (3, "sell", 10.0, 108.0, "trailing_stop")
    assert kernel.trade_pnl.tolist() == [pytest.approx(80.0)]


def test_scale_out_ladder() -> None:
    cfg = replace(BASE, scale_out=[(1.0, 0.5), (2.0, 0.25)])
    bars = [(10, 10, 10, 10), (10, 11, 10, 10), (15, 25, 14, 22), (24, 31, 23, 28)]
    kernel, _ = both(bars, [1, 1, 1, 1], cfg)
    assert fills(kernel) == [
        (1, "buy", 100.0, 10.0, "signal"),
        (2, "sell", 50.0, 20.0, "scale_out"),  # +100%: half of the 100 bought
        (3, "sell", 25.0, 30.0, "scale_out"),  # +200%: a quarter of the 100 bought
    ]
    assert kernel.open_position == 25.0
    assert kernel.final_equity == pytest.approx(50 * 20 + 25 * 30 + 25 * 28)


def test_leverage_and_liquidation() -> None:
    cfg = replace(BASE, leverage=3.0, maintenance_margin=0.05)
    kernel, _ = both([FLAT, (100, 110, 100, 110), (108, 108, 60, 65)], [3, 3, 3], cfg)
    # 30 units on 1,000 (cash -2,000); equity 1,300 at 110; liquidated where
    # -2,000 + 30 p = 0.05 x 30 p, i.e. p = 2,000 / 28.5.
    liq = 2_000.0 / 28.5
    assert fills(kernel)[-1] == (2, "sell", 30.0, round(liq, 9), "liquidation")
    assert kernel.liquidations == 1
    assert kernel.final_equity == pytest.approx(0.05 * 30 * liq)


def test_end_of_run_open_or_closed() -> None:
    bars = [FLAT, FLAT, (100, 120, 100, 120)]
    open_, _ = both(bars, [1, 1, 1])
    assert open_.open_position == 10.0 and open_.open_pnl == pytest.approx(200.0)
    assert open_.trade_pnl.tolist() == []
    closed, _ = both(bars, [1, 1, 1], replace(BASE, close_at_end=True))
    assert fills(closed)[-1] == (2, "sell", 10.0, 120.0, "end_close")
    assert closed.trade_pnl.tolist() == [200.0] and closed.open_position == 0.0


def test_close_fill_timing_fills_at_the_signal_bar_close() -> None:
    cfg = replace(BASE, execution=replace(FREE, fill=FillTiming.CLOSE))
    kernel, _ = both([(100, 100, 100, 105), FLAT], [1, 1], cfg)
    assert fills(kernel) == [(0, "buy", pytest.approx(1_000 / 105), 105.0, "signal")]


def test_volume_aware_slippage_and_participation_cap() -> None:
    """impact x sqrt(qty / volume) on top of the fixed slippage; orders capped at a share of the
    bar's volume."""
    cfg = replace(BASE, impact=0.1, leverage=1.0)
    f = frame([FLAT, FLAT], volume=100.0)
    kernel = run_backtest(f, [1, 1], cfg)
    [(_, _, qty, px, _)] = fills(kernel)
    assert px == pytest.approx(100.0 * (1 + 0.1 * (qty / 100.0) ** 0.5))
    capped = run_backtest(f, [1, 1], replace(BASE, max_participation=0.05))
    assert capped.orders["qty"][0] == pytest.approx(5.0) and capped.participation_capped == 1


@pytest.mark.parametrize(
    ("targets", "cfg", "message"),
    [
        ([1, float("nan")], BASE, "not a finite number"),
        ([1, 1.5], BASE, "exceeds the leverage cap 1"),
        ([-1, -1], BASE, "is a short"),
        ([4, 4], replace(BASE, leverage=3.0), "exceeds the leverage cap 3"),
    ],
)
def test_bad_targets_are_refused_naming_the_bar(targets: list[float], cfg: EngineConfig, message: str) -> None:  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        run_backtest(frame([FLAT, FLAT]), targets, cfg)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stop_loss": 0.0}, "stop_loss"),
        ({"stop_loss": float("nan")}, "stop_loss"),
        ({"scale_out": [(2.0, 0.5), (1.0, 0.25)]}, "must increase"),
        ({"scale_out": [(1.0, 0.7), (2.0, 0.5)]}, "sum to"),
        ({"leverage": 0.0}, "leverage"),
    ],
)
def test_bad_config_is_one_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        replace(BASE, **change)
