"""The one execution and cost model shared by research, the paper venue and live sizing.

(Interface stub: the full model -- fees, slippage, lot/tick/min notional per instrument, fill
timing -- is being built here; see issue 5 item 3.)
"""

from __future__ import annotations

from enum import StrEnum


class FillTiming(StrEnum):
    """When an order decided at bar t's close fills."""

    NEXT_OPEN = "next_open"  # bar t+1's open: what live trading can do (default)
    CLOSE = "close"  # bar t's own close: optimistic, for comparison only
