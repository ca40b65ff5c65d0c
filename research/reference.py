"""A plain-Python reference simulator of research.semantics, used to cross-check vectorbt.

It is deliberately a simple loop: slow, obvious, and the baseline of the backtest benchmark.
"""

from __future__ import annotations

import math

from research.semantics import ExecutionConfig


def simulate(
    open_: list[float], close: list[float], target: list[float], execution: ExecutionConfig
) -> tuple[list[float], list[float]]:
    """Return (equity at each bar close, closed-trade PnLs) for long-only all-in targets."""
    cash, qty, cost_basis = execution.init_cash, 0.0, 0.0
    equity: list[float] = []
    pnls: list[float] = []
    held = 0.0
    for i in range(len(close)):
        if execution.fill == "next_open":
            want, price = (target[i - 1] if i > 0 else 0.0), open_[i]
        else:
            want, price = target[i], close[i]
        if want != held:
            if want > 0 and qty == 0:
                fill = price * (1 + execution.slippage)
                qty = (
                    math.floor(cash / (fill * (1 + execution.fee)) / execution.lot_size + 1e-9)
                    * execution.lot_size
                )
                spent = qty * fill * (1 + execution.fee)
                cash -= spent
                cost_basis = spent
            elif want == 0 and qty > 0:
                fill = price * (1 - execution.slippage)
                proceeds = qty * fill * (1 - execution.fee)
                cash += proceeds
                pnls.append(proceeds - cost_basis)
                qty = 0.0
            held = want
        equity.append(cash + qty * close[i])
    return equity, pnls


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
