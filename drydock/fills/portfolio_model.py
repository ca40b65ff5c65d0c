"""A multi-asset portfolio's execution model: one cash balance shared by every asset.

Targets are weights per asset (fraction of portfolio equity, signed, ``sum |w| <= leverage``);
costs are the shared :class:`~drydock.execution.ExecutionModel`; lots and min notional are per
asset. The semantics (docs/backtesting.md, "Portfolios") are stated once in
:mod:`drydock.fills.portfolio_reference` and mirrored by the numba kernel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel, FillTiming

__all__ = [
    "N_QPARAMS",
    "Q_BAND",
    "Q_CASH",
    "Q_CLOSE_END",
    "Q_EVERY",
    "Q_FEE",
    "Q_FIXED",
    "Q_LEVERAGE",
    "Q_NEXT_OPEN",
    "Q_SLIP",
    "PortfolioConfig",
    "align_bars",
    "check_weights",
]

#: Positions in the packed parameter vector the portfolio kernel reads.
(Q_CASH, Q_FEE, Q_FIXED, Q_SLIP, Q_LEVERAGE, Q_BAND, Q_EVERY, Q_NEXT_OPEN, Q_CLOSE_END) = range(9)
N_QPARAMS = 9


def _per_asset(name: str, value: float | Sequence[float], n: int) -> tuple[float, ...]:
    values = (float(value),) * n if isinstance(value, int | float) else tuple(map(float, value))
    if len(values) != n:
        raise ConfigError(
            f"Portfolio {name} has {len(values)} values for {n} assets; pass one each."
        )
    return values


@dataclass(frozen=True)
class PortfolioConfig:
    """Costs, per-asset increments, the gross leverage cap and the rebalancing rule.

    ``min_trade_value`` is a rebalancing band: a trade towards a non-zero weight worth less than
    it (quote currency) is skipped and counted, so drift smaller than the band is tolerated;
    closing a position (weight 0) is never skipped by the band. ``rebalance_every`` forces a
    rebalance back to the current weights every N bars even when they did not change (drift
    correction); without it the portfolio trades only when the weights change.
    """

    execution: ExecutionModel = field(default_factory=ExecutionModel)
    lot_size: float | Sequence[float] = 1e-8
    min_notional: float | Sequence[float] = 0.0
    leverage: float = 1.0
    allow_short: bool = False
    min_trade_value: float = 0.0
    rebalance_every: int | None = None
    close_at_end: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.leverage) and 0 < self.leverage <= 100):
            raise ConfigError(
                f"Portfolio leverage={self.leverage!r} must be in (0, 100], e.g. 1 for spot."
            )
        if not (math.isfinite(self.min_trade_value) and self.min_trade_value >= 0):
            raise ConfigError(
                f"Portfolio min_trade_value={self.min_trade_value!r} must be >= 0, e.g. 10."
            )
        every = self.rebalance_every
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int) or every < 1
        ):
            raise ConfigError(
                f"Portfolio rebalance_every={every!r} must be a whole number of bars >= 1, e.g. "
                "24 (daily on 1h bars), or unset to trade only when the weights change."
            )

    @property
    def short_allowed(self) -> bool:
        return self.allow_short or self.leverage > 1

    def lots(self, n: int) -> npt.NDArray[np.float64]:
        """Lot size per asset, validated."""
        lots = _per_asset("lot_size", self.lot_size, n)
        for lot in lots:
            if not (math.isfinite(lot) and 1e-12 <= lot <= 1e9):
                raise ConfigError(f"Portfolio lot_size {lot!r} must be in [1e-12, 1e9], e.g. 1e-5.")
        return np.array(lots, dtype=np.float64)

    def min_notionals(self, n: int) -> npt.NDArray[np.float64]:
        """Min notional per asset, validated."""
        mins = _per_asset("min_notional", self.min_notional, n)
        for low in mins:
            if not (math.isfinite(low) and low >= 0):
                raise ConfigError(f"Portfolio min_notional {low!r} must be >= 0, e.g. 5.")
        return np.array(mins, dtype=np.float64)

    def vector(self) -> npt.NDArray[np.float64]:
        """The packed float64 parameters the kernel reads (NaN: rule off)."""
        e = self.execution
        out = np.full(N_QPARAMS, np.nan)
        out[Q_CASH], out[Q_FEE], out[Q_FIXED], out[Q_SLIP] = (
            e.init_cash, e.taker_fee, e.fixed_fee, e.slippage,
        )  # fmt: skip
        out[Q_LEVERAGE], out[Q_BAND] = self.leverage, self.min_trade_value
        out[Q_EVERY] = math.nan if self.rebalance_every is None else float(self.rebalance_every)
        out[Q_NEXT_OPEN] = 1.0 if e.fill == FillTiming.NEXT_OPEN else 0.0
        out[Q_CLOSE_END] = 1.0 if self.close_at_end else 0.0
        return out


def align_bars(bars: Mapping[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Keep only the timestamps every asset has (an inner join on ``ts``), in asset order."""
    if not bars:
        raise ConfigError("A portfolio needs at least one asset's bars.")
    common: pl.Series | None = None
    for frame in bars.values():
        common = frame["ts"] if common is None else common.filter(common.is_in(frame["ts"]))
    assert common is not None
    return {s: f.filter(pl.col("ts").is_in(common)).sort("ts") for s, f in bars.items()}


def check_weights(
    weights: npt.NDArray[np.float64], config: PortfolioConfig, ts: pl.Series,
    symbols: tuple[str, ...],
) -> None:  # fmt: skip
    """Refuse NaN/inf weights, gross exposure above the leverage cap and spot shorts, naming the
    first offending bar and asset (the same rule as single-asset targets)."""
    bad = ~np.isfinite(weights)
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise ConfigError(
            f"Weight {weights[t, j]!r} for {symbols[j]} at {ts[int(t)]} is not a finite number; "
            "emit a weight on every bar (0 for none)."
        )
    gross = np.abs(weights).sum(axis=1)
    over = gross > config.leverage + 1e-9
    if over.any():
        t = int(np.argmax(over))
        raise ConfigError(
            f"Weights at {ts[t]} sum to a gross exposure of {gross[t]:g}, above the leverage cap "
            f"{config.leverage:g}; normalize them or raise leverage."
        )
    if not config.short_allowed and (weights < 0).any():
        t, j = np.argwhere(weights < 0)[0]
        raise ConfigError(
            f"Weight {weights[t, j]:g} for {symbols[j]} at {ts[int(t)]} is a short, but this "
            "portfolio is spot without allow_short; set allow_short=True (or leverage > 1)."
        )
