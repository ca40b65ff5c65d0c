"""Metrics against values computed by hand (the arithmetic is in the comments, not in the code)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drydock import metrics

# equity 100 -> 110 -> 99 -> 121
# returns r = +0.1, -0.1, +22/99 = +0.2222222
# mean(r) = (0.1 - 0.1 + 0.2222222) / 3 = 2/27 = 0.0740741
# deviations from the mean, in 270ths: +7, -47, +40 -> squares 49 + 2209 + 1600 = 3858
# sample variance = 3858 / 270^2 / 2 = 0.0264609 -> std = 0.1626681
# downside deviation (target 0, all periods) = sqrt((0 + 0.01 + 0) / 3) = 0.0577350
EQUITY = [100.0, 110.0, 99.0, 121.0]


def test_total_return_and_cagr() -> None:
    assert metrics.total_return(EQUITY) == pytest.approx(0.21)  # 121 / 100 - 1
    assert metrics.cagr(EQUITY, 3) == pytest.approx(0.21)  # 3 periods = 1 year
    assert metrics.cagr(EQUITY, 6) == pytest.approx(0.4641)  # half a year: 1.21^2 - 1
    assert metrics.cagr(EQUITY, 1) == pytest.approx(0.0656022, rel=1e-6)  # 3 years: 1.21^(1/3)-1


def test_cagr_of_a_short_history_with_a_large_move_is_nan_not_inf_and_warns_nothing() -> None:
    """Regression (issue 20): the conformance scenarios overflowed ``x ** y`` (RuntimeWarning)."""
    import warnings

    short = [100.0, 120.0, 150.0]  # +50% over two 1m periods, annualised over 525,600 a year
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(metrics.cagr(short, 525_600))
        assert math.isnan(metrics.calmar(short, 525_600))
        assert metrics.cagr([100.0, 99.0, 98.0], 525_600) == pytest.approx(-1.0)  # underflows to -1
    # the largest annualisation that still fits: 1.5 ** 1749 ~ 1.3e308
    assert math.isfinite(metrics.cagr([100.0, 150.0], 1749))


def test_volatility_sharpe_sortino() -> None:
    # P = 4 periods a year -> sqrt(P) = 2
    assert metrics.annualized_volatility(EQUITY, 4) == pytest.approx(0.3253362, rel=1e-6)
    assert metrics.sharpe(EQUITY, 4) == pytest.approx(0.9107389, rel=1e-6)  # 0.0740741/0.16267*2
    assert metrics.sortino(EQUITY, 4) == pytest.approx(2.5660011, rel=1e-6)  # 0.0740741/0.05774*2
    assert metrics.sharpe(EQUITY, 16) == pytest.approx(2 * 0.9107389, rel=1e-6)  # scales sqrt(P)


def test_drawdown_duration_and_calmar() -> None:
    # running peak 100, 110, 110, 121 -> drawdowns 0, 0, -10%, 0
    assert metrics.drawdown_series(EQUITY).tolist() == pytest.approx([0, 0, -0.1, 0])
    assert metrics.max_drawdown(EQUITY) == pytest.approx(-0.1)
    assert metrics.max_drawdown_duration(EQUITY) == 1
    assert metrics.calmar(EQUITY, 3) == pytest.approx(2.1)  # 0.21 / 0.10
    # peaks 100 100 100 100 100 120 120 130 -> dd 0 -.1 -.05 -.2 0 0 -.5 0
    # underwater runs: bars 1-3 (3 bars; touching the old peak at bar 4 ends it), bar 6 (1 bar)
    two_dips = [100.0, 90.0, 95.0, 80.0, 100.0, 120.0, 60.0, 130.0]
    assert metrics.max_drawdown(two_dips) == pytest.approx(-0.5)
    assert metrics.max_drawdown_duration(two_dips) == 3
    # a curve that ends underwater counts its open drawdown: 100 -> 80 -> 90 is 2 bars below 100
    assert metrics.max_drawdown_duration([100.0, 80.0, 90.0]) == 2
    assert metrics.max_drawdown([100.0, 80.0, 90.0]) == pytest.approx(-0.2)


def test_trade_statistics() -> None:
    pnl = [10.0, -5.0, 20.0, -5.0, 0.0]
    assert metrics.win_rate(pnl) == pytest.approx(0.4)  # 2 of 5; a zero trade is not a win
    assert metrics.profit_factor(pnl) == pytest.approx(3.0)  # (10 + 20) / (5 + 5)
    assert metrics.expectancy(pnl) == pytest.approx(4.0)  # 20 / 5
    assert metrics.win_rate([-1.0, -2.0]) == 0.0
    assert metrics.profit_factor([-1.0, -2.0]) == 0.0  # 0 / 3
    assert metrics.expectancy([-1.0, -2.0]) == pytest.approx(-1.5)
    assert metrics.profit_factor([1.0, 2.0]) == math.inf  # no losing trade
    assert math.isnan(metrics.profit_factor([0.0, 0.0]))  # neither gain nor loss


def test_exposure_counts_long_and_short_bars() -> None:
    assert metrics.exposure([0.0, 1.0, -1.0, 0.0, 0.5]) == pytest.approx(0.6)  # 3 of 5 bars
    assert metrics.exposure([0.0, 0.0]) == 0.0
    assert math.isnan(metrics.exposure([]))


def test_no_trades_is_nan_and_a_zero_count() -> None:
    for stat in (metrics.win_rate, metrics.profit_factor, metrics.expectancy):
        assert math.isnan(stat([]))
    summary = metrics.summarize(EQUITY, [], 3)
    assert summary["trade_count"] == 0
    assert math.isnan(summary["win_rate"]) and math.isnan(summary["expectancy"])
    assert summary["total_return"] == pytest.approx(0.21)  # equity metrics still computed


def test_flat_equity_is_zero_or_nan_not_a_crash() -> None:
    flat = [100.0] * 5
    assert metrics.total_return(flat) == 0.0
    assert metrics.cagr(flat, 365) == 0.0
    assert metrics.annualized_volatility(flat, 365) == 0.0
    assert math.isnan(metrics.sharpe(flat, 365))  # 0 / 0
    assert math.isnan(metrics.sortino(flat, 365))  # 0 / 0
    assert metrics.max_drawdown(flat) == 0.0
    assert metrics.max_drawdown_duration(flat) == 0
    assert math.isnan(metrics.calmar(flat, 365))  # no drawdown to divide by


def test_degenerate_curves() -> None:
    rising = [100.0, 101.0, 103.0]
    assert metrics.sortino(rising, 365) == math.inf  # no downside at all
    assert math.isnan(metrics.calmar(rising, 365))
    single = [100.0]
    assert math.isnan(metrics.cagr(single, 365))  # zero periods
    assert math.isnan(metrics.annualized_volatility(single, 365))
    assert math.isnan(metrics.sharpe(single, 365))
    wiped = [100.0, 50.0, 0.0]
    assert metrics.cagr(wiped, 365) == -1.0
    assert metrics.total_return(wiped) == -1.0
    assert metrics.max_drawdown(wiped) == -1.0


def test_nan_equity_propagates_instead_of_being_skipped() -> None:
    gap = [100.0, math.nan, 110.0]
    assert metrics.total_return(gap) == pytest.approx(0.1)  # endpoints only
    assert math.isnan(metrics.sharpe(gap, 365))
    assert math.isnan(metrics.annualized_volatility(gap, 365))
    assert math.isnan(metrics.max_drawdown(gap))
    assert math.isnan(metrics.expectancy([1.0, math.nan]))


def test_summarize_matches_the_hand_values() -> None:
    summary = metrics.summarize(EQUITY, [10.0, -5.0], 4)
    assert set(summary) == set(metrics.METRIC_NAMES)
    expected = {
        "total_return": 0.21,
        "cagr": 1.21 ** (4 / 3) - 1,  # 0.2893
        "volatility": 0.3253362,
        "sharpe": 0.9107389,
        "sortino": 2.5660011,
        "calmar": (1.21 ** (4 / 3) - 1) / 0.1,
        "max_drawdown": -0.1,
        "max_drawdown_duration": 1.0,
        "win_rate": 0.5,
        "profit_factor": 2.0,  # 10 / 5
        "expectancy": 2.5,
        "trade_count": 2.0,
    }
    assert summary == pytest.approx(expected, rel=1e-6)


def test_format_metric_as_the_cli_prints_it() -> None:
    assert metrics.format_metric("total_return", 0.21) == "21.00%"
    assert metrics.format_metric("max_drawdown", -0.1) == "-10.00%"
    assert metrics.format_metric("sharpe", 0.9107389) == "0.911"
    assert metrics.format_metric("profit_factor", math.inf) == "inf"
    assert metrics.format_metric("trade_count", 1234.0) == "1,234"
    assert metrics.format_metric("max_drawdown_duration", 3.0) == "3"
    assert metrics.format_metric("sharpe", math.nan) == "n/a"


@given(st.lists(st.floats(min_value=1, max_value=1e6), min_size=1, max_size=200))
def test_drawdown_duration_matches_a_plain_loop(equity: list[float]) -> None:
    peak, run, longest = -math.inf, 0, 0
    for value in equity:
        peak = max(peak, value)
        run = run + 1 if value < peak else 0
        longest = max(longest, run)
    assert metrics.max_drawdown_duration(equity) == longest
