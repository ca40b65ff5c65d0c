"""Market orders on Solana as an atomic two-leg SPL settlement against a counterparty pool.

What is real and what is emulated: there is no swap program here (no Solana program toolchain
offline, and no Jupiter/Raydium route builder). A market BUY or SELL of ``BASE/QUOTE`` is one
transaction of two SPL ``TransferChecked`` instructions, the wallet's input to the pool's token
account and the pool's output back to the wallet's, signed by the wallet and by the pool's
authority (a counterparty key the operator holds). The token program, the signatures, the
atomicity (both legs land or neither), the compute budget, the blockhash and the confirmation are
Solana's own; the *pricing* is this module's: the output is the constant-product quote over the
pool's two token-account balances with ``fee_bps`` taken from the input (Uniswap V2's formula),
read just before signing, and an order whose quote falls below the order's price less
``slippage_bps`` is refused before anything is signed. A real AMM would check that bound on
chain; here a pool that moved between the quote and the landing still pays the quoted amount.

Every transaction goes through :class:`~live.venues.solana.SolanaVenue` (judged as a
``solana_tx`` action before it is stored signed; the policy must list the pool's and the wallet's
token accounts as destinations and the mints with their caps, and it counts both legs). The
idempotency key is ``<client order id>:swap`` (attempts ``~1``, ``~2`` after an expired
blockhash). The fill is read from the confirmed transaction's own instructions (the amounts it
moved: with both legs atomic, what it says is what happened); its time is when it was stored
signed, so every answer for an id is the same fill.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from drydock.adapters.solana import transfer_checked
from drydock.errors import ConfigError
from drydock.execution import below_min_notional
from drydock.policy import SolanaTx
from drydock.types import Bar, Fill, Instrument, Order, Side
from live.venues._pairs import from_raw, resolve_pairs, shown, sides, to_raw
from live.venues.base import InsufficientFundsError, MinNotionalError, VenueError
from live.venues.solana import SolanaVenue

__all__ = ["PRICE_QUANTUM", "SettlementPool", "SolanaSwapVenue", "SplToken"]

#: Fill prices are rounded to 18 decimal places.
PRICE_QUANTUM = Decimal("1e-18")


@dataclass(frozen=True, slots=True)
class SplToken:
    """An SPL mint the venue trades, the wallet's token account for it and the pool's."""

    symbol: str
    mint: Pubkey
    decimals: int
    wallet_account: Pubkey
    pool_account: Pubkey


@dataclass(frozen=True)
class SettlementPool:
    """The counterparty: its token accounts (in ``tokens``), its authority, fee and the pairs
    (an order symbol to its (base, quote) tokens, or a bare ``BASE/QUOTE`` naming its own)."""

    tokens: Mapping[str, SplToken]
    pairs: Mapping[str, Sequence[str]] | Sequence[str]
    authority: Keypair
    fee_bps: int = 30
    slippage_bps: Decimal = Decimal(50)
    min_notional: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pairs", resolve_pairs(self.pairs, self.tokens))
        if not 0 <= self.fee_bps < 10_000 or not 0 <= Decimal(self.slippage_bps) < 10_000:
            raise ConfigError("fee_bps and slippage_bps must be in [0, 10000).")

    def pair(self, symbol: str) -> tuple[SplToken, SplToken]:
        if symbol not in self.pairs:
            raise VenueError(
                f"no pair {symbol!r} on this venue; configured: {', '.join(self.pairs) or 'none'}"
            )
        base, quote = self.resolved[symbol]
        return self.tokens[base], self.tokens[quote]

    @property
    def resolved(self) -> dict[str, tuple[str, str]]:
        """``{symbol: (base token, quote token)}``."""
        return cast(dict[str, tuple[str, str]], self.pairs)


class SolanaSwapVenue:
    """Market orders as atomic settlements against one counterparty pool, from one keypair."""

    def __init__(self, venue: SolanaVenue, pool: SettlementPool, name: str = "solana",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):  # fmt: skip
        self.venue, self.pool, self.name, self._clock = venue, pool, name, clock
        self.wallet = venue.keypair.pubkey()

    def instrument(self, symbol: str) -> Instrument:
        """Lot = one raw unit of the base mint, tick = one raw unit of the quote mint."""
        base, quote = self.pool.pair(symbol)
        base_name, quote_name = sides(symbol)
        return Instrument(self.name, symbol, base_name, quote_name,
                          tick_size=Decimal(10) ** -quote.decimals,
                          lot_size=Decimal(10) ** -base.decimals,
                          min_notional=self.pool.min_notional)  # fmt: skip

    def set_bar(self, bar: Bar) -> None:
        """The pool prices the settlement; the bar is ignored."""

    def balances(self) -> dict[str, Decimal]:
        """The wallet's token-account balances (for reconciliation), under the names the pairs'
        symbols give them, as the journal counts them."""
        out: dict[str, Decimal] = {}
        for symbol, tokens in self.pool.resolved.items():
            for name, held in zip(sides(symbol), tokens, strict=True):
                token = self.pool.tokens[held]
                raw = self.venue.client.token_amount(token.wallet_account)
                if raw:
                    out[name] = from_raw(raw, token.decimals)
        return out

    def quote(self, amount_in: int, token_in: SplToken, token_out: SplToken) -> int:
        """What the pool pays for ``amount_in`` (raw): constant product less ``fee_bps``."""
        reserve_in = self.venue.client.token_amount(token_in.pool_account)
        reserve_out = self.venue.client.token_amount(token_out.pool_account)
        with_fee = amount_in * (10_000 - self.pool.fee_bps)
        return with_fee * reserve_out // (reserve_in * 10_000 + with_fee)

    def submit(self, order: Order) -> list[Fill]:
        """Settle once per client order id; a known id returns its first fills (or resends the
        bytes signed before a crash), never a second settlement."""
        cid = order.client_order_id
        key = f"{cid}:swap"
        stored = self.venue.store.get(self.venue.current_attempt(key))
        base, quote = self.pool.pair(order.symbol)
        if stored is None:
            self._check(order, base, quote)
        keep = 1 - Decimal(self.pool.slippage_bps) / 10_000
        if order.side is Side.BUY:
            token_in, token_out = quote, base
            amount_in = to_raw(order.qty * order.price, quote.decimals)
            min_out = to_raw(order.qty * keep, base.decimals)
        else:
            token_in, token_out = base, quote
            amount_in = to_raw(order.qty, base.decimals)
            min_out = to_raw(order.qty * order.price * keep, quote.decimals)

        def legs() -> list[Instruction]:  # read when a new attempt is built, not on a resend
            if amount_in <= 0 or min_out <= 0:
                raise VenueError(f"order {cid} rounds to zero raw units of {token_in.symbol}")
            held = self.venue.client.token_amount(token_in.wallet_account)
            if held < amount_in:
                raise InsufficientFundsError(
                    f"order {cid}: the wallet holds {shown(held, token_in.decimals)} "
                    f"{token_in.symbol}, the settlement needs {shown(amount_in, token_in.decimals)}"
                )
            out = self.quote(amount_in, token_in, token_out)
            if out < min_out:
                raise VenueError(
                    f"order {cid}: the pool pays {shown(out, token_out.decimals)} "
                    f"{token_out.symbol}, below the slippage bound "
                    f"{shown(min_out, token_out.decimals)}; nothing was signed"
                )
            authority = self.pool.authority.pubkey()
            return [
                transfer_checked(token_in.wallet_account, token_in.mint, token_in.pool_account,
                                 self.wallet, amount_in, token_in.decimals),
                transfer_checked(token_out.pool_account, token_out.mint,
                                 token_out.wallet_account, authority, out, token_out.decimals),
            ]  # fmt: skip

        self.venue.send(key, legs, cosigners=[self.pool.authority])
        fills = self.fills_for(cid)
        if not fills:
            raise VenueError(f"settlement of order {cid} confirmed without moving a pair")
        return fills

    def _check(self, order: Order, base: SplToken, quote: SplToken) -> None:
        if not order.price.is_finite() or order.price <= 0:
            raise VenueError(
                f"order {order.client_order_id} has no reference price ({order.price}); the "
                "settlement's minimum output is derived from it"
            )
        if order.qty <= 0 or below_min_notional(order.qty, order.price, self.pool.min_notional):
            raise MinNotionalError(
                f"order {order.client_order_id}: {order.qty} {order.symbol} at {order.price} is "
                f"below the min notional {self.pool.min_notional} {quote.symbol}"
            )

    def fills_for(self, client_order_id: str) -> list[Fill]:
        """The fill of the settlement confirmed for this id ([] if none was signed, it has not
        landed, or it failed), read from the stored transaction once the cluster confirms it."""
        attempt = self.venue.current_attempt(f"{client_order_id}:swap")
        stored = self.venue.store.get(attempt)
        if stored is None:
            return []
        try:
            if not self.venue.client.status(stored.tx_hash):
                return []
        except VenueError:  # it failed on chain: nothing moved
            return []
        moved: list[tuple[str, str, str, int]] = []  # (mint, source, destination, amount)
        for ix in SolanaTx.from_bytes(stored.raw).instructions:
            if ix.name == "spl_transfer_checked":
                f = ix.fields
                moved.append((f["mint"], f["source"], f["destination"], int(f["amount"])))
        ts = self.venue.store.created_at(attempt) or self._clock()
        for symbol in self.pool.resolved:
            base, quote = self.pool.pair(symbol)
            paid = {m: a for m, s, _d, a in moved if s in (str(base.wallet_account),
                                                          str(quote.wallet_account))}  # fmt: skip
            got = {m: a for m, _s, d, a in moved if d in (str(base.wallet_account),
                                                         str(quote.wallet_account))}  # fmt: skip
            b, q = str(base.mint), str(quote.mint)
            if got.get(b) and paid.get(q):
                side, base_raw, quote_raw = Side.BUY, got[b], paid[q]
            elif paid.get(b) and got.get(q):
                side, base_raw, quote_raw = Side.SELL, paid[b], got[q]
            else:
                continue
            qty = from_raw(base_raw, base.decimals)
            price = (from_raw(quote_raw, quote.decimals) / qty).quantize(PRICE_QUANTUM)
            return [Fill(client_order_id, self.name, symbol, side, qty, price, Decimal(0), ts)]
        return []
