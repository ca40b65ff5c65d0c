"""Kraken's REST API replayed from recorded answers, for ccxt to talk to with no network.

:class:`RecordedKraken` is a ``requests`` transport adapter mounted on a real ccxt ``kraken``
session, so ccxt signs, sends, parses and maps errors exactly as against the exchange. Answers are
the recorded bodies of ``data/sample/ccxt/kraken_response.json`` (ccxt's own static test file):
``AddOrder`` returns the recorded createOrder body with this session's order id, order queries
return the recorded closed market order with the session's id, client id, volume, price and fee.
The order book behind it is a small deterministic matcher: a market order fills at the price the
test or demo sets for its symbol, with Kraken's 0.26% taker fee. ``script`` plays faults on the
next ``AddOrder`` calls: Kraken's documented errors (insufficient funds, rate limit, service
unavailable), a read timeout before or after the order is accepted, or a partial fill that rests
until cancelled; ``read_faults`` makes the next order reads fail as unavailable (``read_faults_after_accept``:
from the next accepted order on). Every ``AddOrder`` is counted, so a test can prove an order was never sent twice.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

TAKER_FEE = Decimal("0.0026")
#: Kraken's documented error strings, which ccxt's kraken maps to its exceptions.
ERRORS = {
    "insufficient_funds": "EOrder:Insufficient funds",
    "rate_limited": "EAPI:Rate limit exceeded",
    "unavailable": "EService:Unavailable",
    "invalid": "EGeneral:Invalid arguments",
}
FAULTS = frozenset({*ERRORS, "timeout_before_accept", "timeout_after_accept", "partial"})


def recorded_cases(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The recorded cases of a ccxt static response file, by unified method name."""
    cases: dict[str, list[dict[str, Any]]] = json.loads(path.read_text(encoding="utf-8"))["methods"]
    return cases


@dataclass
class _Order:
    txid: str
    cl_ord_id: str
    pair: str
    side: str
    vol: Decimal
    vol_exec: Decimal
    price: Decimal
    status: str
    opentm: float


