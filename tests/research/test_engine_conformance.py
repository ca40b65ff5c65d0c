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
from drydock.fills import reference as ref
from drydock.funding import split_funding
from research.engine import EngineConfig, run_backtest

FREE = ExecutionModel(init_cash=1_000.0, taker_fee=0.0, slippage_bps=0.0)
BASE = EngineConfig(execution=FREE, lot_size=1e-9)
Bar = tuple[float, float, float, float]  # open, high, low, close


def frame(bars: list[Bar], volume: float | list[float] = 1e9, hours: int = 1) -> pl.DataFrame:
    ts = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=hours * i) for i in range(len(bars))]
    o, h, lo, c = ([float(v) for v in x] for x in zip(*bars, strict=True))
    vol = [float(volume)] * len(bars) if isinstance(volume, int | float) else volume
    return pl.DataFrame(
        {"ts": ts, "open": o, "high": h, "low": lo, "close": c, "volume": vol}
    ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def both(bars: list[Bar], targets: list[float], cfg: EngineConfig = BASE,
         funding: list[float] | pl.DataFrame | None = None, volume: float | list[float] = 1e9,
         hours: int = 1) -> tuple[Any, Any]:  # fmt: skip
    """Kernel result and reference run; asserts they agree order for order and bar for bar.
    ``funding`` is a rate per bar (stamped at its open) or a (ts, rate) frame of any stamps."""
    f = frame(bars, volume, hours)
    fund = None
    if isinstance(funding, pl.DataFrame):
        fund = funding
    elif funding is not None:
        fund = pl.DataFrame({"ts": f["ts"], "rate": funding})
    kernel = run_backtest(f, targets, cfg, funding=fund)
    at_open, inside = split_funding(f["ts"], fund)
    rows = [(*b, v) for b, v in zip(bars, f["volume"].to_list(), strict=True)]
    loop = ref.simulate(rows, targets, cfg, at_open.tolist(), inside.tolist())
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
    assert kernel.ruined == loop.account.ruined
    assert kernel.participation_capped == loop.account.capped
    assert kernel.rejected_min_notional == loop.account.rejected
    assert kernel.funding_paid == pytest.approx(loop.account.funding_paid, rel=1e-12, abs=1e-12)
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


# --- Regressions of the fill-model audit (issue 21); each scenario's arithmetic is by hand. ---

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SHORTS = replace(BASE, allow_short=True)


def test_a_ruined_account_stops_trading() -> None:
    """3x long of 30 units at 100 (cash 1,000 - 3,000 = -2,000); the liquidation level is
    2,000 / 28.5 = 70.18, and bar 2 opens at 60, through it: liquidated at the open,
    cash = -2,000 + 30 x 60 = -200 <= 0. The target 1 decided at bar 3 would have sized
    1 x (-200) / 100 = -2 units, a *sell* (the old engine went short and 'recovered' to -100 at
    bar 5's close of 50); a ruined account sends nothing: equity stays -200."""
    cfg = replace(BASE, leverage=3.0, maintenance_margin=0.05)
    bars = [FLAT, (100, 110, 100, 110), (60, 62, 55, 58), FLAT, FLAT, (100, 100, 50, 50)]
    kernel, _ = both(bars, [3, 3, 3, 1, 1, 1], cfg)
    assert fills(kernel) == [
        (1, "buy", 30.0, 100.0, "signal"),
        (2, "sell", 30.0, 60.0, "liquidation"),
    ]
    assert kernel.ruined and kernel.metrics["ruined"] == 1.0
    assert any("ruined" in note for note in kernel.notes)
    assert kernel.equity["equity"].to_list()[2:] == pytest.approx([-200.0] * 4)


def test_a_target_sized_from_negative_equity_ruins_and_liquidates() -> None:
    """3x without a maintenance margin: 30 units at 100 (cash -2,000). At bar 3's open of 60 the
    new target 1 meets equity -2,000 + 30 x 60 = -200: sizing from it would want -200 / 60 =
    -3.33 units, a sale of 33.33 that goes short and 'recovers' to 0 - 3.33 x 30 = -100 at bar
    4's close of 30 (the old engine). Ruined instead: the 30 units are liquidated at 60 (cash
    -200) and nothing trades after it."""
    cfg = replace(BASE, leverage=3.0)
    bars = [FLAT, FLAT, (60, 60, 60, 60), (60, 60, 60, 60), (30, 30, 30, 30)]
    kernel, _ = both(bars, [3, 3, 1, 1, 0.5], cfg)
    assert fills(kernel) == [
        (1, "buy", 30.0, 100.0, "signal"),
        (3, "sell", 30.0, 60.0, "liquidation"),
    ]
    assert kernel.ruined and kernel.liquidations == 1
    assert kernel.equity["equity"].to_list() == pytest.approx([1_000, 1_000, -200, -200, -200])


def test_liquidation_fee_is_a_venue_rule() -> None:
    """The liquidation of test_leverage_and_liquidation (30 units at p = 2,000 / 28.5 = 70.18)
    with a 1% liquidation fee on the notional: the trader keeps 0.05 x 30p - 0.01 x 30p = 0.04 x
    30p = 84.21 instead of 105.26 (default 0: the maintenance margin minus the taker fee)."""
    cfg = replace(BASE, leverage=3.0, maintenance_margin=0.05, liquidation_fee=0.01)
    kernel, _ = both([FLAT, (100, 110, 100, 110), (108, 108, 60, 65)], [3, 3, 3], cfg)
    liq = 2_000.0 / 28.5
    assert fills(kernel)[-1] == (2, "sell", 30.0, round(liq, 9), "liquidation")
    assert kernel.final_equity == pytest.approx(0.04 * 30 * liq)
    assert not kernel.ruined
    with pytest.raises(ConfigError, match="liquidation_fee"):
        replace(BASE, liquidation_fee=1.0)


def test_a_spot_buy_with_volume_impact_never_borrows() -> None:
    """1,000 cash, impact 0.1, bar volume 100: q units cost q x 100 x (1 + 0.1 sqrt(q / 100)),
    i.e. q + 0.01 q^1.5 = 10, so q = 9.698 (9.698 + 0.01 x 30.20 = 10.000). The old cap divided
    by the price without impact, bought 10 at 103.16 and left cash at 1,000 - 1,031.6 = -31.6."""
    cfg = replace(BASE, impact=0.1)
    kernel, _ = both([FLAT, FLAT, FLAT], [1, 1, 1], cfg, volume=100.0)
    [(_, _, qty, px, _)] = fills(kernel)
    assert qty == pytest.approx(9.698, abs=1e-3)
    assert px == pytest.approx(100.0 * (1 + 0.1 * (qty / 100.0) ** 0.5), rel=1e-9)
    cash = 1_000.0 - qty * px
    assert -1e-9 <= cash < 1e-6 * 1_000  # all in, never below zero
    assert kernel.equity["equity"][-1] == pytest.approx(cash + qty * 100.0)


def test_participation_caps_closes_and_carries_the_rest() -> None:
    """10 units bought at bar 1 (volume 1e9); from bar 2 the volume is 100 and the cap 5% = 5
    units: the target-0 close decided at bar 1 sells 5 at bar 2's open and the other 5 at bar 3's
    (the old engine sold all 10 at once)."""
    cfg = replace(BASE, max_participation=0.05)
    vol = [1e9, 1e9, 100.0, 100.0, 100.0]
    kernel, _ = both([FLAT] * 5, [1, 0, 0, 0, 0], cfg, volume=vol)
    assert fills(kernel) == [
        (1, "buy", 10.0, 100.0, "signal"),
        (2, "sell", 5.0, 100.0, "signal"),
        (3, "sell", 5.0, 100.0, "signal"),
    ]
    assert kernel.participation_capped == 1 and kernel.open_position == 0.0


def test_participation_caps_a_stop_exit_and_works_the_rest_next_open() -> None:
    """Long 10 at 100, stop 5% at 95; bar 2 (volume 100, cap 5) touches 94: 5 sold at 95, the
    other 5 at bar 3's open of 93 (reason stop_loss). PnL 5 x (95 - 100) + 5 x (93 - 100) = -60;
    equity 940."""
    cfg = replace(BASE, stop_loss=0.05, max_participation=0.05)
    bars = [FLAT, FLAT, (100, 101, 94, 96), (93, 94, 92, 93), (93, 94, 92, 93)]
    kernel, _ = both(bars, [1] * 5, cfg, volume=[1e9, 1e9, 100.0, 100.0, 100.0])
    assert fills(kernel) == [
        (1, "buy", 10.0, 100.0, "signal"),
        (2, "sell", 5.0, 95.0, "stop_loss"),
        (3, "sell", 5.0, 93.0, "stop_loss"),
    ]
    assert kernel.trade_pnl.tolist() == [pytest.approx(-60.0)]
    assert kernel.final_equity == pytest.approx(940.0)


def test_a_capped_reversal_reaches_its_target() -> None:
    """2x leverage, long 10 at 100; target -1 = -10 units (equity 1,000 at 100): an order of -20
    against a cap of 5 a bar: +5, 0, -5, -10 over bars 2-5 (the old engine stayed at +5). Capped
    3 times (-20, -15, -10 > 5; the last slice of 5 fits)."""
    cfg = replace(BASE, leverage=2.0, max_participation=0.05)
    vol = [1e9, 1e9, 100.0, 100.0, 100.0, 100.0]
    kernel, _ = both([FLAT] * 6, [1, -1, -1, -1, -1, -1], cfg, volume=vol)
    assert [f[:3] for f in fills(kernel)] == [
        (1, "buy", 10.0), (2, "sell", 5.0), (3, "sell", 5.0), (4, "sell", 5.0), (5, "sell", 5.0),
    ]  # fmt: skip
    assert kernel.equity["position"].to_list() == [0.0, 10.0, 5.0, 0.0, -5.0, -10.0]
    assert kernel.participation_capped == 3


def _stamp(hours: float, rate: float = 0.001) -> pl.DataFrame:
    return pl.DataFrame({"ts": [T0 + timedelta(hours=hours)], "rate": [rate]}).with_columns(
        pl.col("ts").cast(pl.Datetime("us", "UTC"))
    )


def test_funding_inside_a_bar_under_close_fills_follows_the_holder() -> None:
    """4h bars at 00, 04, 08, 12; a funding stamp at 06:00, inside bar 1; fill=close, rate 0.1%.
    Held from bar 0's close and closed at bar 1's close (10:00-ish; the stamp came first): pays
    10 x 100 x 0.001 = 1 (old: 0, charged at 08:00 on nothing). Opened at bar 1's close (after the
    stamp): pays 0 (old: 1)."""
    cfg = replace(BASE, execution=replace(FREE, fill=FillTiming.CLOSE))
    held, _ = both([FLAT] * 4, [1, 0, 0, 0], cfg, funding=_stamp(6), hours=4)
    assert held.funding_paid == pytest.approx(1.0) and held.final_equity == pytest.approx(999.0)
    opened, _ = both([FLAT] * 4, [0, 1, 1, 1], cfg, funding=_stamp(6), hours=4)
    assert opened.funding_paid == 0.0 and opened.final_equity == pytest.approx(1_000.0)


def test_funding_between_bar_opens_is_charged_on_the_bar_it_falls_in() -> None:
    """next_open: 10 units bought at bar 1's open (04:00, 100); the 06:00 stamp falls inside bar
    1 and is charged on those 10 units at bar 1's open: 10 x 100 x 0.001 = 1 (the old rule
    charged it at bar 2's open of 110: 1.1). Short: receives 1."""
    bars = [FLAT, (100, 112, 99, 110), (110, 111, 109, 110), (110, 111, 109, 110)]
    long_, _ = both(bars, [1, 1, 1, 1], BASE, funding=_stamp(6), hours=4)
    assert long_.funding_paid == pytest.approx(1.0)
    assert long_.final_equity == pytest.approx(1_100.0 - 1.0)
    short, _ = both(bars, [-1, -1, -1, -1], SHORTS, funding=_stamp(6), hours=4)
    assert short.funding_paid == pytest.approx(-1.0)
    assert short.final_equity == pytest.approx(900.0 + 1.0)


def test_open_beyond_the_take_profit_takes_it_at_the_open() -> None:
    """Long 10 at 100, stop 95, take profit 105; bar 2 opens at 107 (beyond the take profit) and
    its low of 90 is below the stop: the open came first, so the take profit at the open, +70
    (the old engine booked the stop, -50). Short mirror: opens at 93 beyond the 95 take profit
    with a high above the 105 stop: +70."""
    cfg = replace(BASE, stop_loss=0.05, take_profit=0.05, allow_short=True)
    kernel, _ = both([FLAT, FLAT, (107, 108, 90, 95), FLAT], [1, 1, 1, 1], cfg)
    assert fills(kernel)[-1] == (2, "sell", 10.0, 107.0, "take_profit")
    assert kernel.trade_pnl.tolist() == [pytest.approx(70.0)] and kernel.final_equity == 1_070.0
    short, _ = both([FLAT, FLAT, (93, 110, 92, 100), FLAT], [-1, -1, -1, -1], cfg)
    assert fills(short)[-1] == (2, "buy", 10.0, 93.0, "take_profit")
    assert short.trade_pnl.tolist() == [pytest.approx(70.0)]


def test_a_full_ladder_closes_what_remains() -> None:
    """99 units at 10 (990 cash, lot 1); ladder +10% 0.3, +20% 0.3, +30% 0.4 (sum 1): floors of
    29.7, 29.7 and 39.6 are 29, 29, 39 = 97, leaving 2 open; the last slice closes the 41 left.
    Bar 2 (high 13.5) reaches all three: 29 x 11 + 29 x 12 + 41 x 13 = 319 + 348 + 533 = 1,200."""
    cfg = replace(BASE, execution=replace(FREE, init_cash=990.0), lot_size=1.0,
                  scale_out=[(0.1, 0.3), (0.2, 0.3), (0.3, 0.4)])  # fmt: skip
    bars = [(10, 10, 10, 10), (10, 10, 10, 10), (10, 13.5, 10, 12.5)]
    kernel, _ = both(bars, [1, 1, 1], cfg)
    assert fills(kernel)[1:] == [
        (2, "sell", 29.0, 11.0, "scale_out"),
        (2, "sell", 29.0, 12.0, "scale_out"),
        (2, "sell", 41.0, 13.0, "scale_out"),
    ]
    assert kernel.open_position == 0.0 and kernel.final_equity == pytest.approx(1_200.0)


def test_lot_flooring_has_relative_slack() -> None:
    """51 cash at 10 in lots of 1e-8: 5.1 units (5.1 / 1e-8 = 509,999,999.99999994 floored
    without relative slack gave 5.09999999)."""
    cfg = replace(BASE, execution=replace(FREE, init_cash=51.0), lot_size=1e-8)
    kernel, _ = both([(10, 10, 10, 10)] * 3, [1, 1, 1], cfg)
    assert fills(kernel) == [(1, "buy", 5.1, 10.0, "signal")]


def test_lot_and_min_notional_in_the_execution_model_apply() -> None:
    """555 cash at 100: 5.55 units unrounded. A lot of 1 in the ExecutionModel gives 5 units; a
    min notional of 5,000 there rejects the 555 order (the old API ignored both and bought 5.55,
    while the CLI applied them). Given differently in both places is refused."""
    lot = EngineConfig(execution=replace(FREE, init_cash=555.0, lot_size=1.0))
    kernel, _ = both([FLAT] * 3, [1, 1, 1], lot)
    assert fills(kernel) == [(1, "buy", 5.0, 100.0, "signal")]
    floor = EngineConfig(execution=replace(FREE, init_cash=555.0, min_notional=5_000.0))
    rejected, _ = both([FLAT] * 3, [1, 1, 1], floor)
    assert rejected.orders.height == 0 and rejected.rejected_min_notional == 1
    with pytest.raises(ConfigError, match="disagree"):
        EngineConfig(execution=replace(FREE, lot_size=1.0), lot_size=0.5)


COSTLY = replace(FREE, taker_fee=0.01)  # 1% fee, no slippage


@pytest.mark.parametrize(
    ("end", "price", "final"),
    [
        # 9 units (1,000 / (1.01 x 100) = 9.9, lot 1) for 900 + 9 fee: cash 91.
        ("mark", None, 91.0 + 9 * 120.0),  # 1,171, still open
        ("close", 120.0, 91.0 + 9 * 120.0 * 0.99),  # 1,080 - 10.80 fee: 1,160.20
        ("open", 110.0, 91.0 + 9 * 110.0 * 0.99),  # 990 - 9.90 fee: 1,071.10
    ],
)
def test_end_of_run_rules_with_costs(end: str, price: float | None, final: float) -> None:
    cfg = replace(BASE, execution=COSTLY, lot_size=1.0, end=end)
    kernel, _ = both([FLAT, FLAT, (110, 125, 105, 120)], [1, 1, 1], cfg)
    assert kernel.final_equity == pytest.approx(final, rel=1e-12)
    if price is None:
        assert kernel.open_position == 9.0 and kernel.open_pnl == pytest.approx(1_171.0 - 1_000)
    else:
        assert fills(kernel)[-1] == (2, "sell", 9.0, price, "end_close")
        assert kernel.trade_pnl.tolist() == [pytest.approx(final - 1_000.0)]
    with pytest.raises(ConfigError, match="disagree"):
        replace(BASE, close_at_end=True, end="open")


@pytest.mark.parametrize(
    ("kind", "bar", "level", "reason"),
    [
        # Short 10 at 100 each time; the bar's high reaches the adverse level.
        ("stop_loss", (100, 106, 99, 104), 105.0, "stop_loss"),  # 100 x 1.05
        ("trailing", (97, 104, 90, 92), 99.0, "trailing_stop"),  # best 90 after bar 1 x 1.1
        ("liquidation", (100, 160, 99, 150), 3_000 / (30 * 1.05), "liquidation"),
    ],
)
def test_shorts_for_every_stop_kind(kind: str, bar: Bar, level: float, reason: str) -> None:
    """Stop: 100 x (1 + 5%) = 105. Trailing 10%: bar 1's low 90 is the best after bar 1, so bar
    2's stop is 90 x 1.1 = 99; bar 2 opens at 97 (not through it) and its high of 104 takes it.
    Liquidation: a 3x short sells 30 units at 100 (cash 1,000 + 3,000 = 4,000), liquidated where
    4,000 - 30p = 0.05 x 30p, p = 4,000 / 31.5 = 126.98; bar 1 opens below it and its high of 160
    reaches it."""
    if kind == "stop_loss":
        cfg, bars = replace(SHORTS, stop_loss=0.05), [FLAT, bar, FLAT]
    elif kind == "trailing":
        cfg = replace(SHORTS, trailing_stop=0.10)
        bars = [FLAT, (100, 101, 90, 91), bar]
    else:
        cfg = replace(SHORTS, leverage=3.0, maintenance_margin=0.05)
        bars, level = [FLAT, bar, FLAT], 4_000 / 31.5
    target = -3.0 if kind == "liquidation" else -1.0
    kernel, _ = both(bars, [target] * len(bars), cfg)
    qty = 30.0 if kind == "liquidation" else 10.0
    exit_bar = 2 if kind == "trailing" else 1
    assert fills(kernel)[-1] == (exit_bar, "buy", qty, round(level, 9), reason)
    assert kernel.trade_pnl.tolist() == [pytest.approx(qty * (100.0 - level))]


def test_gap_through_a_trailing_stop_fills_at_the_open() -> None:
    """Trailing 10% from the best 120 (after bar 2): 108; bar 3 opens at 100, below it: the exit
    fills at the open, 100, not at 108. Short mirror: best 80, stop 88, bar opens at 95: 95."""
    cfg = replace(SHORTS, trailing_stop=0.10)
    bars = [FLAT, FLAT, (104, 120, 103, 118), (100, 101, 95, 96)]
    kernel, _ = both(bars, [1, 1, 1, 1], cfg)
    assert fills(kernel)[-1] == (3, "sell", 10.0, 100.0, "trailing_stop")
    short_bars = [FLAT, FLAT, (96, 97, 80, 82), (95, 99, 94, 98)]
    short, _ = both(short_bars, [-1, -1, -1, -1], cfg)
    assert fills(short)[-1] == (3, "buy", 10.0, 95.0, "trailing_stop")
    assert short.trade_pnl.tolist() == [pytest.approx(50.0)]


def test_gap_beyond_a_ladder_level_fills_at_the_open_before_a_stop() -> None:
    """Long 10 at 100, ladder +5% half, stop 10%; bar 2 opens at 106 (beyond the 105 level) and
    falls to 85: the open came first, so 5 sold at 106, then the stop takes the other 5 at 90:
    5 x 6 + 5 x (-10) = -20."""
    cfg = replace(BASE, stop_loss=0.10, scale_out=[(0.05, 0.5)])
    kernel, _ = both([FLAT, FLAT, (106, 107, 85, 88)], [1, 1, 1], cfg)
    assert fills(kernel)[1:] == [
        (2, "sell", 5.0, 106.0, "scale_out"),
        (2, "sell", 5.0, 90.0, "stop_loss"),
    ]
    assert kernel.trade_pnl.tolist() == [pytest.approx(-20.0)]


def test_ladder_with_fees_lots_and_min_notional() -> None:
    """1% fee, lot 1, min notional 300: 9 units at 100 (1,000 / 101 = 9.9), cash 91. Ladder +10%
    half: floor(4.5) = 4 units at 110 = 440 >= 300, fee 4.40; +20% quarter: floor(2.25) = 2 at
    120 = 240 < 300: rejected and counted. Cash 91 + 440 - 4.40 = 526.60; 5 units at 120."""
    cfg = replace(BASE, execution=COSTLY, lot_size=1.0, min_notional=300.0,
                  scale_out=[(0.1, 0.5), (0.2, 0.25)])  # fmt: skip
    kernel, _ = both([FLAT, FLAT, (100, 125, 100, 120)], [1, 1, 1], cfg)
    assert fills(kernel)[1:] == [(2, "sell", 4.0, 110.0, "scale_out")]
    assert kernel.rejected_min_notional == 1 and kernel.open_position == 5.0
    assert kernel.final_equity == pytest.approx(526.6 + 5 * 120.0)


def test_reversal_with_fees() -> None:
    """2x, 1% fee, lot 1. Bar 1: 10 units at 100 (1,000 / 100; a leveraged buy is not capped to
    the cash), fee 10: cash -10. Bar 2 at 110: equity -10 + 1,100 = 1,090, -1 means -9.909 ->
    -19.909 to sell, floored to 19: one sell of 19 at 110 (notional 2,090, fee 20.90). The closed
    trade gets 10/19 of the fee: 10 x 10 - 10 - 11.00 = 79; the new short of 9 carries -9.90."""
    cfg = replace(BASE, execution=COSTLY, lot_size=1.0, leverage=2.0)
    kernel, _ = both([FLAT, FLAT, (110, 110, 110, 110), (110, 110, 110, 110)], [1, -1, -1, -1], cfg)
    assert fills(kernel) == [(1, "buy", 10.0, 100.0, "signal"), (2, "sell", 19.0, 110.0, "signal")]
    assert kernel.trade_pnl.tolist() == [pytest.approx(79.0)]
    assert kernel.open_position == -9.0 and kernel.open_pnl == pytest.approx(-9.9)
    assert kernel.final_equity == pytest.approx(-10.0 + 2_090 - 20.9 - 9 * 110.0)


def test_opens_that_differ_from_closes() -> None:
    """Fills at the opens, marks at the closes: buy 10 at bar 1's open 100 (close 104: equity
    1,040); target 0.5 at bar 1's close, filled at bar 2's open 102: equity 1,020, 5 units wanted,
    sell 5 at 102 (cash 510); bar 2 closes at 98: 510 + 5 x 98 = 1,000."""
    bars = [(99, 100, 98, 100), (100, 105, 99, 104), (102, 103, 97, 98)]
    kernel, _ = both(bars, [1, 0.5, 0.5], BASE)
    assert fills(kernel) == [(1, "buy", 10.0, 100.0, "signal"), (2, "sell", 5.0, 102.0, "signal")]
    assert kernel.equity["equity"].to_list() == pytest.approx([1_000.0, 1_040.0, 1_000.0])
