"""Objectives and constraints of a sweep: derived ratios, feasibility, and the ranking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drydock.errors import unknown_choice

Columns = dict[str, npt.NDArray[np.float64]]


def _over_drawdown(
    numerator: npt.NDArray[np.float64], mdd: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``numerator / |max_drawdown|``, NaN without a drawdown (as drydock.metrics.calmar)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mdd < 0, numerator / np.abs(mdd), np.nan)


def derive(columns: Columns) -> Columns:
    """Add ``calmar`` (CAGR / |max drawdown|) and ``return_over_drawdown`` (total return /
    |max drawdown|) to kernel metrics."""
    mdd = columns["max_drawdown"]
    return columns | {
        "calmar": _over_drawdown(columns["cagr"], mdd),
        "return_over_drawdown": _over_drawdown(columns["total_return"], mdd),
    }


OBJECTIVES: dict[str, str] = {
    "sharpe": "annualized Sharpe ratio",
    "sortino": "annualized Sortino ratio",
    "calmar": "CAGR / |max drawdown|",
    "return_over_drawdown": "total return / |max drawdown|",
    "total_return": "final / first equity - 1",
}


def check_objective(name: str) -> str:
    """``name`` if it is a known objective, else the standard error listing the choices."""
    if name not in OBJECTIVES:
        raise unknown_choice("objective", name, OBJECTIVES, "e.g. --objective sharpe.")
    return name


@dataclass(frozen=True, slots=True)
class Constraints:
    """Rows that fail a constraint stay in the table with ``feasible = false`` and never rank."""

    min_trades: int = 0
    #: Deepest drawdown allowed, as a positive fraction (0.3 = no worse than -30%); None = any.
    max_drawdown: float | None = None

    def feasible(self, columns: Columns) -> npt.NDArray[np.bool_]:
        """Per-row mask of the sets that meet every constraint."""
        ok = columns["trade_count"] >= self.min_trades
        if self.max_drawdown is not None:
            ok &= columns["max_drawdown"] >= -abs(self.max_drawdown)
        return np.asarray(ok, dtype=np.bool_)


def rank(
    scores: npt.NDArray[np.float64], feasible: npt.NDArray[np.bool_], top: int
) -> npt.NDArray[np.int64]:
    """Row indices of the ``top`` feasible sets by descending score (NaN scores never rank; ties
    keep the earlier row)."""
    usable = feasible & ~np.isnan(scores)
    rows = np.flatnonzero(usable)
    order = np.argsort(-scores[rows], kind="stable")
    return rows[order[:top]].astype(np.int64)
