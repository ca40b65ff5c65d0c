"""Cash, holdings and closed-trade PnL of a spot, long-only account in one symbol (Decimal).

A trade opens when the position leaves zero and closes when it returns to zero; its PnL is the
cash it returned minus the cash it cost, fees included, as research counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from drydock.execution import ExecutionModel
from drydock.types import Fill, Instrument, Position, Side

ZERO = Decimal(0)


@dataclass
class Book:
    """Running account state, rebuilt from fills (so a replayed journal rebuilds it exactly)."""

    strategy_id: str
    symbol: str
    cash: Decimal
    qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    cost_basis: Decimal = ZERO
    open_trade_pnl: Decimal = ZERO
    trade_pnl: list[float] = field(default_factory=list)
    consecutive_losses: int = 0

    def apply(self, fill: Fill) -> None:
        """Update cash, quantity, average price and trade PnL with one fill."""
        notional = fill.qty * fill.price
        if fill.side is Side.BUY:
            cost = notional + fill.fee
            self.avg_price = (self.avg_price * self.qty + notional) / (self.qty + fill.qty)
            self.qty += fill.qty
            self.cash -= cost
            self.cost_basis += cost
            return
        if fill.qty > self.qty:
            raise ValueError(
                f"sell of {fill.qty} {self.symbol} exceeds the {self.qty} held (spot, long-only)"
            )
        proceeds = notional - fill.fee
        released = self.cost_basis * fill.qty / self.qty
        self.open_trade_pnl += proceeds - released
        self.cost_basis -= released
        self.qty -= fill.qty
        self.cash += proceeds
        if self.qty == 0:
            pnl = float(self.open_trade_pnl)
            self.trade_pnl.append(pnl)
            self.consecutive_losses = self.consecutive_losses + 1 if pnl < 0 else 0
            self.avg_price = self.cost_basis = self.open_trade_pnl = ZERO

    def equity(self, price: float | Decimal) -> Decimal:
        """Cash plus holdings marked at ``price`` (no liquidation costs)."""
        return self.cash + self.qty * Decimal(str(price))

    def position(self) -> Position:
        return Position(self.strategy_id, self.symbol, self.qty, self.avg_price)


def size_order(
    book: Book, target: float, price: float, execution: ExecutionModel, instrument: Instrument
) -> tuple[Side, Decimal] | None:
    """Side and lot-rounded quantity that move the book to ``target`` of equity at ``price``.

    ``target`` is a fraction of current equity in [0, 1] (spot, long-only; 1.0 = all in); anything
    else raises ValueError (the replay checks targets first, with the strategy and bar named). A
    buy is sized with the execution model's all-in formula so price, slippage and fees fit in
    cash; a move to 0 sells exactly what is held. Returns None when less than one lot would trade.
    """
    if not 0.0 <= target <= 1.0:  # also rejects NaN
        raise ValueError(f"target {target!r} is outside [0, 1] (spot, long-only)")
    px = Decimal(str(price))
    if target == 0:
        return (Side.SELL, book.qty) if book.qty > 0 else None
    delta = book.equity(px) * Decimal(str(target)) - book.qty * px
    if delta > 0:
        fill_price = execution.slipped_price_dec(px, buy=True)
        qty = execution.all_in_qty_dec(min(delta, book.cash), fill_price, instrument.lot_size)
        return (Side.BUY, qty) if qty > 0 else None
    qty = min(instrument.round_qty(-delta / px), book.qty)
    return (Side.SELL, qty) if qty > 0 else None
