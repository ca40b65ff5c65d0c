"""``run_portfolio``: several assets, one cash balance, weights per asset rebalanced on change.

Bars of every asset must share their timestamps (:func:`align_bars` keeps the common ones);
weights are validated like single-asset targets (finite, within the gross leverage cap, no shorts
on spot) and the first offending bar and asset are named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from drydock import metrics
from drydock.errors import ConfigError
from drydock.fills.model import Reason
from drydock.fills.portfolio_model import PortfolioConfig, check_weights

_REASON_NAMES = np.array([r.name.lower() for r in Reason])


@dataclass(frozen=True)
class PortfolioResult:
    """Equity per bar, positions per asset, orders, closed trades, counters and metrics."""

    symbols: tuple[str, ...]
    ts: pl.Series
    equity_values: npt.NDArray[np.float64]
    position_values: npt.NDArray[np.float64]  # (bars, assets) signed units
    order_records: npt.NDArray[np.float64]  # bar, asset, signed qty, price, fee, reason
    trade_records: npt.NDArray[np.float64]  # asset, closed-trade PnL
    metrics: dict[str, float]
    rejected_min_notional: int
    skipped_by_band: int
    funding_paid: float
    fees_paid: float
    turnover: float  # traded notional / mean equity
    notes: list[str] = field(default_factory=list)
    #: A rebalance found equity <= 0: positions liquidated, nothing traded after it.
    ruined: bool = False

    @property
    def final_equity(self) -> float:
        return float(self.equity_values[-1])

    @cached_property
    def equity(self) -> pl.DataFrame:
        """ts, equity and one signed-units column per asset."""
        cols = {s: self.position_values[:, j] for j, s in enumerate(self.symbols)}
        return pl.DataFrame({"ts": self.ts, "equity": self.equity_values, **cols})

    @cached_property
    def orders(self) -> pl.DataFrame:
        """ts, bar, symbol, side, qty, price (after slippage), fee, reason per fill."""
        rec = self.order_records
        bar = rec[:, 0].astype(np.int64)
        return pl.DataFrame(
            {
                "ts": self.ts.gather(bar) if len(rec) else self.ts.head(0),
                "bar": bar,
                "symbol": np.array(self.symbols, dtype=object)[rec[:, 1].astype(np.int64)]
                if len(rec)
                else np.array([], dtype=object),
                "side": np.where(rec[:, 2] > 0, "buy", "sell"),
                "qty": np.abs(rec[:, 2]),
                "price": rec[:, 3],
                "fee": rec[:, 4],
                "reason": _REASON_NAMES[rec[:, 5].astype(np.int64)],
            },
            schema_overrides={"symbol": pl.String},
        )


def _check_aligned(bars: Mapping[str, pl.DataFrame]) -> pl.Series:
    symbols = list(bars)
    ts = bars[symbols[0]]["ts"]
    for s in symbols[1:]:
        other = bars[s]["ts"]
        if other.len() != ts.len() or not other.equals(ts):
            n = min(ts.len(), other.len())
            diff = np.flatnonzero(ts.head(n).to_numpy() != other.head(n).to_numpy())
            where = f"first difference at {ts[int(diff[0])]}" if len(diff) else "lengths differ"
            raise ConfigError(
                f"Bars of {s} do not share {symbols[0]}'s timestamps ({other.len()} vs "
                f"{ts.len()} bars, {where}); pass them through align_bars() to keep the common "
                "bars."
            )
    return ts


def _weights_array(weights: Any, symbols: tuple[str, ...], n: int) -> npt.NDArray[np.float64]:
    if isinstance(weights, pl.DataFrame):
        missing = [s for s in symbols if s not in weights.columns]
        if missing:
            raise ConfigError(
                f"Weights have no column for {', '.join(missing)}; pass one column per asset "
                f"named {', '.join(symbols)}."
            )
        arr = np.column_stack([weights[s].to_numpy().astype(np.float64) for s in symbols])
    else:
        arr = np.asarray(weights, dtype=np.float64)
    if arr.shape != (n, len(symbols)):
        raise ConfigError(
            f"Weights of shape {arr.shape} for {n} bars x {len(symbols)} assets; pass one row "
            "per bar and one column per asset."
        )
    return np.ascontiguousarray(arr)


def run_portfolio(
    bars: Mapping[str, pl.DataFrame],
    weights: Any,
    config: PortfolioConfig | None = None,
    *,
    funding: Mapping[str, pl.DataFrame] | None = None,
    periods_per_year: float = 365.0 * 24,
) -> PortfolioResult:
    """Trade ``weights`` (bars x assets, decided at each close) over ``bars`` (one aligned frame
    per asset) with one shared cash balance; ``funding`` (ts, rate) per perpetual asset."""
    from drydock.funding import split_funding
    from research.engine.portfolio_kernel import N_KCOUNTERS, ORDER_COLUMNS, simulate

    config = config or PortfolioConfig()
    if not bars:
        raise ConfigError("A portfolio needs at least one asset's bars.")
    symbols = tuple(bars)
    ts = _check_aligned(bars)
    n, k = ts.len(), len(symbols)
    w = _weights_array(weights, symbols, n)
    check_weights(w, config, ts, symbols)
    opens = np.column_stack([bars[s]["open"].to_numpy().astype(np.float64) for s in symbols])
    closes = np.column_stack([bars[s]["close"].to_numpy().astype(np.float64) for s in symbols])
    rates, rates_in = np.zeros((n, k)), np.zeros((n, k))
    for j, s in enumerate(symbols):
        if funding and s in funding:
            rates[:, j], rates_in[:, j] = split_funding(ts, funding[s])
    lots, mins = config.lots(k), config.min_notionals(k)
    equity, positions = np.empty(n), np.empty((n, k))
    orders = np.empty((n * k + k + 1, ORDER_COLUMNS))
    trades = np.empty((n * k + k + 1, 2))
    counters = np.zeros(N_KCOUNTERS)
    simulate(
        np.ascontiguousarray(opens), np.ascontiguousarray(closes), w, rates, rates_in,
        config.vector(), lots, mins, equity, positions, orders, trades, counters,
    )  # fmt: skip
    return _result(symbols, ts, equity, positions, orders, trades, counters, periods_per_year)


def _result(
    symbols: tuple[str, ...], ts: pl.Series, equity: Any, positions: Any, orders: Any,
    trades: Any, counters: Any, periods_per_year: float,
) -> PortfolioResult:  # fmt: skip
    from research.engine import portfolio_kernel as pk

    count, n_trades = int(counters[pk.K_ORDERS]), int(counters[pk.K_TRADES])
    trade_records = trades[:n_trades].copy()
    notes = [
        f"{s}: a position of {positions[-1, j]:g} is still open at the end, marked at the last "
        "close (set close_at_end=True to close it)"
        for j, s in enumerate(symbols)
        if len(positions) and positions[-1, j]
    ]
    ruined_at = int(counters[pk.K_RUINED])
    if ruined_at >= 0:
        notes.insert(
            0,
            f"the book was ruined at {ts[ruined_at]} (equity <= 0 at a rebalance): its positions "
            "were liquidated and nothing traded after it",
        )
    stats: dict[str, float] = {}
    if not math.isnan(periods_per_year) and len(equity):
        stats = metrics.summarize(equity, trade_records[:, 1], periods_per_year) | {
            "exposure": metrics.exposure(np.abs(positions).sum(axis=1)),
            "ruined": float(ruined_at >= 0),
        }
    mean_equity = float(np.mean(equity)) if len(equity) else math.nan
    return PortfolioResult(
        symbols=symbols,
        ts=ts,
        equity_values=equity,
        position_values=positions,
        order_records=orders[:count].copy(),
        trade_records=trade_records,
        metrics=stats,
        rejected_min_notional=int(counters[pk.K_REJECTS]),
        skipped_by_band=int(counters[pk.K_SKIPPED]),
        funding_paid=float(counters[pk.K_FUNDING]),
        fees_paid=float(counters[pk.K_FEES]),
        turnover=float(counters[pk.K_TURNOVER]) / mean_equity if mean_equity else math.nan,
        notes=notes,
        ruined=ruined_at >= 0,
    )
