"""The portfolio engine against its peers on real bundled data: vectorbt's cash-sharing
target-percent portfolio gives the same equity and orders, and the numba kernel equals the Python
reference for random weights, costs, lots, bands, schedules, shorts and funding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drydock.execution import ExecutionModel, FillTiming
from drydock.fills import portfolio_reference as ref
from drydock.fills.portfolio_model import PortfolioConfig, align_bars
from drydock.sample import read_sample, read_sample_funding
from drydock.series import SeriesKey
from research.engine.portfolio import run_portfolio
from research.engine.run import align_funding

pytestmark = pytest.mark.integration  # vectorbt and reference loops over 1,000-2,184 bars

SPOT = ("BTC/USDT", "SOL/USDT")  # the bundled spot series that overlap: 1,000 bars of 2024
CARRY = ("BTC/USDT", "BTC/USDT:USDT")  # spot + perp over 2024-Q1 (2,184 bars, funding)


def _bars(symbols: tuple[str, ...]) -> dict[str, pl.DataFrame]:
    return align_bars({s: read_sample(SeriesKey("binance", s, "1h")) for s in symbols})


def _random_weights(n: int, k: int, seed: int, gross: float, shorts: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros((n, k))
    row = np.zeros(k)
    for t in range(n):
        if t % int(rng.integers(12, 120)) == 0:
            row = rng.dirichlet(np.ones(k)) * gross * rng.uniform(0.3, 1.0)
            if shorts:
                row *= rng.choice([-1.0, 1.0], size=k)
            row[rng.random(k) < 0.2] = 0.0
        out[t] = row
    return out


def test_same_equity_and_orders_as_vectorbt_cash_sharing() -> None:
    """vectorbt ``from_orders`` with ``targetpercent`` sizes, one cash-sharing group, sells first
    (``call_seq='auto'``), fills at the next open: weights decided at t's close are its orders at
    t+1. Gross weights stay below 0.95 so no buy is cash-limited (where the two rules differ:
    vectorbt fills buys first come, we scale them alike)."""
    import vectorbt as vbt

    bars = _bars(SPOT)
    n = bars[SPOT[0]].height
    w = _random_weights(n, 2, seed=7, gross=0.95, shorts=False)
    cfg = PortfolioConfig(
        execution=ExecutionModel(init_cash=10_000, taker_fee=0.001, fixed_fee=0.5,
                                 slippage_bps=5.0),
        lot_size=1e-12,
    )  # fmt: skip
    ours = run_portfolio(bars, w, cfg)
    idx = pd.DatetimeIndex(bars[SPOT[0]]["ts"].to_list())
    frame = {c: pd.DataFrame(np.column_stack([bars[s][c].to_numpy() for s in SPOT]), index=idx,
                             columns=list(SPOT)) for c in ("open", "close")}  # fmt: skip
    size = np.full((n, 2), np.nan)
    changed = np.r_[True, (np.diff(w, axis=0) != 0).any(axis=1)]
    for t in np.flatnonzero(changed[:-1]):
        size[t + 1] = w[t]
    peer = vbt.Portfolio.from_orders(
        close=frame["close"], price=frame["open"], size=pd.DataFrame(size, index=idx,
        columns=list(SPOT)), size_type="targetpercent", fees=0.001, fixed_fees=0.5,
        slippage=0.0005, init_cash=10_000, group_by=True, cash_sharing=True, call_seq="auto",
        freq="1h",
    )  # fmt: skip
    assert len(ours.order_records) == int(peer.orders.count().sum()) > 20
    np.testing.assert_allclose(ours.equity_values, peer.value().to_numpy(), rtol=1e-9)
    assert ours.fees_paid == pytest.approx(float(peer.orders.fees.sum()), rel=1e-9)


def _reference(bars: dict[str, pl.DataFrame], w: np.ndarray, cfg: PortfolioConfig,
               rates: np.ndarray | None) -> ref.PortfolioRun:  # fmt: skip
    opens = np.column_stack([f["open"].to_numpy() for f in bars.values()]).tolist()
    closes = np.column_stack([f["close"].to_numpy() for f in bars.values()]).tolist()
    return ref.simulate(opens, closes, w.tolist(), cfg, None if rates is None else rates.tolist())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    carry=st.booleans(),
    leverage=st.sampled_from([1.0, 2.0]),
    band=st.sampled_from([0.0, 50.0]),
    every=st.sampled_from([None, 24]),
    lots=st.sampled_from([1e-8, (0.001, 0.01)]),
    fill=st.sampled_from([FillTiming.NEXT_OPEN, FillTiming.CLOSE]),
)
def test_kernel_equals_reference_on_real_bars(
    seed: int, carry: bool, leverage: float, band: float, every: int | None,
    lots: float | tuple[float, float], fill: FillTiming,
) -> None:  # fmt: skip
    symbols = CARRY if carry else SPOT
    bars = _bars(symbols)
    n = bars[symbols[0]].height
    w = _random_weights(n, 2, seed, gross=leverage, shorts=carry or leverage > 1)
    cfg = PortfolioConfig(
        execution=ExecutionModel(init_cash=10_000, taker_fee=0.0004, fixed_fee=0.1,
                                 slippage_bps=2.0, fill=fill),
        lot_size=lots, min_notional=(10.0, 100.0), leverage=leverage, allow_short=True,
        min_trade_value=band, rebalance_every=every, close_at_end=bool(seed % 2),
    )  # fmt: skip
    funding = None
    rates = None
    if carry:
        funding = {"BTC/USDT:USDT": read_sample_funding("binance", "BTC/USDT:USDT")}
        rates = np.zeros((n, 2))
        rates[:, 1] = align_funding(bars[symbols[0]]["ts"], funding["BTC/USDT:USDT"])
    kernel = run_portfolio(bars, w, cfg, funding=funding)
    loop = _reference(bars, w, cfg, rates)
    np.testing.assert_allclose(kernel.equity_values, loop.equity, rtol=1e-9)
    assert len(kernel.order_records) == len(loop.book.orders)
    np.testing.assert_allclose(kernel.position_values, loop.positions, rtol=1e-9, atol=1e-9)
    assert kernel.rejected_min_notional == loop.book.rejected
    assert kernel.skipped_by_band == loop.book.skipped
    assert kernel.funding_paid == pytest.approx(loop.book.funding_paid, rel=1e-9, abs=1e-9)
    if carry:
        assert kernel.funding_paid != 0.0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(3, 6))
def test_kernel_equals_reference_on_many_assets(seed: int, k: int) -> None:
    """Three to six assets of seeded geometric random walks (the bundled series overlap in at most
    two assets), spot, with cash-limited buys exercised by gross weights up to 1."""
    rng = np.random.default_rng(seed)
    n = 400
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, k)), axis=0))
    opens = np.vstack([closes[:1], closes[:-1]]) * np.exp(rng.normal(0, 0.002, (n, k)))
    ts = pl.datetime_range(pl.datetime(2024, 1, 1, time_zone="UTC"),
                           pl.datetime(2024, 1, 1, time_zone="UTC") + pl.duration(hours=n - 1),
                           "1h", eager=True).cast(pl.Datetime("us", "UTC"))  # fmt: skip
    bars = {
        f"A{j}": pl.DataFrame({"ts": ts, "open": opens[:, j], "high": np.maximum(opens[:, j],
                               closes[:, j]), "low": np.minimum(opens[:, j], closes[:, j]),
                               "close": closes[:, j], "volume": 1e6})
        for j in range(k)
    }  # fmt: skip
    w = _random_weights(n, k, seed, gross=1.0, shorts=False)
    cfg = PortfolioConfig(
        execution=ExecutionModel(init_cash=5_000, taker_fee=0.001, slippage_bps=5.0),
        lot_size=0.01,
        min_notional=20.0,
        rebalance_every=10,
        min_trade_value=5.0,
    )
    kernel = run_portfolio(bars, w, cfg)
    loop = _reference(bars, w, cfg, None)
    np.testing.assert_allclose(kernel.equity_values, loop.equity, rtol=1e-9)
    assert len(kernel.order_records) == len(loop.book.orders)
    assert (kernel.equity_values > 0).all()
    assert kernel.position_values.min() >= 0  # spot: never short
    cash = kernel.equity_values - (kernel.position_values * closes).sum(axis=1)
    assert cash.min() >= -1e-9  # and never borrowed
