"""``run_backtest``: validate inputs, align funding, run the kernel, shape the results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from drydock import metrics
from drydock.errors import ConfigError
from research.engine.model import EngineConfig, Reason

_REASON_NAMES = np.array([r.name.lower() for r in Reason])
#: Bars per year by calendar: crypto trades 24/7; a session venue's daily bars annualize by 252.
CALENDARS = {"24/7": 365.0, "sessions": 252.0}


@dataclass(frozen=True)
class EngineResult:
    """Equity and position per bar, orders, closed trades, counters and metrics of one run.

    The kernel's arrays are kept as they are; :attr:`equity` and :attr:`orders` build their
    polars frames on first use (a sweep or a benchmark that reads only figures pays nothing).
    """

    ts: pl.Series
    equity_values: npt.NDArray[np.float64]
    position_values: npt.NDArray[np.float64]
    order_records: npt.NDArray[np.float64]  # bar, signed qty, price, fee, reason code
    trade_pnl: npt.NDArray[np.float64]
    metrics: dict[str, float]
    rejected_min_notional: int
    liquidations: int
    funding_paid: float
    open_position: float  # units still held at the end (0 when closed or flat)
    open_pnl: float  # PnL of the open trade marked at the last close (fees and funding in)
    participation_capped: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def final_equity(self) -> float:
        return float(self.equity_values[-1])

    @cached_property
    def equity(self) -> pl.DataFrame:
        """ts, equity (marked at each close), position (signed units) per bar."""
        return pl.DataFrame(
            {"ts": self.ts, "equity": self.equity_values, "position": self.position_values}
        )

    @cached_property
    def orders(self) -> pl.DataFrame:
        """ts, bar, side, qty, price (after slippage), fee, reason per fill."""
        rec = self.order_records
        bar = rec[:, 0].astype(np.int64)
        return pl.DataFrame(
            {
                "ts": self.ts.gather(bar) if len(rec) else self.ts.head(0),
                "bar": bar,
                "side": np.where(rec[:, 1] > 0, "buy", "sell"),
                "qty": np.abs(rec[:, 1]),
                "price": rec[:, 2],
                "fee": rec[:, 3],
                "reason": _REASON_NAMES[rec[:, 4].astype(np.int64)],
            }
        )


def check_targets(target: npt.NDArray[np.float64], config: EngineConfig, ts: Any) -> None:
    """Refuse NaN/inf targets, targets beyond the leverage cap, and shorts a spot run cannot take,
    naming the first offending bar (the same rule for the vectorized path and the replay)."""
    if target.size:  # two vectorized reductions clear the common case (NaN propagates in both)
        low, high = float(np.min(target)), float(np.max(target))
        ok = math.isfinite(low) and math.isfinite(high)
        ok = ok and max(high, -low) <= config.leverage + 1e-12
        if ok and (config.short_allowed or low >= 0):
            return
    bad = ~np.isfinite(target)
    if bad.any():
        i = int(np.argmax(bad))
        raise ConfigError(
            f"Target {target[i]!r} at {ts[i]} is not a finite number; a strategy must emit an "
            "exposure in [-L, L] on every bar (use 0 for flat)."
        )
    over = np.abs(target) > config.leverage + 1e-12
    if over.any():
        i = int(np.argmax(over))
        raise ConfigError(
            f"Target {target[i]:g} at {ts[i]} exceeds the leverage cap {config.leverage:g}; "
            "scale the strategy's targets or raise leverage."
        )
    if not config.short_allowed and (target < 0).any():
        i = int(np.argmax(target < 0))
        raise ConfigError(
            f"Target {target[i]:g} at {ts[i]} is a short, but this run is spot without "
            "allow_short; set allow_short=True (or leverage > 1) to backtest shorts."
        )


def align_funding(ts: pl.Series, funding: pl.DataFrame | None) -> npt.NDArray[np.float64]:
    """Funding rate due at each bar's open (0 where no funding timestamp falls on a bar open).

    A funding timestamp between bar opens is charged at the next bar's open (documented).
    """
    rates = np.zeros(len(ts), dtype=np.float64)
    if funding is None or funding.height == 0:
        return rates
    bar_ts = ts.to_numpy()
    fund_ts = funding["ts"].to_numpy()
    idx = np.searchsorted(bar_ts, fund_ts, side="left")
    ok = idx < len(bar_ts)
    np.add.at(rates, idx[ok], funding["rate"].to_numpy()[ok])
    return rates


def run_backtest(
    bars: pl.DataFrame,
    target: npt.ArrayLike,
    config: EngineConfig | None = None,
    *,
    funding: pl.DataFrame | None = None,
    periods_per_year: float = 365.0 * 24,
    with_metrics: bool = True,
) -> EngineResult:
    """Run ``target`` (exposure per bar, decided at each close) over ``bars`` (ts, open, high,
    low, close, volume) under ``config``; ``funding`` (ts, rate) for perpetuals;
    ``with_metrics=False`` skips the metrics (records only)."""
    from research.engine.kernel import N_COUNTERS, ORDER_COLUMNS, simulate

    config = config or EngineConfig()
    tgt = np.ascontiguousarray(np.asarray(target, dtype=np.float64))
    if tgt.shape != (bars.height,):
        raise ConfigError(f"{tgt.shape[0]} targets for {bars.height} bars; pass one per bar.")
    check_targets(tgt, config, bars["ts"])
    cols = {c: np.ascontiguousarray(bars[c].to_numpy(), dtype=np.float64)
            for c in ("open", "high", "low", "close", "volume")}  # fmt: skip
    rates = align_funding(bars["ts"], funding)
    gains, shares = config.ladder()
    n = bars.height
    equity, position = np.empty(n), np.empty(n)
    orders = np.empty((2 * n + len(gains) * n + 2, ORDER_COLUMNS))  # untouched pages stay free
    trades = np.empty(2 * n + 2)
    counters = np.zeros(N_COUNTERS)
    simulate(
        cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"], tgt, rates,
        config.vector(), gains, shares, equity, position, orders, trades, counters,
    )  # fmt: skip
    ppy = periods_per_year if with_metrics else math.nan
    return _result(bars, config, equity, position, orders, trades, counters, ppy)


def _result(
    bars: pl.DataFrame, config: EngineConfig, equity: Any, position: Any, orders: Any,
    trades: Any, counters: Any, periods_per_year: float,
) -> EngineResult:  # fmt: skip
    from research.engine import kernel as k

    count, n_trades = int(counters[k.C_ORDERS]), int(counters[k.C_TRADES])
    pnl = trades[:n_trades].copy()
    held = float(position[-1]) if len(position) else 0.0
    notes = []
    if held:
        notes.append(
            f"a position of {held:g} is still open at the end, marked at the last close "
            "(set close_at_end=True to close it)"
        )
    stats: dict[str, float] = {}
    if not math.isnan(periods_per_year):  # NaN: the caller wants the records only
        stats = metrics.summarize(equity, pnl, periods_per_year) | {
            "exposure": metrics.exposure(np.abs(position))
        }
    return EngineResult(
        ts=bars["ts"],
        equity_values=equity,
        position_values=position,
        order_records=orders[:count].copy(),
        trade_pnl=pnl,
        metrics=stats,
        rejected_min_notional=int(counters[k.C_REJECTS]),
        liquidations=int(counters[k.C_LIQ]),
        funding_paid=float(counters[k.C_FUNDING]),
        open_position=held,
        open_pnl=float(counters[k.C_OPEN_PNL]),
        participation_capped=int(counters[k.C_PART_CAPPED]),
        notes=notes,
    )


def annualization(calendar: str, bars_per_day: float) -> float:
    """Periods per year of a bar series under ``calendar`` (``24/7`` or ``sessions``)."""
    if calendar not in CALENDARS:
        raise ConfigError(f"Calendar {calendar!r} is not one of {', '.join(CALENDARS)}.")
    return CALENDARS[calendar] * bars_per_day if math.isfinite(bars_per_day) else math.nan
