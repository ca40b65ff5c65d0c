"""Portfolio-engine figure: three assets x a year of 1m bars (525,600 each), inverse-volatility
weights rebalanced daily with one cash balance, against vectorbt's cash-sharing ``from_orders``
(target percent, sells first, next-open prices) on the same orders in the same process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from benchmarks.data import minute_bars
from benchmarks.harness import Figure, median_time
from drydock.execution import ExecutionModel
from drydock.fills.portfolio_model import PortfolioConfig
from research.engine.portfolio import run_portfolio
from strategies.rebalance import inverse_volatility_weights

BARS = 525_600
ASSETS = 3
EXECUTION = ExecutionModel(init_cash=1e6, taker_fee=0.001, slippage_bps=5.0)


def _assets(bars: int) -> dict[str, pl.DataFrame]:
    return {f"A{j}": minute_bars(bars, seed=100 + j) for j in range(ASSETS)}


def portfolio_vs_vectorbt_ratio(bars: int = BARS, repeat: int = 3) -> Figure:
    """vectorbt time / ours for the same daily-rebalanced 3-asset year; final equity must agree
    to 1e-6 (no lots in either, no cash-limited buys at gross 0.95) or the figure is refused."""
    import vectorbt as vbt

    assets = _assets(bars)
    symbols = list(assets)
    closes = np.column_stack([assets[s]["close"].to_numpy() for s in symbols])
    opens = np.column_stack([assets[s]["open"].to_numpy() for s in symbols])
    weights = inverse_volatility_weights(closes, lookback=1440 * 7, every=1440, gross=0.95)
    config = PortfolioConfig(execution=EXECUTION, lot_size=1e-12)
    index = pd.date_range("2024-01-01", periods=bars, freq="1min", tz="UTC")
    size = np.full(weights.shape, np.nan)
    changed = np.r_[True, (np.diff(weights, axis=0) != 0).any(axis=1)]
    decided = np.flatnonzero(changed[:-1])
    size[decided + 1] = weights[decided]
    frames = {
        name: pd.DataFrame(values, index=index, columns=symbols)
        for name, values in (("open", opens), ("close", closes), ("size", size))
    }

    def ours() -> float:
        return run_portfolio(assets, weights, config).final_equity

    def peer() -> float:
        pf = vbt.Portfolio.from_orders(
            close=frames["close"], price=frames["open"], size=frames["size"],
            size_type="targetpercent", fees=EXECUTION.taker_fee, slippage=EXECUTION.slippage,
            init_cash=EXECUTION.init_cash, group_by=True, cash_sharing=True, call_seq="auto",
            freq="1min",
        )  # fmt: skip
        return float(pf.final_value())

    mine, theirs = ours(), peer()
    if abs(mine - theirs) > 1e-6 * abs(theirs):
        raise AssertionError(f"portfolio engines disagree: ours {mine} vs vectorbt {theirs}")
    ours_s, peer_s = median_time(ours, repeat), median_time(peer, repeat)
    ratio = round(peer_s / ours_s, 1)
    return Figure("portfolio_vs_vectorbt_ratio", ratio, "x", round(peer_s, 3), ratio, bars * ASSETS)
