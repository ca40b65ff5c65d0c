"""Metrics against values computed by hand (see the comments for the arithmetic)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drydock import metrics

# equity 100 -> 110 -> 99 -> 121: returns +10%, -10%, +22.2222%
EQUITY = [100.0, 110.0, 99.0, 121.0]
# mean r = 0.0740741; sample std (ddof=1) = sqrt(0.0529218 / 2) = 0.1626681
MEAN_R = (0.1 - 0.1 + 22 / 99) / 3
STD_R = 0.16266808


def test_total_return_and_cagr() -> None:
    assert metrics.total_return(EQUITY) == pytest.approx(0.21)
    # three periods make one year at 3 periods/year, half a year at 6
    assert metrics.cagr(EQUITY, 3) == pytest.approx(0.21)
    assert metrics.cagr(EQUITY, 6) == pytest.approx(1.21**2 - 1)


def test_volatility_sharpe_sortino() -> None:
    assert pytest.approx(0.0740741, rel=1e-6) == MEAN_R
    assert metrics.annualized_volatility(EQUITY, 4) == pytest.approx(STD_R * 2, rel=1e-6)
    assert metrics.sharpe(EQUITY, 4) == pytest.approx(0.910736, rel=1e-5)
    # downside deviation = sqrt((0 + 0.01 + 0) / 3) = 0.0577350
    assert metrics.sortino(EQUITY, 4) == pytest.approx(MEAN_R / 0.0577350 * 2, rel=1e-5)
    assert metrics.sortino(EQUITY, 4) == pytest.approx(2.566001, rel=1e-5)


def test_drawdown_and_calmar() -> None:
    # running peak 100, 110, 110, 121 -> drawdowns 0, 0, -10%, 0
    assert metrics.drawdown_series(EQUITY).tolist() == pytest.approx([0, 0, -0.1, 0])
    assert metrics.max_drawdown(EQUITY) == pytest.approx(-0.1)
    assert metrics.max_drawdown_duration(EQUITY) == 1
    assert metrics.max_drawdown_duration([10, 9, 8, 9, 10, 11, 10]) == 3
    assert metrics.calmar(EQUITY, 3) == pytest.approx(0.21 / 0.1)


def test_trade_statistics() -> None:
    pnl = [10.0, -5.0, 20.0, -5.0]
    assert metrics.win_rate(pnl) == 0.5
    assert metrics.profit_factor(pnl) == pytest.approx(3.0)  # 30 / 10
    assert metrics.expectancy(pnl) == pytest.approx(5.0)
    assert metrics.profit_factor([1.0, 2.0]) == math.inf
    assert math.isnan(metrics.win_rate([]))
    assert metrics.exposure([0, 1, 1, 0]) == 0.5


def test_flat_equity_is_nan_not_a_crash() -> None:
    flat = [100.0] * 5
    assert math.isnan(metrics.sharpe(flat, 365))
    assert metrics.max_drawdown(flat) == 0
    assert math.isnan(metrics.calmar(flat, 365))


def test_summarize_has_every_metric() -> None:
    summary = metrics.summarize(EQUITY, [10.0, -5.0], 3)
    assert set(summary) == set(metrics.METRIC_NAMES)
    assert summary["trade_count"] == 2
    assert summary["total_return"] == pytest.approx(0.21)


@given(st.lists(st.floats(min_value=1, max_value=1e6), min_size=1, max_size=200))
def test_drawdown_duration_matches_a_plain_loop(equity: list[float]) -> None:
    peak, run, longest = -math.inf, 0, 0
    for value in equity:
        peak = max(peak, value)
        run = run + 1 if value < peak else 0
        longest = max(longest, run)
    assert metrics.max_drawdown_duration(equity) == longest
