"""Portfolio conformance (docs/backtesting.md, "Portfolios"): shared cash, sells before buys,
proportional scaling of buys a spot book cannot afford, the rebalancing band and schedule, per-asset
min notional and lots, perp funding on a carry, end of run. Each scenario's fills are worked out by
hand here, and the numba kernel and the Python reference must both produce them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel, FillTiming
from drydock.fills import portfolio_reference as ref
from drydock.fills.portfolio_model import PortfolioConfig, align_bars
from research.engine.portfolio import run_portfolio

FREE = ExecutionModel(init_cash=1_000.0, taker_fee=0.0, slippage_bps=0.0)
PCT = ExecutionModel(init_cash=1_000.0, taker_fee=0.01, slippage_bps=0.0)
BASE = PortfolioConfig(execution=FREE, lot_size=1e-8)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def frame(opens: list[float], closes: list[float]) -> pl.DataFrame:
    ts = [T0 + timedelta(hours=i) for i in range(len(opens))]
    hi = [max(o, c) for o, c in zip(opens, closes, strict=True)]
    lo = [min(o, c) for o, c in zip(opens, closes, strict=True)]
    return pl.DataFrame(
        {"ts": ts, "open": opens, "high": hi, "low": lo, "close": closes, "volume": 1e9}
    ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")), pl.all().exclude("ts").cast(float))


def both(
    assets: dict[str, tuple[list[float], list[float]]],
    weights: list[list[float]],
    cfg: PortfolioConfig = BASE,
    funding: dict[str, list[float]] | None = None,
) -> tuple[Any, Any]:
    """Kernel result and reference run; asserts they agree fill for fill and bar for bar."""
    bars = {s: frame(o, c) for s, (o, c) in assets.items()}
    ts = next(iter(bars.values()))["ts"]
    fund = {s: pl.DataFrame({"ts": ts, "rate": r}) for s, r in (funding or {}).items()}
    kernel = run_portfolio(bars, np.array(weights, dtype=float), cfg, funding=fund or None)
    opens = [list(r) for r in zip(*(o for o, _ in assets.values()), strict=True)]
    closes = [list(r) for r in zip(*(c for _, c in assets.values()), strict=True)]
    rates = None
    if funding:
        rates = [[funding.get(s, [0.0] * len(ts))[t] for s in assets] for t in range(len(ts))]
    loop = ref.simulate(opens, closes, weights, cfg, rates)
    np.testing.assert_allclose(kernel.equity_values, loop.equity, rtol=1e-12)
    np.testing.assert_allclose(kernel.position_values, loop.positions, atol=1e-12)
    want = np.array([(b, j, q, p, f, int(r)) for b, j, q, p, f, r in loop.book.orders])
    np.testing.assert_allclose(kernel.order_records, want.reshape(-1, 6), rtol=1e-12)
    np.testing.assert_allclose(kernel.trade_records, np.array(loop.book.trades).reshape(-1, 2),
                               rtol=1e-12)  # fmt: skip
    assert kernel.rejected_min_notional == loop.book.rejected
    assert kernel.skipped_by_band == loop.book.skipped
    assert kernel.ruined == (loop.book.ruined_at >= 0)
    return kernel, loop


def fills(kernel: Any) -> list[tuple[int, str, str, float, float]]:
    return [(r["bar"], r["symbol"], r["side"], round(r["qty"], 8), round(r["price"], 8))
            for r in kernel.orders.iter_rows(named=True)]  # fmt: skip


def test_shared_cash_splits_equity_at_the_next_open_and_marks_each_close() -> None:
    # 1,000 cash, 50/50 decided at bar 0's close: A 500/100 = 5 units, B 500/50 = 10 at bar 1's
    # open; equity at bar 1's close = 5*110 + 10*40 = 950, at bar 2's = 5*120 + 10*45 = 1050.
    k, _ = both(
        {"A": ([100, 100, 110], [100, 110, 120]), "B": ([50, 50, 40], [50, 40, 45])},
        [[0.5, 0.5]] * 3,
    )
    assert fills(k) == [(1, "A", "buy", 5.0, 100.0), (1, "B", "buy", 10.0, 50.0)]
    assert k.equity_values.tolist() == pytest.approx([1000, 950, 1050], rel=1e-12)
    assert k.notes and "still open" in k.notes[0]


def test_rotation_sells_first_and_scales_the_buy_a_spot_book_cannot_afford() -> None:
    # All in B (lot 0.01, fee 1%): 1000/50 = 20 units would cost 1010 with fee, so the buy is
    # scaled by 1000/1010 and floored to 19.80 (fee 9.90, cash 0.10). At bar 3's open the weights
    # rotate to A: equity 0.10 + 19.8*50 = 990.10. B is sold first (cash 0.10 + 990 - 9.90 =
    # 980.20), then A's 9.901 -> 9.90 units (cost 999.90 > 980.20) scale to 9.70 (fee 9.70,
    # cash 0.50); equity 0.50 + 970 = 970.50. B's round trip lost its two fees: -19.80.
    flat = [100.0] * 5
    half = [50.0] * 5
    k, _ = both(
        {"A": (flat, flat), "B": (half, half)},
        [[0, 1], [0, 1], [1, 0], [1, 0], [1, 0]],
        replace(BASE, execution=PCT, lot_size=0.01),
    )
    assert fills(k) == [
        (1, "B", "buy", 19.8, 50.0),
        (3, "B", "sell", 19.8, 50.0),
        (3, "A", "buy", 9.7, 100.0),
    ]
    assert k.equity_values[-1] == pytest.approx(970.5, rel=1e-12)
    np.testing.assert_allclose(k.trade_records, [[1, -19.8]], rtol=1e-12)
    assert k.fees_paid == pytest.approx(9.9 + 9.9 + 9.7, rel=1e-12)


def test_buys_beyond_the_cash_are_scaled_alike_not_first_come() -> None:
    # 50/50 with a 1% fee: 5 A + 10 B cost 1010; both scale by 1000/1010 and floor to the 0.001
    # lot: 4.950 A and 9.900 B (a first-come rule, as vectorbt's, would buy 5 A and 9.802 B).
    flat, half = [100.0] * 3, [50.0] * 3
    k, _ = both(
        {"A": (flat, flat), "B": (half, half)},
        [[0.5, 0.5]] * 3,
        replace(BASE, execution=PCT, lot_size=0.001),
    )
    assert fills(k) == [(1, "A", "buy", 4.95, 100.0), (1, "B", "buy", 9.9, 50.0)]
    assert k.equity_values[-1] == pytest.approx(1000 - 4.95 - 4.95, rel=1e-12)


def test_band_skips_small_drift_and_the_schedule_rebalances() -> None:
    # 50/50, rebalance every 2 bars. B rises 50 -> 52, so at bar 3's open equity is 1020 and the
    # drift trades are +0.1 A ($10) and -0.1923 B ($10): below a $20 band both are skipped (2
    # skips, the decision at bar 4 has no bar to fill at); with no band they trade, sells first.
    assets = {"A": ([100.0] * 5, [100.0] * 5), "B": ([50, 50, 52, 52, 52], [50, 52, 52, 52, 52])}
    every = replace(BASE, rebalance_every=2)
    banded, _ = both(assets, [[0.5, 0.5]] * 5, replace(every, min_trade_value=20.0))
    assert banded.skipped_by_band == 2
    assert len(banded.order_records) == 2
    free, _ = both(assets, [[0.5, 0.5]] * 5, every)
    # B's sell floors to 0.19230769 units and brings 9.99999988, a hair short of A's $10 buy:
    # spot never borrows, so the buy scales to 0.099999998 and floors to 0.09999999.
    assert fills(free)[2:] == [
        (3, "B", "sell", 0.19230769, 52.0),
        (3, "A", "buy", 0.09999999, 100.0),
    ]
    assert free.position_values[-1].tolist() == pytest.approx([5.09999999, 9.80769231], rel=1e-12)
    none, _ = both(assets, [[0.5, 0.5]] * 5)  # no schedule: constant weights trade once
    assert len(none.order_records) == 2


def test_min_notional_rejects_per_asset_and_counts() -> None:
    # $50 each: A's minimum is 10 (fills), B's is 100 (rejected and counted, never sent).
    flat, half = [100.0] * 3, [50.0] * 3
    k, _ = both(
        {"A": (flat, flat), "B": (half, half)},
        [[0.05, 0.05]] * 3,
        replace(BASE, min_notional=(10.0, 100.0)),
    )
    assert fills(k) == [(1, "A", "buy", 0.5, 100.0)]
    assert k.rejected_min_notional == 1


def test_lots_round_down_per_asset() -> None:
    # 1,000 at 30/30 of 333: 300/333 = 0.9009 -> 0.9 (lot 0.1) and -> 0.900 (lot 0.001).
    px = [333.0] * 3
    k, _ = both({"A": (px, px), "B": (px, px)}, [[0.3, 0.3]] * 3,
                replace(BASE, lot_size=(0.1, 0.001)))  # fmt: skip
    assert [q for *_, q, _ in fills(k)] == [0.9, 0.9]
    k2, _ = both({"A": (px, px), "B": (px, px)}, [[0.3, 0.3]] * 3,
                 replace(BASE, lot_size=(0.5, 0.0001)))  # fmt: skip
    assert [q for *_, q, _ in fills(k2)] == [0.5, 0.9009]


def test_carry_long_spot_short_perp_receives_positive_funding() -> None:
    # Long 5 spot, short 5 perp at 100: cash stays 1000. A +0.1% funding at bar 2's open is paid
    # by longs: the short perp receives 5 * 100 * 0.001 = 0.50, so equity is 1000.50.
    flat = [100.0] * 4
    k, _ = both(
        {"SPOT": (flat, flat), "PERP": (flat, flat)},
        [[0.5, -0.5]] * 4,
        replace(BASE, allow_short=True),
        funding={"PERP": [0.0, 0.0, 0.001, 0.0]},
    )
    assert fills(k) == [(1, "PERP", "sell", 5.0, 100.0), (1, "SPOT", "buy", 5.0, 100.0)]
    assert k.funding_paid == pytest.approx(-0.5)
    assert k.equity_values.tolist() == pytest.approx([1000, 1000, 1000.5, 1000.5], rel=1e-12)


def test_close_at_end_sells_every_position_at_the_last_close() -> None:
    k, _ = both(
        {"A": ([100, 100, 110], [100, 110, 120]), "B": ([50, 50, 40], [50, 40, 45])},
        [[0.5, 0.5]] * 3,
        replace(BASE, close_at_end=True),
    )
    assert fills(k)[2:] == [(2, "A", "sell", 5.0, 120.0), (2, "B", "sell", 10.0, 45.0)]
    assert k.equity_values[-1] == pytest.approx(1050.0)
    assert k.trade_records[:, 1].tolist() == pytest.approx([100.0, -50.0])
    assert not k.notes


def test_close_fills_trade_at_the_signal_close() -> None:
    cfg = replace(BASE, execution=replace(FREE, fill=FillTiming.CLOSE))
    k, _ = both(
        {"A": ([100, 100, 110], [100, 110, 120]), "B": ([50, 50, 40], [50, 40, 45])},
        [[0.5, 0.5]] * 3,
        cfg,
    )
    assert fills(k) == [(0, "A", "buy", 5.0, 100.0), (0, "B", "buy", 10.0, 50.0)]


# --- bad input: one clear error naming the bar and asset, the same rule as single-asset targets


def _two(n: int = 3) -> dict[str, pl.DataFrame]:
    return {"A": frame([100.0] * n, [100.0] * n), "B": frame([50.0] * n, [50.0] * n)}


@pytest.mark.parametrize(
    ("weights", "cfg", "message"),
    [
        ([[0.5, 0.5], [np.nan, 0.5], [0.5, 0.5]], BASE, "for A at 2024-01-01 01:00"),
        ([[0.5, 0.5], [0.7, 0.5], [0.5, 0.5]], BASE, "gross exposure of 1.2"),
        ([[0.5, -0.5], [0.5, 0.5], [0.5, 0.5]], BASE, "is a short"),
        ([[1.5, 1.0]] * 3, replace(BASE, leverage=2.0), "above the leverage cap 2"),
    ],
)
def test_bad_weights_are_refused_naming_bar_and_asset(
    weights: list[list[float]], cfg: PortfolioConfig, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        run_portfolio(_two(), np.array(weights), cfg)


def test_misaligned_bars_are_refused_and_align_bars_keeps_the_common_ones() -> None:
    bars = _two(4)
    bars["B"] = bars["B"].slice(1)
    with pytest.raises(ConfigError, match=r"do not share A's timestamps.*align_bars"):
        run_portfolio(bars, np.full((4, 2), 0.5), BASE)
    aligned = align_bars(bars)
    assert [f.height for f in aligned.values()] == [3, 3]
    assert run_portfolio(aligned, np.full((3, 2), 0.5), BASE).final_equity == pytest.approx(1000)


def test_weights_frame_needs_a_column_per_asset_and_a_row_per_bar() -> None:
    with pytest.raises(ConfigError, match="no column for B"):
        run_portfolio(_two(), pl.DataFrame({"A": [0.5] * 3}))
    with pytest.raises(ConfigError, match=r"shape \(2, 2\) for 3 bars"):
        run_portfolio(_two(), np.full((2, 2), 0.5))
    ok = run_portfolio(_two(), pl.DataFrame({"B": [0.5] * 3, "A": [0.25] * 3}), BASE)
    assert ok.position_values[-1].tolist() == pytest.approx([2.5, 10.0])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rebalance_every", 0, "rebalance_every=0"),
        ("min_trade_value", float("nan"), "min_trade_value=nan"),
        ("leverage", 0.0, "leverage=0.0"),
    ],
)
def test_config_is_validated_at_construction(field: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        replace(BASE, **{field: value})


def test_per_asset_lists_must_match_the_assets() -> None:
    with pytest.raises(ConfigError, match="3 values for 2 assets"):
        run_portfolio(_two(), np.full((3, 2), 0.5), replace(BASE, min_notional=(1.0, 2.0, 3.0)))


def test_min_notional_is_checked_at_the_fill_price() -> None:
    # 1% slippage, lot 1, min notional 100.5: 0.1 x 1,000 / 100 = 1 unit, filled at 101, a
    # notional of 101 >= 100.5 (the old check at the pre-slippage 100 rejected it, unlike the
    # paper venue). Its sale fills at 99 < 100.5: rejected and counted.
    slip = replace(FREE, slippage_bps=100.0)
    flat = [100.0] * 4
    cfg = replace(BASE, execution=slip, lot_size=1.0, min_notional=100.5)
    k, _ = both({"A": (flat, flat)}, [[0.1], [0.1], [0.0], [0.0]], cfg)
    assert fills(k) == [(1, "A", "buy", 1.0, 101.0)]
    assert k.rejected_min_notional == 1


@pytest.mark.parametrize(
    ("weights", "paid"),
    [
        # Bought at bar 0's close, sold at bar 1's close: held through 01:30, pays 10 x 100 x
        # 0.001 = 1 (the old rule charged it at bar 2's open, on nothing).
        ([[1.0], [0.0], [0.0], [0.0]], 1.0),
        # Bought at bar 1's close, after the stamp: pays nothing (the old rule charged 1).
        ([[0.0], [1.0], [1.0], [1.0]], 0.0),
    ],
)
def test_funding_inside_a_bar_with_close_fills_follows_the_holder(
    weights: list[list[float]], paid: float
) -> None:
    from research.engine.run import split_funding

    flat = [100.0] * 4
    bars = {"PERP": frame(flat, flat)}
    stamp = pl.DataFrame({"ts": [T0 + timedelta(minutes=90)], "rate": [0.001]}).with_columns(
        pl.col("ts").cast(pl.Datetime("us", "UTC"))
    )
    cfg = replace(BASE, execution=replace(FREE, fill=FillTiming.CLOSE))
    kernel = run_portfolio(bars, np.array(weights), cfg, funding={"PERP": stamp})
    at_open, inside = split_funding(bars["PERP"]["ts"], stamp)
    loop = ref.simulate([[o] for o in flat], [[c] for c in flat], weights, cfg,
                        [[r] for r in at_open], [[r] for r in inside])  # fmt: skip
    assert kernel.funding_paid == pytest.approx(paid) == loop.book.funding_paid
    np.testing.assert_allclose(kernel.equity_values, loop.equity, rtol=1e-12)
    assert kernel.equity_values[-1] == pytest.approx(1_000.0 - paid)


def test_a_ruined_book_is_liquidated_and_stops_trading() -> None:
    # 2x: 20 units of A at 100 (cash 1,000 - 2,000 = -1,000). A opens at 40 on bar 2; the weight
    # change to 1 decided at bar 2's close meets equity -1,000 + 20 x 40 = -200 at bar 3's open.
    # Sizing from it would want 1 x -200 / 40 = -5 units, a sale of 25 that turns the book short
    # and lets it 'recover' to 0 - 5 x 20 = -100 at bar 4; ruined instead: the 20 units are
    # liquidated at 40 (cash -1,000 + 800 = -200) and nothing trades after it.
    px = [100.0, 100.0, 40.0, 40.0, 20.0]
    cfg = replace(BASE, leverage=2.0)
    k, _ = both({"A": (px, px)}, [[2.0], [2.0], [1.0], [1.0], [0.5]], cfg)
    assert fills(k) == [(1, "A", "buy", 20.0, 100.0), (3, "A", "sell", 20.0, 40.0)]
    assert k.orders["reason"].to_list() == ["signal", "liquidation"]
    assert k.ruined and k.metrics["ruined"] == 1.0 and "ruined" in k.notes[0]
    assert k.equity_values.tolist() == pytest.approx([1000, 1000, -200, -200, -200], rel=1e-12)
