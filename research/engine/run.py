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
from drydock.fills.model import EngineConfig, Reason, check_exposures
from drydock.funding import split_funding

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
    #: Equity fell to <= 0 (a liquidation or gap left nothing): no order was sent after it.
    ruined: bool = False

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


def align_funding(ts: pl.Series, funding: pl.DataFrame | None) -> npt.NDArray[np.float64]:
    """Funding rate due at each bar's open (0 where no funding timestamp falls on a bar open);
    stamps inside a bar are :func:`split_funding`'s second array."""
    return split_funding(ts, funding)[0]


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
    check_exposures(tgt, config, bars["ts"])
    cols = {c: np.ascontiguousarray(bars[c].to_numpy(), dtype=np.float64)
            for c in ("open", "high", "low", "close", "volume")}  # fmt: skip
    rates, rates_inside = split_funding(bars["ts"], funding)
    gains, shares = config.ladder()
    n = bars.height
    equity, position = np.empty(n), np.empty(n)
    # Per bar at most: the open's order, the ladder, one exit, the close's order (fill=close).
    orders = np.empty(((3 + len(gains)) * n + 2, ORDER_COLUMNS))  # untouched pages stay free
    trades = np.empty(len(orders))
    counters = np.zeros(N_COUNTERS)
    simulate(
        cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"], tgt, rates,
        rates_inside, config.vector(), gains, shares, equity, position, orders, trades, counters,
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
    ruined_at = int(counters[k.C_RUINED])
    if ruined_at >= 0:
        notes.append(
            f"the account was ruined at {bars['ts'][ruined_at]} (equity <= 0 after a "
            "liquidation or a loss beyond the margin): no order was sent after it"
        )
    if held:
        notes.append(
            f"a position of {held:g} is still open at the end, marked at the last close "
            "(set end='close' or end='open' to close it)"
        )
    stats: dict[str, float] = {}
    if not math.isnan(periods_per_year):  # NaN: the caller wants the records only
        stats = metrics.summarize(equity, pnl, periods_per_year) | {
            "exposure": metrics.exposure(np.abs(position)),
            "ruined": float(ruined_at >= 0),
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
        ruined=ruined_at >= 0,
    )


def annualization(calendar: str, bars_per_day: float) -> float:
    """Periods per year of a bar series under ``calendar`` (``24/7`` or ``sessions``)."""
    if calendar not in CALENDARS:
        raise ConfigError(f"Calendar {calendar!r} is not one of {', '.join(CALENDARS)}.")
    return CALENDARS[calendar] * bars_per_day if math.isfinite(bars_per_day) else math.nan
