"""Execution assumptions shared by the vectorbt engine, the reference loop and paper replay.

- A strategy's ``target`` at bar t is decided at t's close.
- ``fill="next_open"`` (default, what live trading can do): the order fills at bar t+1's open.
  ``fill="close"``: it fills at bar t's close (optimistic; for comparison only).
- Target +1 means all-in of current equity: quantity = cash / (price * (1 + fee)), so the fee
  fits in the cash; 0 closes the position. Spot, long-only, no leverage.
- Slippage is adverse and proportional: buys pay ``price * (1 + bps/1e4)``, sells get
  ``price * (1 - bps/1e4)``. Fees are a fraction of traded notional, on both sides.
- Quantities are rounded down to ``lot_size`` (Binance BTC/USDT: 0.00001).
- Equity is marked at every bar close.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from drydock.errors import ConfigError

FillTiming = Literal["next_open", "close"]


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """Costs and fill timing of a backtest or paper run."""

    init_cash: float = 10_000.0
    fee: float = 0.001
    slippage_bps: float = 5.0
    fill: FillTiming = "next_open"
    lot_size: float = 0.00001

    def __post_init__(self) -> None:
        if self.fill not in ("next_open", "close"):
            raise ConfigError(
                f"fill={self.fill!r} is not a fill timing; use 'next_open' or 'close'."
            )
        if self.init_cash <= 0:
            raise ConfigError(f"init_cash={self.init_cash} must be positive.")
        if not 0 <= self.fee < 0.1:
            raise ConfigError(
                f"fee={self.fee} must be a fraction in [0, 0.1), e.g. 0.001 for 10 bps."
            )
        if not 0 <= self.slippage_bps < 1000:
            raise ConfigError(f"slippage_bps={self.slippage_bps} must be in [0, 1000).")

    @property
    def slippage(self) -> float:
        return self.slippage_bps / 1e4

    def as_params(self) -> dict[str, float | str]:
        return {f"exec.{k}": v for k, v in asdict(self).items()}
