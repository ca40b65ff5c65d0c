"""Market orders on an EVM chain: a BUY or SELL of ``BASE/QUOTE`` is a swap through one router.

The order-level :class:`~live.venues.base.Venue` over :class:`~live.venues.evm.EvmVenue` (which
judges every transaction as an ``evm_tx`` action before signing, stores it signed and sends it
once). For an order of ``qty`` base at the order's reference ``price``:

- BUY: ``swapExactTokensForTokens`` of ``qty x price`` quote for at least
  ``qty x (1 - slippage)`` base; SELL: of ``qty`` base for at least ``qty x price x (1 -
  slippage)`` quote (raw amounts rounded down to each token's decimals). The router reverts
  below that minimum (a ``VenueError``: the order is rejected, nothing fills).
- The router is approved for exactly the input amount when its allowance is short (one
  ``approve`` per order, under the policy's spender allowlist and approve cap), idempotency key
  ``<client order id>:approve``; the swap's key is ``<client order id>:swap``.
- The fill is read from the mined receipt: the ERC-20 ``Transfer`` logs out of and into the
  wallet give the amounts actually paid and received (qty and average price); its time is the
  block's. The fee is 0 in quote: the pool's fee is inside the price, and gas is paid in the
  chain's native coin, logged (``evm_swap.filled``), not converted.
- ``fills_for(id)`` asks the signed store for the swap's hash and the chain for its receipt, so
  after a crash the answer comes from the chain, not memory; ``submit`` of a known id resends the
  stored bytes or returns the mined fills, never a second swap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from drydock.adapters.evm import block_time, erc20, receipt_transfers, v2_router
from drydock.errors import ConfigError
from drydock.execution import below_min_notional
from drydock.logs import get_logger
from drydock.types import Bar, Fill, Instrument, Order, Side
from live.venues._pairs import from_raw, resolve_pairs, shown, sides, to_raw
from live.venues.base import InsufficientFundsError, MinNotionalError, VenueError
from live.venues.evm import EvmVenue

__all__ = ["PRICE_QUANTUM", "EvmSwapVenue", "SwapMarket", "Token"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Token:
    """An ERC-20 the venue trades: its symbol, address and decimals."""

    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True)
class SwapMarket:
    """What a chain venue trades and through what: the router, the tokens and the pairs.

    ``pairs`` map an order symbol to its (base, quote) tokens, ``{"ETH/USDC": ("WETH", "USDC")}``
    (a bare ``"WETH/USDC"`` names its own tokens); ``slippage_bps`` bounds how far below
    the order's price a fill may land (the swap's ``amountOutMin``); ``deadline_seconds`` is
    added to the latest block's time.
    """

    router: str
    tokens: Mapping[str, Token]
    pairs: Mapping[str, Sequence[str]] | Sequence[str]
    slippage_bps: Decimal = Decimal(50)
    deadline_seconds: int = 300
    min_notional: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pairs", resolve_pairs(self.pairs, self.tokens))
        if not Decimal(0) <= Decimal(self.slippage_bps) < Decimal(10_000):
            raise ConfigError(f"slippage_bps {self.slippage_bps} must be in [0, 10000).")

    def pair(self, symbol: str) -> tuple[Token, Token]:
        """(base, quote) of a configured pair; a VenueError names the pairs there are."""
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


#: Fill prices (quote paid or received / base) are rounded to 18 decimal places.
PRICE_QUANTUM = Decimal("1e-18")


class EvmSwapVenue:
    """Market orders as router swaps on one chain, from one wallet."""

    def __init__(self, evm: EvmVenue, market: SwapMarket, name: str | None = None):
        self.evm, self.market = evm, market
        self.name = name or evm.chain  # the chain, as its evm_tx actions name the venue
        self.router = v2_router(evm.w3, market.router)
        self._erc20 = {s: erc20(evm.w3, t.address) for s, t in market.tokens.items()}

    def instrument(self, symbol: str) -> Instrument:
        """Lot = one raw unit of the base token, tick = one raw unit of the quote token."""
        base, quote = self.market.pair(symbol)
        base_name, quote_name = sides(symbol)
        return Instrument(self.name, symbol, base_name, quote_name,
                          tick_size=Decimal(10) ** -quote.decimals,
                          lot_size=Decimal(10) ** -base.decimals,
                          min_notional=self.market.min_notional)  # fmt: skip

    def set_bar(self, bar: Bar) -> None:
        """The pool prices the swap; the bar is ignored."""

    def balances(self) -> dict[str, Decimal]:
        """The wallet's token balances (for reconciliation), under the names the pairs' symbols
        give them (``ETH`` for the WETH of an ``ETH/USDC`` pair), as the journal counts them."""
        out: dict[str, Decimal] = {}
        for symbol, tokens in self.market.resolved.items():
            for name, held in zip(sides(symbol), tokens, strict=True):
                token = self.market.tokens[held]
                raw = int(self._erc20[held].functions.balanceOf(self.evm.address).call())
                if raw:
                    out[name] = from_raw(raw, token.decimals)
        return out

    # -- orders ------------------------------------------------------------------------------
    def _amounts(self, order: Order, base: Token, quote: Token) -> tuple[Token, Token, int, int]:
        """(token in, token out, raw amount in, raw min out) for ``order``."""
        keep = 1 - Decimal(self.market.slippage_bps) / 10_000
        if order.side is Side.BUY:
            return (quote, base, to_raw(order.qty * order.price, quote.decimals),
                    to_raw(order.qty * keep, base.decimals))  # fmt: skip
        return (base, quote, to_raw(order.qty, base.decimals),
                to_raw(order.qty * order.price * keep, quote.decimals))  # fmt: skip

    def submit(self, order: Order) -> list[Fill]:
        """Swap once per client order id; a known id returns its first fills (or resends the
        bytes signed before a crash), never a second transaction."""
        cid = order.client_order_id
        key = f"{cid}:swap"
        if self.evm.store.get(key) is not None or self.evm.store.voided(key) is not None:
            receipt = self.evm.send(key, {})  # stored: the receipt, or the same bytes again
            return self._fills(cid, self.evm.client.receipt(receipt.tx_hash))
        base, quote = self.market.pair(order.symbol)
        inst = self.instrument(order.symbol)
        if not order.price.is_finite() or order.price <= 0:
            raise VenueError(
                f"order {cid} has no reference price ({order.price}); a chain swap's minimum "
                "output is derived from it"
            )
        if order.qty <= 0 or below_min_notional(order.qty, order.price, inst.min_notional):
            raise MinNotionalError(
                f"order {cid}: {order.qty} {order.symbol} at {order.price} is below the min "
                f"notional {inst.min_notional} {quote.symbol}"
            )
        token_in, token_out, amount_in, min_out = self._amounts(order, base, quote)
        if amount_in <= 0 or min_out <= 0:
            raise VenueError(f"order {cid} rounds to zero raw units of {token_in.symbol}")
        held = int(self._erc20[token_in.symbol].functions.balanceOf(self.evm.address).call())
        if held < amount_in:
            raise InsufficientFundsError(
                f"order {cid}: the wallet holds {shown(held, token_in.decimals)} "
                f"{token_in.symbol}, the swap needs {shown(amount_in, token_in.decimals)}"
            )
        self._ensure_allowance(cid, token_in, amount_in)
        latest = int(self.evm.w3.eth.get_block("latest")["timestamp"])
        call = self.router.functions.swapExactTokensForTokens(
            amount_in, min_out, [self.evm.w3.to_checksum_address(token_in.address),
                                 self.evm.w3.to_checksum_address(token_out.address)],
            self.evm.address, latest + self.market.deadline_seconds,
        )  # fmt: skip
        receipt = self.evm.send(key, self.evm.build(call, gas=300_000))
        return self._fills(cid, self.evm.client.receipt(receipt.tx_hash))

    def _ensure_allowance(self, cid: str, token: Token, amount: int) -> None:
        key = f"{cid}:approve"
        if self.evm.store.get(key) is not None:
            self.evm.send(key, {})  # signed before a crash: its nonce precedes the swap's
            return
        contract = self._erc20[token.symbol]
        if (
            int(contract.functions.allowance(self.evm.address, self.router.address).call())
            >= amount
        ):
            return
        self.evm.approve(key, contract, self.router.address, amount)

    def fills_for(self, client_order_id: str) -> list[Fill]:
        """The fills of the swap mined for this id ([] if none was signed, or it is not mined
        yet, or it reverted): from the signed store's hash and the chain's receipt."""
        stored = self.evm.store.get(f"{client_order_id}:swap")
        if stored is None:
            return []
        receipt = self.evm.client.receipt(stored.tx_hash)
        if receipt is None or int(receipt["status"]) != 1:
            return []
        return self._fills(client_order_id, receipt)

    def _fills(self, cid: str, receipt: Any) -> list[Fill]:
        wallet = self.evm.address.lower()
        paid: dict[str, int] = {}
        got: dict[str, int] = {}
        for t in receipt_transfers(receipt):
            if t.sender == wallet:
                paid[t.token] = paid.get(t.token, 0) + t.value
            if t.receiver == wallet:
                got[t.token] = got.get(t.token, 0) + t.value
        for symbol in self.market.resolved:
            base, quote = self.market.pair(symbol)
            b, q = base.address.lower(), quote.address.lower()
            if got.get(b) and paid.get(q):
                side, base_raw, quote_raw = Side.BUY, got[b], paid[q]
            elif paid.get(b) and got.get(q):
                side, base_raw, quote_raw = Side.SELL, paid[b], got[q]
            else:
                continue
            qty = from_raw(base_raw, base.decimals)
            price = (from_raw(quote_raw, quote.decimals) / qty).quantize(PRICE_QUANTUM)
            block = int(receipt["blockNumber"])
            log.info("evm_swap.filled", venue=self.name, client_order_id=cid, side=side.value,
                     qty=str(qty), price=str(price), tx_hash=receipt["transactionHash"].to_0x_hex(),
                     gas_used=int(receipt["gasUsed"]),
                     gas_price_wei=int(receipt.get("effectiveGasPrice") or 0))  # fmt: skip
            ts = block_time(self.evm.w3, block)
            return [Fill(cid, self.name, symbol, side, qty, price, Decimal(0), ts)]
        raise VenueError(
            f"swap of order {cid} mined without a configured pair moving through the wallet; "
            "check the router and the token list"
        )
