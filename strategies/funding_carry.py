"""Delta-neutral funding carry: long spot and short the perpetual while funding pays the short.

Weights for the portfolio engine over two assets, ``[spot, perp]``: ``[+h, -h]`` (h = half the
gross exposure) while the perp's funding, annualized (rate x stamps per day x 365), is at or
above ``entry_apy``; flat once it falls below ``exit_apy`` (hysteresis: between the two the
position is kept), and after an exit no re-entry for ``cooldown`` bars. A funding rate is known
from its stamp on: the weight at bar t reads the last rate stamped at or before t's close, so
there is no lookahead. The legs earn the funding the short perp receives and pay the fees of
both; the price moves of the legs cancel up to the basis. Fees, the basis and the borrow-free
spot leg are the model's assumptions (docs/live.md, "Several instruments in one run").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from drydock.errors import ConfigError

__all__ = ["CarryRule", "carry_weights"]


@dataclass(frozen=True)
class CarryRule:
    """Entry and exit thresholds (annualized funding), gross exposure and the cooldown."""

    entry_apy: float = 0.15
    exit_apy: float = 0.05
    gross: float = 1.0
    cooldown: int = 24  # bars
    stamps_per_day: float = 3.0  # 8-hourly funding

    def __post_init__(self) -> None:
        if not self.exit_apy < self.entry_apy:
            raise ConfigError(
                f"Carry exit_apy={self.exit_apy:g} must be below entry_apy={self.entry_apy:g}, "
                "e.g. 0.05 and 0.15 (hysteresis)."
            )
        if not 0 < self.gross <= 2:
            raise ConfigError(f"Carry gross={self.gross:g} must be in (0, 2], e.g. 1.")
        if self.cooldown < 0:
            raise ConfigError(f"Carry cooldown={self.cooldown} must be >= 0 bars, e.g. 24.")


def carry_weights(
    ts: pl.Series, bar_seconds: float, funding: pl.DataFrame, rule: CarryRule = CarryRule()
) -> npt.NDArray[np.float64]:
    """Weights (bars x 2: spot, perp) of the carry for bars opening at ``ts``."""
    n = ts.len()
    out = np.zeros((n, 2), dtype=np.float64)
    if n == 0:
        return out
    closes = ts.dt.epoch("us").to_numpy() + int(bar_seconds * 1e6)
    stamps = funding["ts"].dt.epoch("us").to_numpy()
    rates = funding["rate"].to_numpy().astype(np.float64)
    last = np.searchsorted(stamps, closes, side="right") - 1  # last stamp at or before the close
    apy = np.where(last >= 0, rates[np.clip(last, 0, None)], np.nan) * rule.stamps_per_day * 365
    held, wait = False, 0
    half = rule.gross / 2
    for t in range(n):
        a = apy[t]
        if held and not (a >= rule.exit_apy):  # NaN exits too: no known funding, no carry
            held, wait = False, rule.cooldown
        elif not held and wait == 0 and a >= rule.entry_apy:
            held = True
        elif wait:
            wait -= 1
        if held:
            out[t] = (half, -half)
    return out