class RecordedKraken(BaseAdapter):
    """A deterministic Kraken behind ccxt's HTTP session (mount it on ``https://``)."""

    def __init__(self, responses: Path, markets: Mapping[str, Mapping[str, Any]]):
        super().__init__()
        cases = recorded_cases(responses)
        self._create = cases["createOrder"][0]["httpResponse"]
        closed = next(c for c in cases["fetchOrder"] if c["description"] == "closed market order")
        self._template = next(iter(closed["httpResponse"]["result"].values()))
        self._pairs = {str(m["id"]): str(sym) for sym, m in markets.items()}
        self.prices: dict[str, Decimal] = {}
        #: What the account held before any order (Kraken asset codes).
        self.starting_balances: dict[str, Decimal] = {"USDT": Decimal("10000")}
        self.script: deque[str] = deque()
        self.orders: dict[str, _Order] = {}
        self.add_calls: list[str] = []  # client ids of every AddOrder that reached the exchange
        self.bodies: dict[str, list[dict[str, str]]] = {}  # form fields ccxt sent, per endpoint
        self.read_faults = 0  # the next N order reads answer EService:Unavailable
        self.read_faults_after_accept = 0  # armed by the next accepted order
        self.clock = 1_705_260_547.472  # the recorded order's open time; +1 s per order

    # -- what tests read ----------------------------------------------------------------------
    def accepted(self, cl_ord_id: str | None = None) -> int:
        """Orders the exchange accepted (for one client id, or all)."""
        return sum(1 for o in self.orders.values() if cl_ord_id in (None, o.cl_ord_id))

    def duplicates(self) -> int:
        """Accepted orders beyond the first per client id (must be 0)."""
        ids = [o.cl_ord_id for o in self.orders.values()]
        return len(ids) - len(set(ids))

    # -- the transport ----------------------------------------------------------------------
    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        path = urlparse(request.url or "").path
        raw = request.body
        body = raw.decode() if isinstance(raw, bytes) else str(raw or "")
        form: dict[str, str] = {k: v[0] for k, v in parse_qs(body).items()}
        endpoint = path.rsplit("/", 1)[-1]
        self.bodies.setdefault(endpoint, []).append(form)
        handler = getattr(self, f"_{endpoint}", None)
        if endpoint in ("QueryOrders", "OpenOrders", "ClosedOrders") and self.read_faults > 0:
            self.read_faults -= 1
            return self._reply(request, {"error": [ERRORS["unavailable"]]})
        if handler is None:
            return self._reply(request, {"error": [f"EGeneral:Unknown method {endpoint}"]})
        return self._reply(request, handler(form, request))

    def close(self) -> None:
        """Nothing to release."""

    @staticmethod
    def _reply(request: requests.PreparedRequest, payload: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response._content = json.dumps(payload).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url or ""
        response.request = request
        return response

    # -- endpoints ---------------------------------------------------------------------------
    def _AddOrder(self, form: dict[str, str], request: requests.PreparedRequest) -> Any:
        fault = self.script.popleft() if self.script else "accept"
        if fault not in FAULTS | {"accept"}:
            raise ValueError(f"unknown scripted fault {fault!r}; one of {sorted(FAULTS)}")
        self.add_calls.append(form.get("cl_ord_id", ""))
        if fault in ERRORS:
            return {"error": [ERRORS[fault]]}
        if fault == "timeout_before_accept":
            raise requests.exceptions.ReadTimeout("Read timed out. (recorded kraken)")
        symbol = self._pairs[form["pair"]]
        if symbol not in self.prices:
            raise ValueError(f"recorded kraken has no price for {symbol}; set prices[{symbol!r}]")
        self.clock += 1.0
        vol = Decimal(form["volume"])
        txid = f"ODRY{len(self.orders):02d}-{form['pair'][:5]}-{int(self.clock) % 1_000_000:06d}"
        filled = vol if fault != "partial" else (vol / 2).quantize(Decimal("0.00000001"))
        self.orders[txid] = _Order(
            txid, form.get("cl_ord_id", ""), form["pair"], form["type"], vol, filled,
            self.prices[symbol], "closed" if filled == vol else "open", self.clock,
        )  # fmt: skip
        self.read_faults, self.read_faults_after_accept = self.read_faults_after_accept, 0
        if fault == "timeout_after_accept":
            raise requests.exceptions.ReadTimeout("Read timed out. (recorded kraken)")
        answer = copy.deepcopy(self._create)
        answer["result"]["txid"] = [txid]
        answer["result"]["descr"]["order"] = f"{form['type']} {vol:.8f} {form['pair']} @ market"
        return answer

    def _order_json(self, o: _Order) -> dict[str, Any]:
        d: dict[str, Any] = copy.deepcopy(self._template)
        cost = (o.vol_exec * o.price).quantize(Decimal("0.000001"))
        d.update(
            status=o.status, opentm=f"{o.opentm:.6f}", vol=f"{o.vol:.8f}",
            vol_exec=f"{o.vol_exec:.8f}", cost=f"{cost}", price=f"{o.price}",
            fee=f"{(cost * TAKER_FEE).quantize(Decimal('0.000001'))}", cl_ord_id=o.cl_ord_id,
            trades=[f"T{o.txid[1:]}"] if o.vol_exec else [],
            closetm=f"{o.opentm + 0.5:.7f}" if o.status != "open" else None,
        )  # fmt: skip
        d["descr"] = dict(d["descr"], pair=o.pair, type=o.side,
                          order=f"{o.side} {o.vol:.8f} {o.pair} @ market")  # fmt: skip
        return d

    def _QueryOrders(self, form: dict[str, str], request: requests.PreparedRequest) -> Any:
        ids = [t for t in form.get("txid", "").split(",") if t in self.orders]
        if not ids:
            return {"error": ["EOrder:Unknown order"]}
        return {"error": [], "result": {t: self._order_json(self.orders[t]) for t in ids}}

    def _OpenOrders(self, form: dict[str, str], request: requests.PreparedRequest) -> Any:
        opened = {t: self._order_json(o) for t, o in self.orders.items() if o.status == "open"}
        return {"error": [], "result": {"open": opened}}

    def _ClosedOrders(self, form: dict[str, str], request: requests.PreparedRequest) -> Any:
        closed = {t: self._order_json(o) for t, o in self.orders.items() if o.status != "open"}
        return {"error": [], "result": {"closed": closed, "count": len(closed)}}

    def _CancelOrder(self, form: dict[str, str], request: requests.PreparedRequest) -> Any:
        order = self.orders.get(form.get("txid", ""))
        if order is None or order.status != "open":
            return {"error": ["EOrder:Unknown order"]}
        order.status = "canceled"
        return {"error": [], "result": {"count": 1}}

    def _BalanceEx(self, form: dict[str, str], request: requests.PreparedRequest) -> Any:
        """Balances that follow the fills: the starting USDT, less each buy's cost and fee, plus
        each sell's proceeds less fee; the base asset by Kraken's code (XBT for BTC)."""
        totals = dict(self.starting_balances)
        for o in self.orders.values():
            if not o.vol_exec:
                continue
            cost = (o.vol_exec * o.price).quantize(Decimal("0.000001"))
            fee = (cost * TAKER_FEE).quantize(Decimal("0.000001"))
            base, sign = o.pair[: -len("USDT")], 1 if o.side == "buy" else -1
            totals[base] = totals.get(base, Decimal(0)) + sign * o.vol_exec
            totals["USDT"] = totals.get("USDT", Decimal(0)) - sign * cost - fee
        return {"error": [], "result": {
            code: {"balance": f"{amount:.8f}", "hold_trade": "0.0000"}
            for code, amount in sorted(totals.items())
        }}  # fmt: skip


def recorded_kraken_exchange(sample_dir: Path) -> tuple[Any, RecordedKraken]:
    """A real ccxt ``kraken`` (markets from ``markets/kraken.json``, throttling off) whose HTTP
    goes to a :class:`RecordedKraken` over ``ccxt/kraken_response.json``. The API key and secret
    are placeholders: the recorded exchange checks no signature."""
    import base64

    import ccxt

    markets = json.loads((sample_dir / "markets" / "kraken.json").read_text("utf-8"))["markets"]
    exchange = ccxt.kraken({
        "apiKey": "recorded-kraken-placeholder",
        "secret": base64.b64encode(b"recorded-kraken-placeholder").decode(),
        "enableRateLimit": False,
    })  # fmt: skip
    exchange.set_markets(list(markets.values()))
    adapter = RecordedKraken(sample_dir / "ccxt" / "kraken_response.json", markets)
    exchange.session.mount("https://", adapter)
    return exchange, adapter
