"""The vectorbt engine agrees with the plain-Python reference under the documented semantics."""

from __future__ import annotations

import numpy as np
import pytest

from drydock import metrics
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample
from research import reference
from research.backtest import backtest, backtest_frame, order_sizes, run_vectorbt
from research.semantics import ExecutionConfig
from strategies import get_strategy

BTC = SeriesKey("binance", "BTC/USDT", "1h")


@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize(("fast", "slow"), [(12, 26), (5, 60)])
def test_vectorbt_matches_reference_loop(fill: str, fast: int, slow: int) -> None:
    frame = read_sample(BTC)
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params({"fast": fast, "slow": slow})
    execution = ExecutionConfig(fill=fill)  # type: ignore[arg-type]
    result = backtest_frame(strategy, params, frame, BTC, execution)
    targets = reference.ema_cross_targets(frame["close"].to_list(), fast, slow)
    equity, pnls = reference.simulate(
        frame["open"].to_list(), frame["close"].to_list(), targets, execution
    )
    np.testing.assert_allclose(result.equity, equity, rtol=1e-9)
    np.testing.assert_allclose(result.trade_pnl, pnls, rtol=1e-7, atol=1e-6)
    assert result.metrics["trade_count"] == len(pnls) > 50


def test_next_open_fill_prices_and_sizes() -> None:
    """First entry: signal at bar t close, fill at t+1 open + 5 bps, qty floored to 0.00001."""
    frame = read_sample(BTC).head(400)
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params()
    target = strategy.signals(frame, params)["target"].to_numpy()
    pf = run_vectorbt(frame, target, ExecutionConfig(), "1h")
    first = pf.orders.records_readable.iloc[0]
    t = int(np.argmax(target == 1))
    fill_price = frame["open"][t + 1] * 1.0005
    assert first["Timestamp"] == frame["ts"][t + 1].replace(tzinfo=None)
    assert first["Price"] == pytest.approx(fill_price)
    expected_qty = np.floor(10_000 / (fill_price * 1.001) / 1e-5) * 1e-5
    assert first["Size"] == pytest.approx(expected_qty)
    assert first["Fees"] == pytest.approx(expected_qty * fill_price * 0.001)


def test_order_sizes_shift_by_one_bar_for_next_open() -> None:
    target = np.array([0, 1, 1, 0, 0, 1], dtype=float)
    sizes = order_sizes(target, "next_open")
    assert np.isnan(sizes[[0, 1, 3, 5]]).all()
    assert sizes[2] == np.inf and sizes[4] == -np.inf
    same_bar = order_sizes(target, "close")
    assert same_bar[1] == np.inf and same_bar[3] == -np.inf


def test_costs_lower_returns() -> None:
    frame = read_sample(BTC)
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params()
    free = backtest_frame(strategy, params, frame, BTC, ExecutionConfig(fee=0, slippage_bps=0))
    costly = backtest_frame(
        strategy, params, frame, BTC, ExecutionConfig(fee=0.002, slippage_bps=10)
    )
    assert costly.metrics["total_return"] < free.metrics["total_return"]


def test_metrics_agree_with_vectorbt_stats() -> None:
    frame = read_sample(BTC)
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params()
    result = backtest_frame(strategy, params, frame, BTC, ExecutionConfig())
    pf = run_vectorbt(
        frame, strategy.signals(frame, params)["target"].to_numpy(), ExecutionConfig(), "1h"
    )
    assert result.metrics["total_return"] == pytest.approx(pf.total_return(), rel=1e-12)
    assert result.metrics["max_drawdown"] == pytest.approx(pf.max_drawdown(), rel=1e-12)
    assert result.metrics["win_rate"] == pytest.approx(pf.trades.closed.win_rate(), rel=1e-12)
    assert result.metrics["profit_factor"] == pytest.approx(
        pf.trades.closed.profit_factor(), rel=1e-12
    )
    assert result.metrics["sharpe"] == pytest.approx(metrics.sharpe(pf.value().to_numpy(), 8760))


def test_backtest_reads_the_lake_window(btc_lake: SeriesKey) -> None:
    from datetime import UTC, datetime

    strategy = get_strategy("ema_cross")
    result = backtest(
        strategy, strategy.resolve_params(), btc_lake, start=datetime(2024, 2, 1, tzinfo=UTC)
    )
    assert result.bars == (29 + 31) * 24
    assert result.start == datetime(2024, 2, 1, tzinfo=UTC)
    assert len(result.data_fingerprint) == 16
