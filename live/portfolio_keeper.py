"""A run's book over several instruments with one cash balance, kept by the portfolio model.

The research portfolio model (:mod:`drydock.fills.portfolio_reference`: weights per asset, sells
before buys, a spot book never borrowing, lots and min notional per asset, funding per perp) is
stepped bar by bar; its book carries a gate, so each order it decides for an asset becomes a
journaled policy decision on that symbol and, if allowed, an order to the venue. Only the venue's
fills are booked back. A basket rebalancer and a spot+perp carry are both such books.

While an order is in flight the book answers the session's questions (quantity, position,
equity, notionals) for that order's asset, valued at the prices of the moment (the bar's opens
while the open's rebalance goes out).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from drydock.fills import PortfolioConfig, PortfolioStepper, Reason
from drydock.fills.portfolio_reference import Book, book_fill
from drydock.types import Bar, Fill, Position, Side
from live.engine_book import Send, whole_lots

if TYPE_CHECKING:
    from collections.abc import Sequence


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


class PortfolioKeeper:
    """The portfolio run's book, with every order the model decides sent through ``send``."""

    def __init__(self, strategy_id: str, symbols: Sequence[str], config: PortfolioConfig) -> None:
        self.strategy_id, self.symbols, self.config = strategy_id, tuple(symbols), config
        k = len(self.symbols)
        self.stepper = PortfolioStepper(config, k)
        self.book: Book = self.stepper.book
        self.book.gate = self._gate
        self.send: Send | None = None
        self._lots = [_dec(lot) for lot in config.lots(k)]
        self.asset = 0  # the asset of the order in flight (or last sent)
        self.prices: list[float] = [0.0] * k  # the prices of the moment (opens, then closes)
        self._bars: list[Bar] = []
        self._seq = 0
        self._booking: tuple[int, Reason] = (0, Reason.SIGNAL)
        #: Gross exposure (sum of |weight|) of the rebalance going out: its legs are one
        #: intent, judged at the leverage it ends at, not at a leg's transient overshoot.
        self.target_gross = 0.0

    # -- the book surface the session reads, for the asset in flight -------------------------

    @property
    def symbol(self) -> str:
        return self.symbols[self.asset]

    @property
    def cash(self) -> Decimal:
        return _dec(self.book.cash)

    @property
    def qty(self) -> Decimal:
        return _dec(self.book.qty[self.asset])

    @property
    def trade_pnl(self) -> list[float]:
        return [pnl for _, pnl in self.book.trades]

    def _prices(self, price: float | Decimal | None) -> list[float]:
        prices = list(self.prices)
        if price is not None:
            prices[self.asset] = float(price)
        return prices

    def equity(self, price: float | Decimal | None = None) -> Decimal:
        """Cash plus every position, the asset in flight at ``price``, the rest at theirs."""
        return _dec(self.book.value(self._prices(price)))

    def notionals(self, price: float | Decimal | None = None) -> dict[str, float]:
        """|notional| held per symbol (what the policy reads), valued as :meth:`equity`."""
        prices = self._prices(price)
        return {
            s: abs(q * p) for s, q, p in zip(self.symbols, self.book.qty, prices, strict=True) if q
        }

    def position(self) -> Position:
        return Position(self.strategy_id, self.symbol, self.qty, _dec(self.book.entry[self.asset]))

    def positions(self) -> list[Position]:
        """Every asset's position (the run's final state)."""
        return [
            Position(self.strategy_id, s, _dec(q), _dec(e))
            for s, q, e in zip(self.symbols, self.book.qty, self.book.entry, strict=True)
        ]

    def apply(self, fill: Fill) -> None:
        """Book one venue fill of the order in flight."""
        bar, reason = self._booking
        signed = float(fill.qty) if fill.side is Side.BUY else -float(fill.qty)
        book_fill(self.book, bar, self.asset, signed, float(fill.price), float(fill.fee), reason)

    # -- stepping ----------------------------------------------------------------------------

    def step(self, index: int, bars: Sequence[Bar], weights: Sequence[float],
             rates_open: Sequence[float] | None = None,
             rates_inside: Sequence[float] | None = None) -> float:  # fmt: skip
        """Bar ``index`` of every asset: the queued rebalance at the opens (each order through
        the gate), then the weights decided at the close; the equity marked there."""
        self._bars, self._seq = list(bars), 0
        pending = self.stepper.pending
        self.target_gross = sum(abs(w) for w in pending) if pending is not None else 0.0
        self.prices = [b.open for b in bars]
        self.stepper.open(index, self.prices, rates_open, rates_inside)
        self.prices = [b.close for b in bars]
        return self.stepper.close(index, self.prices, weights)

    def retry(self) -> None:
        """Rebalance to the weights in force again at the next open (a leg got no fill),
        unless a rebalance is already due there."""
        if self.stepper.pending is None:
            self.stepper.pending = list(self.stepper.active)

    def finish(self, index: int) -> bool:
        """``close_at_end`` at the last bar stepped; whether it sent closes."""
        return bool(self._bars) and self.stepper.end(index, self.prices)

    def _gate(self, book: Book, index: int, j: int, delta: float, price: float, px: float,
              fee: float, reason: Reason) -> None:  # fmt: skip
        """The model decided an order for asset ``j``: send it; its fills book back."""
        if not self._bars or self.send is None:
            raise RuntimeError("PortfolioKeeper stepped outside a session (no bars or no send)")
        qty = whole_lots(delta, self._lots[j])
        if qty == 0:
            return
        bar = self._bars[j]
        seq, self._seq = self._seq, self._seq + 1
        self.asset, self._booking = j, (index, reason)
        at = bar if price == bar.open else replace(bar, open=price)
        side = Side.BUY if delta > 0 else Side.SELL
        self.send(seq, side, qty, _dec(price), bar, at, reason, "market", self.symbols[j])
