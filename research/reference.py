"""A plain-Python reference simulator of drydock.execution, used to cross-check vectorbt.

It is deliberately a simple loop: slow, obvious, and the baseline of the backtest benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drydock.execution import ExecutionModel, FillTiming, below_min_notional

#: Binance BTC/USDT increments, used when no instrument values are given.
DEFAULT_LOT = 0.00001
DEFAULT_MIN_NOTIONAL = 5.0


@dataclass
class ReferenceRun:
    """Equity at each bar close, closed-trade PnLs, fees, orders and skipped orders of a run."""

    equity: list[float] = field(default_factory=list)
    pnls: list[float] = field(default_factory=list)
    fees: float = 0.0
    orders: int = 0
    skipped_min_notional: int = 0


def run(
    open_: list[float],
    close: list[float],
    target: list[float],
    execution: ExecutionModel,
    lot: float | None = None,
    min_notional: float | None = None,
) -> ReferenceRun:
    """Simulate 0/1 targets: entries buy all cash allows in whole lots, exits sell everything."""
    lot = execution.lot_size or lot or DEFAULT_LOT
    minimum = execution.min_notional
    if minimum is None:
        minimum = DEFAULT_MIN_NOTIONAL if min_notional is None else min_notional
    out = ReferenceRun()
    cash, qty, cost_basis, held = execution.init_cash, 0.0, 0.0, 0.0
    for i in range(len(close)):
        if execution.fill == FillTiming.NEXT_OPEN:
            want, price = (target[i - 1] if i > 0 else 0.0), open_[i]
        else:
            want, price = target[i], close[i]
        if want > held:
            fill = execution.slipped_price(price, buy=True)
            size = execution.all_in_qty(cash, fill, lot)
            if size > 0 and below_min_notional(size, fill, minimum):
                out.skipped_min_notional += 1
            elif size > 0:
                fee = execution.fee_of(size, fill)
                cash -= size * fill + fee
                cost_basis += size * fill + fee
                qty += size
                out.fees += fee
                out.orders += 1
        elif want < held and qty > 0:
            fill = execution.slipped_price(price, buy=False)
            if below_min_notional(qty, fill, minimum):
                out.skipped_min_notional += 1
            else:
                fee = execution.fee_of(qty, fill)
                proceeds = qty * fill - fee
                cash += proceeds
                out.pnls.append(proceeds - cost_basis)
                out.fees += fee
                out.orders += 1
                qty = cost_basis = 0.0
        held = want
        out.equity.append(cash + qty * close[i])
    return out


def simulate(
    open_: list[float], close: list[float], target: list[float], execution: ExecutionModel
) -> tuple[list[float], list[float]]:
    """(equity at each bar close, closed-trade PnLs) with Binance BTC/USDT increments."""
    result = run(open_, close, target, execution)
    return result.equity, result.pnls


def ema_cross_targets(close: list[float], fast: int, slow: int) -> list[float]:
    """EMA-crossover targets computed in a plain loop (same recursion as drydock.indicators)."""
    a_fast, a_slow = 2.0 / (fast + 1.0), 2.0 / (slow + 1.0)
    ef = es = close[0]
    out = []
    for i, c in enumerate(close):
        if i:
            ef = (1.0 - a_fast) * ef + a_fast * c
            es = (1.0 - a_slow) * es + a_slow * c
        out.append(1.0 if i >= slow - 1 and ef > es else 0.0)
    return out
