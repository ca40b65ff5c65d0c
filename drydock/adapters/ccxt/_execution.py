"""An exchange venue over ccxt: market orders keyed by our client order id, fills read back.

Assumptions, stated once:

- Orders are market orders (the runner trades targets at the next open). ``submit`` places one
  with ``clientOrderId`` and waits up to ``settle_timeout`` for a terminal state; whatever is still
  open then is cancelled (market orders are immediate-or-cancel in spirit) and the final filled
  quantity is what the journal records, so a fill is never counted twice.
- ``fills_for`` finds an order by its client id among the exchange's open and recent closed
  orders: after a crash or a timeout after submit, the order is found there and never sent again.
  Exchanges index a new order at once in practice; one not yet listed would be sent again, and
  then refused by exchanges that enforce unique client ids (Binance, OKX, Bybit).
- One fill per order: the filled quantity at the average price, the fee in quote currency (a fee
  charged in base is converted at the average price; one charged in a third currency, like BNB,
  is kept out of the fill and logged with the order, because pricing it needs another market).
- ccxt errors are mapped once: network, timeout and exchange-unavailable are transient
  (retried with backoff by the runner), rate limits are :class:`RateLimitedError`, insufficient
  funds :class:`InsufficientFundsError`, everything else (invalid order, auth, permissions) a
  permanent :class:`VenueError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ccxt

from drydock.errors import (
    InsufficientFundsError,
    RateLimitedError,
    TransientVenueError,
    VenueError,
)
from drydock.logs import get_logger
from drydock.markets import market_to_instrument
from drydock.polling import check_poll_config, poll_until
from drydock.types import Bar, Fill, Instrument, Order, Side

log = get_logger(__name__)

TERMINAL = frozenset({"closed", "canceled", "cancelled", "expired", "rejected"})
_PRECISION_MODES = {ccxt.TICK_SIZE: "TICK_SIZE", ccxt.DECIMAL_PLACES: "DECIMAL_PLACES"}


def map_ccxt_error(exc: Exception, what: str) -> VenueError:
    """The venue error a ccxt exception means for the runner (retry, stop, or give up)."""
    message = f"{what}: {type(exc).__name__}: {exc}"
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return RateLimitedError(message)
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFundsError(message)
    if isinstance(exc, ccxt.NetworkError):  # timeouts, unavailable, maintenance, bad responses
        return TransientVenueError(message)
    return VenueError(message)


class CcxtVenue:
    """One ccxt exchange (spot or perps) as a venue (the protocol of :class:`live.venues.Venue`)."""

    def __init__(
        self,
        exchange: ccxt.Exchange,
        *,
        name: str | None = None,
        settle_timeout: float = 10.0,
        poll_interval: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.exchange = exchange
        self.name = name or str(exchange.id)
        check_poll_config(poll_interval, settle_timeout)
        self.settle_timeout = settle_timeout
        self.poll_interval = poll_interval
        self._sleep = sleep
        self._clock = clock
        self._symbols: set[str] = set()
        self._ids: dict[str, tuple[str, str]] = {}  # client id -> (exchange id, symbol)
        self._absent: set[str] = set()  # client ids looked up and not found in this process
        self._instruments: dict[str, Instrument] = {}

    # -- reads -------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ccxt.BaseError as exc:
            raise map_ccxt_error(exc, f"{self.name} {what}") from exc
        except (ValueError, TypeError, ArithmeticError) as exc:  # ccxt parsing a garbled answer
            raise TransientVenueError(
                f"{self.name} {what}: an answer ccxt could not read ({type(exc).__name__}: "
                f"{exc}); its outcome is unknown, so it is looked up again, never assumed"
            ) from exc

    def instrument(self, symbol: str) -> Instrument:
        """Increments and minimums from the exchange's markets (loaded once)."""
        if symbol not in self._instruments:
            self._call("load_markets", self.exchange.load_markets)
            if symbol not in self.exchange.markets:
                raise VenueError(
                    f"{self.name} has no market {symbol!r}; check the symbol (ccxt unified form, "
                    "e.g. BTC/USDT or BTC/USDT:USDT for a perp)."
                )
            mode = _PRECISION_MODES.get(self.exchange.precisionMode, "TICK_SIZE")
            self._instruments[symbol] = market_to_instrument(
                self.name, self.exchange.markets[symbol], mode
            )
            self._symbols.add(symbol)
        return self._instruments[symbol]

    def set_bar(self, bar: Bar) -> None:
        """A real venue prices orders itself; the bar is ignored."""

    def balances(self) -> dict[str, Decimal]:
        """Total balance per currency (non-zero only); a non-finite amount is a VenueError."""
        raw = self._call("fetch_balance", self.exchange.fetch_balance)
        totals = raw.get("total") or {}
        out = {c: Decimal(str(v)) for c, v in totals.items() if v not in (None, 0, 0.0)}
        bad = sorted(c for c, amount in out.items() if not amount.is_finite())
        if bad:
            raise VenueError(
                f"{self.name} reported a non-finite balance for {', '.join(bad)}; the balances "
                "are not usable for reconciliation until the exchange reports numbers."
            )
        return out

    def positions(self, symbols: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Open derivative positions as ccxt unified dicts (perps only)."""
        wanted = list(symbols) if symbols is not None else None
        raw = self._call("fetch_positions", self.exchange.fetch_positions, wanted)
        return [p for p in raw if p.get("contracts")]

    def open_orders(self, symbol: str) -> list[dict[str, Any]]:
        """Orders still open on the exchange for ``symbol`` (reconciliation)."""
        orders: list[dict[str, Any]] = self._call(
            "fetch_open_orders", self.exchange.fetch_open_orders, symbol
        )
        return orders

    # -- orders ------------------------------------------------------------------------------
    def _find(self, client_order_id: str) -> dict[str, Any] | None:
        """The exchange's order with this client id, from open then recent closed orders."""
        if client_order_id in self._ids:
            oid, symbol = self._ids[client_order_id]
            found: dict[str, Any] = self._call(
                "fetch_order", self.exchange.fetch_order, oid, symbol
            )
            return found
        for symbol in sorted(self._symbols):
            for what, fetch in (
                ("fetch_open_orders", self.exchange.fetch_open_orders),
                ("fetch_closed_orders", self.exchange.fetch_closed_orders),
            ):
                for o in self._call(what, fetch, symbol):
                    if o.get("clientOrderId") == client_order_id:
                        self._ids[client_order_id] = (str(o["id"]), str(o["symbol"]))
                        return dict(o)
        return None

    def fills_for(self, client_order_id: str) -> list[Fill]:
        """What the exchange filled for this id ([] if it never saw it), settling it first."""
        found = self._find(client_order_id)
        if found is None:
            self._absent.add(client_order_id)
            return []
        return self._fills(self._settle(found, client_order_id), client_order_id)

    def submit(self, order: Order) -> list[Fill]:
        """Place a market order (unless the exchange already has this client id), wait for it
        to settle, and return its fill."""
        self.instrument(order.symbol)
        cid = order.client_order_id
        if cid not in self._absent:
            known = self._find(cid)
            if known is not None:
                log.warning("venue.duplicate_submit", venue=self.name, cid=order.client_order_id)
                return self._fills(self._settle(known, cid), cid)
        self._absent.discard(cid)  # from here on it may exist at the exchange
        placed = self._call(
            "create_order", self.exchange.create_order, order.symbol, "market",
            order.side.value, float(order.qty), None, {"clientOrderId": cid},
        )  # fmt: skip
        self._ids[cid] = (str(placed["id"]), order.symbol)
        log.info("venue.order_placed", venue=self.name, cid=cid, exchange_order_id=placed["id"])
        return self._fills(self._settle(self._refresh(placed), cid), cid)

    def _refresh(self, known: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call(
            "fetch_order", self.exchange.fetch_order, known["id"], known.get("symbol")
        )
        return found

    def _settle(self, known: dict[str, Any], cid: str) -> dict[str, Any]:
        """Poll until terminal; cancel what is left after ``settle_timeout``."""
        latest = [known]

        def terminal() -> dict[str, Any] | None:
            if latest[0].get("status") in TERMINAL:
                return latest[0]
            return None

        def refreshed() -> dict[str, Any] | None:
            latest[0] = self._refresh(latest[0])
            return terminal()

        if terminal() is None:
            poll_until(refreshed, interval=self.poll_interval, timeout=self.settle_timeout,
                       sleep=lambda seconds: self._sleep(seconds), wait_first=True)  # fmt: skip
        order = latest[0]
        if order.get("status") not in TERMINAL:
            log.warning("venue.cancel_remainder", venue=self.name, cid=cid,
                        filled=order.get("filled"), amount=order.get("amount"))  # fmt: skip
            try:
                self.exchange.cancel_order(order["id"], order.get("symbol"))
            except ccxt.OrderNotFound:
                pass  # it closed in between: the refresh below tells
            except ccxt.BaseError as exc:
                raise map_ccxt_error(exc, f"{self.name} cancel_order") from exc
            order = self._refresh(order)
            if order.get("status") not in TERMINAL:
                raise TransientVenueError(
                    f"{self.name} order {cid} is still {order.get('status')} after cancel; it "
                    "is reconciled on the next attempt"
                )
        return order

    def _fills(self, order: Mapping[str, Any], cid: str) -> list[Fill]:
        filled = Decimal(str(order.get("filled") or 0))
        if filled <= 0:
            return []
        price = Decimal(str(order.get("average") or order.get("price") or 0))
        if price <= 0 and order.get("cost"):
            price = Decimal(str(order["cost"])) / filled
        symbol = str(order["symbol"])
        instrument = self.instrument(symbol)
        ts_ms = order.get("lastTradeTimestamp") or order.get("timestamp")
        ts = datetime.fromtimestamp(ts_ms / 1000, UTC) if ts_ms else self._clock()
        return [
            Fill(
                cid, self.name, symbol, Side(str(order["side"])),
                filled, price, self._fee(order, instrument, price), ts,
            )
        ]  # fmt: skip

    def _fee(self, order: Mapping[str, Any], instrument: Instrument, price: Decimal) -> Decimal:
        fee = order.get("fee") or {}
        cost = fee.get("cost")
        if cost in (None, ""):
            return Decimal(0)
        amount = Decimal(str(cost))
        currency = fee.get("currency")
        if currency in (None, instrument.quote):
            return amount
        if currency == instrument.base:
            return amount * price
        log.warning("venue.fee_other_currency", venue=self.name, order_id=order.get("id"),
                    fee=str(amount), currency=currency)  # fmt: skip
        return Decimal(0)
