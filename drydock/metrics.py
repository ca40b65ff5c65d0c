"""Performance metrics shared by research, the app and the live runner.

Conventions (all documented per function and tested against hand-computed values):
- ``equity`` is the account value at each bar close, including the starting value at index 0.
- Period returns are simple: ``r_t = equity_t / equity_{t-1} - 1``.
- Annualization uses ``periods_per_year`` (crypto trades 24/7: 8,760 for 1h, 365 for 1d).
- Risk-free rate is 0. Standard deviations use ``ddof=1`` (sample), as vectorbt and pandas do.
- Drawdowns are reported as negative fractions (-0.25 = 25% below the running peak).
- Trade statistics take per-trade PnL (in money or return units; ratios are unit-free).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "METRIC_NAMES",
    "FloatArray",
    "annualized_volatility",
    "cagr",
    "calmar",
    "drawdown_series",
    "expectancy",
    "exposure",
    "format_metric",
    "max_drawdown",
    "max_drawdown_duration",
    "period_returns",
    "profit_factor",
    "sharpe",
    "sortino",
    "summarize",
    "total_return",
    "win_rate",
]

FloatArray = npt.NDArray[np.float64]


def _arr(values: Sequence[float] | FloatArray) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def period_returns(equity: Sequence[float] | FloatArray) -> FloatArray:
    """Simple returns between consecutive equity points (length n-1)."""
    eq = _arr(equity)
    return eq[1:] / eq[:-1] - 1.0


def total_return(equity: Sequence[float] | FloatArray) -> float:
    """``equity[-1] / equity[0] - 1``."""
    eq = _arr(equity)
    return float(eq[-1] / eq[0] - 1.0)


#: The largest exponent whose exp() is a finite float64 (log of 1.797e308, ~709.78).
_MAX_EXP = math.log(sys.float_info.max)


def cagr(equity: Sequence[float] | FloatArray, periods_per_year: float) -> float:
    """Compound annual growth: ``(equity[-1]/equity[0]) ** (periods_per_year / (n-1)) - 1``,
    computed in log space. NaN (n/a) when the annualised growth does not fit a float (a short
    history with a large move, e.g. +50% over 3 one-minute bars), never inf."""
    eq = _arr(equity)
    periods = len(eq) - 1
    if periods <= 0 or eq[-1] <= 0:
        return float("nan") if periods <= 0 else -1.0
    exponent = math.log(eq[-1] / eq[0]) * (periods_per_year / periods)
    if not math.isfinite(exponent) or exponent > _MAX_EXP:
        return float("nan")
    return math.expm1(exponent)


def annualized_volatility(equity: Sequence[float] | FloatArray, periods_per_year: float) -> float:
    """``std(r, ddof=1) * sqrt(periods_per_year)``."""
    r = period_returns(equity)
    return float(np.std(r, ddof=1) * math.sqrt(periods_per_year)) if len(r) > 1 else float("nan")


def sharpe(equity: Sequence[float] | FloatArray, periods_per_year: float) -> float:
    """``mean(r) / std(r, ddof=1) * sqrt(periods_per_year)``; NaN when returns never vary."""
    r = period_returns(equity)
    sd = float(np.std(r, ddof=1)) if len(r) > 1 else 0.0
    return float(np.mean(r) / sd * math.sqrt(periods_per_year)) if sd > 0 else float("nan")


def sortino(equity: Sequence[float] | FloatArray, periods_per_year: float) -> float:
    """``mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(periods_per_year)`` (target 0, all periods)."""
    r = period_returns(equity)
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2))) if len(r) else 0.0
    if downside == 0:
        return float("inf") if len(r) and np.mean(r) > 0 else float("nan")
    return float(np.mean(r) / downside * math.sqrt(periods_per_year))


def drawdown_series(equity: Sequence[float] | FloatArray) -> FloatArray:
    """``equity / running_max(equity) - 1`` at each point (0 at new highs)."""
    eq = _arr(equity)
    return eq / np.maximum.accumulate(eq) - 1.0


def max_drawdown(equity: Sequence[float] | FloatArray) -> float:
    """Most negative value of :func:`drawdown_series` (0 when equity never falls)."""
    return float(drawdown_series(equity).min())


def max_drawdown_duration(equity: Sequence[float] | FloatArray) -> int:
    """Longest run of consecutive points spent below a previous peak, in bars."""
    underwater = drawdown_series(equity) < 0
    if not underwater.any():
        return 0
    index = np.arange(len(underwater))
    last_at_peak = np.maximum.accumulate(np.where(underwater, -1, index))
    return int((index - last_at_peak)[underwater].max())


def calmar(equity: Sequence[float] | FloatArray, periods_per_year: float) -> float:
    """``cagr / |max_drawdown|``; NaN without a drawdown."""
    mdd = max_drawdown(equity)
    return cagr(equity, periods_per_year) / abs(mdd) if mdd < 0 else float("nan")


def win_rate(trade_pnl: Sequence[float] | FloatArray) -> float:
    """Share of trades with PnL > 0; NaN without trades."""
    pnl = _arr(trade_pnl)
    return float(np.mean(pnl > 0)) if len(pnl) else float("nan")


def profit_factor(trade_pnl: Sequence[float] | FloatArray) -> float:
    """Gross profit / gross loss; inf with no losing trade, NaN without trades."""
    pnl = _arr(trade_pnl)
    if not len(pnl):
        return float("nan")
    loss = -pnl[pnl < 0].sum()
    gain = pnl[pnl > 0].sum()
    return float(gain / loss) if loss > 0 else float("inf") if gain > 0 else float("nan")


def expectancy(trade_pnl: Sequence[float] | FloatArray) -> float:
    """Mean PnL per trade; NaN without trades."""
    pnl = _arr(trade_pnl)
    return float(pnl.mean()) if len(pnl) else float("nan")


def exposure(position: Sequence[float] | FloatArray) -> float:
    """Share of bars with a non-zero position."""
    pos = _arr(position)
    return float(np.mean(pos != 0)) if len(pos) else float("nan")


METRIC_NAMES = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration",
    "win_rate",
    "profit_factor",
    "expectancy",
    "trade_count",
)


_PERCENT_METRICS = frozenset(
    {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"}
)
_COUNT_METRICS = frozenset({"trade_count", "max_drawdown_duration"})


def format_metric(name: str, value: float) -> str:
    """Display form of one metric: percentages, whole counts, or three decimals; NaN is 'n/a'."""
    if math.isnan(value):
        return "n/a"
    if name in _PERCENT_METRICS:
        return f"{value:.2%}"
    if name in _COUNT_METRICS:
        return f"{value:,.0f}"
    return f"{value:,.3f}"


def summarize(
    equity: Sequence[float] | FloatArray,
    trade_pnl: Sequence[float] | FloatArray,
    periods_per_year: float,
) -> dict[str, float]:
    """Every metric in :data:`METRIC_NAMES` for one equity curve and its closed trades."""
    return {
        "total_return": total_return(equity),
        "cagr": cagr(equity, periods_per_year),
        "volatility": annualized_volatility(equity, periods_per_year),
        "sharpe": sharpe(equity, periods_per_year),
        "sortino": sortino(equity, periods_per_year),
        "calmar": calmar(equity, periods_per_year),
        "max_drawdown": max_drawdown(equity),
        "max_drawdown_duration": float(max_drawdown_duration(equity)),
        "win_rate": win_rate(trade_pnl),
        "profit_factor": profit_factor(trade_pnl),
        "expectancy": expectancy(trade_pnl),
        "trade_count": float(len(_arr(trade_pnl))),
    }
