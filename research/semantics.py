"""Deprecated: the execution model moved to :mod:`drydock.execution` (delete once callers move).

Kept only so ``research/cli.py`` and ``benchmarks/backtest.py`` (owned elsewhere) keep working
until they construct :class:`drydock.execution.ExecutionModel` directly.
"""

from __future__ import annotations

from drydock.execution import ExecutionModel, FillTiming


def ExecutionConfig(
    init_cash: float = 10_000.0,
    fee: float = 0.001,
    slippage_bps: float = 5.0,
    fill: FillTiming | str = FillTiming.NEXT_OPEN,
    lot_size: float | None = None,
) -> ExecutionModel:
    """The old constructor's arguments mapped onto :class:`ExecutionModel` (fee = taker fee)."""
    return ExecutionModel(
        init_cash=init_cash,
        taker_fee=fee,
        maker_fee=fee,
        slippage_bps=slippage_bps,
        fill=fill,  # type: ignore[arg-type]  (validated by ExecutionModel)
        lot_size=lot_size,
    )
