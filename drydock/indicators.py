"""Indicators with one definition for the vectorized (polars) and incremental (scalar) forms.

Each vectorized indicator has a scalar twin that yields bit-identical values bar by bar, so a
strategy's live form can reproduce its backtest exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars loads on first use, so listing strategies stays fast
    import polars as pl

__all__ = ["ema", "ema_alpha", "ema_step"]


def ema_alpha(span: int) -> float:
    """Smoothing factor of an EMA with ``span`` bars: ``2 / (span + 1)``."""
    return 2.0 / (span + 1.0)


def ema(column: str | pl.Expr, span: int) -> pl.Expr:
    """Recursive EMA seeded with the first value: ``y0 = x0; y_t = (1-a) y_{t-1} + a x_t``."""
    import polars as pl

    expr = pl.col(column) if isinstance(column, str) else column
    return expr.ewm_mean(alpha=ema_alpha(span), adjust=False)


def ema_step(previous: float | None, value: float, span: int) -> float:
    """One step of :func:`ema`; ``previous=None`` seeds the recursion."""
    if previous is None:
        return value
    a = ema_alpha(span)
    return (1.0 - a) * previous + a * value
