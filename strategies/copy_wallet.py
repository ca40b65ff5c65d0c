"""Copy trading (stub): long the token while a watched wallet holds it, by its swaps.

A :class:`~drydock.events.WalletSwap` that buys the token (``token_out``) sets the target to
``size``; one that sells it (``token_in``) sets it flat: the mirror exit. The bars themselves
change nothing, so the bar-only forms (``signals``, ``step`` without events) are flat; the
trades come from the ``wallet_swaps`` events the live loop hands to :meth:`CopyWallet.on_event`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from strategies.base import Params, ParamSpec, Strategy

if TYPE_CHECKING:
    import polars as pl

    from drydock.events import Event
    from drydock.types import Bar

#: Wrapped SOL, the mint Helius reports for SOL legs of a swap (the SOL/USDT series).
SOL_MINT = "So11111111111111111111111111111111111111112"


@dataclass
class CopyWalletState:
    """The copied target (0 flat, ``size`` long) and the swaps seen."""

    target: float = 0.0
    swaps: int = 0


class CopyWallet(Strategy):
    id = "copy_wallet"
    description = (
        "Copy trading stub: long the token when a watched wallet buys it, flat on its sell."
    )
    params = (
        ParamSpec("size", 1.0, 0.1, 1.0, 0.1, integer=False, doc="target while the wallet is long"),
    )
    requires = ("ohlcv", "wallet_swaps")
    event_kinds = ("wallet_swap",)

    def __init__(self, token: str = SOL_MINT, wallets: tuple[str, ...] = ()):
        #: The token copied (its mint or address, as the swaps name it).
        self.token = token
        #: The wallets followed; empty: every watched wallet of the dataset.
        self.wallets = frozenset(wallets)

    def warmup(self, params: Params) -> int:
        return 0

    def signals(self, frame: pl.DataFrame, params: Params) -> pl.DataFrame:
        """Flat: bars alone never move this strategy (its targets come from wallet swaps)."""
        import polars as pl

        return frame.with_columns(pl.lit(0.0, dtype=pl.Float64).alias("target"))

    def init_state(self, params: Params) -> CopyWalletState:
        return CopyWalletState()

    def step(self, state: CopyWalletState, bar: Bar, params: Params) -> float:
        return state.target

    def on_event(self, state: CopyWalletState, event: Event, params: Params) -> float | None:
        from drydock.events import WalletSwap

        if not isinstance(event, WalletSwap):
            return None
        if self.wallets and event.wallet not in self.wallets:
            return None
        state.swaps += 1
        if event.token_out == self.token:
            state.target = float(params["size"])
        elif event.token_in == self.token:
            state.target = 0.0
        else:
            return None
        return state.target
