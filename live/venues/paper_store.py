"""A paper venue whose book survives the process: accepted orders and fills live in SQLite.

A real exchange remembers an order after the client crashes; :class:`PaperVenue` forgets it with
the process. :class:`DurablePaperVenue` keeps every accepted order (keyed by client order id, one
row each, written in one transaction with its fill) and every call made to it, so a crash test can
count what the venue really received: ``accepted`` orders, ``resubmits`` (a submit for an id it
already had) and the fills a journal must hold after reconciliation.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from drydock.execution import ExecutionModel
from drydock.types import Bar, Fill, Instrument, Order, Side
from live.journal.base import utc_iso
from live.venues.paper import PaperVenue

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (client_order_id TEXT PRIMARY KEY, fill TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, call TEXT NOT NULL, client_order_id TEXT NOT NULL, known INTEGER NOT NULL);
"""


def _encode(fill: Fill) -> str:
    return json.dumps({"cid": fill.client_order_id, "venue": fill.venue, "symbol": fill.symbol,
                       "side": fill.side.value, "qty": str(fill.qty), "price": str(fill.price),
                       "fee": str(fill.fee), "ts": utc_iso(fill.ts)})  # fmt: skip


def _decode(text: str) -> Fill:
    d = json.loads(text)
    return Fill(d["cid"], d["venue"], d["symbol"], Side(d["side"]), Decimal(d["qty"]),
                Decimal(d["price"]), Decimal(d["fee"]), datetime.fromisoformat(d["ts"]))  # fmt: skip


class DurablePaperVenue:
    """The paper venue's fills, remembered in ``path`` across crashes and restarts."""

    def __init__(
        self,
        path: Path,
        name: str = "paper",
        execution: ExecutionModel | None = None,
        instruments: Mapping[str, Instrument] | None = None,
    ):
        self.name = name
        self._paper = PaperVenue(name, execution, instruments)
        self.takes_resting_orders = True  # the paper venue's pricing of core-matched orders
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    @property
    def impact(self) -> float:
        """The paper venue's volume-impact coefficient (:attr:`PaperVenue.impact`)."""
        return self._paper.impact

    @impact.setter
    def impact(self, value: float) -> None:
        self._paper.impact = value

    @property
    def liquidation_fee(self) -> float:
        """The paper venue's liquidation fee (:attr:`PaperVenue.liquidation_fee`)."""
        return self._paper.liquidation_fee

    @liquidation_fee.setter
    def liquidation_fee(self, value: float) -> None:
        self._paper.liquidation_fee = value

    def instrument(self, symbol: str) -> Instrument:
        return self._paper.instrument(symbol)

    def set_bar(self, bar: Bar) -> None:
        self._paper.set_bar(bar)

    def _known(self, client_order_id: str) -> list[Fill]:
        row = self._db.execute(
            "SELECT fill FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return [_decode(row[0])] if row else []

    def submit(self, order: Order) -> list[Fill]:
        """Fill a new order (one transaction: the order and its fill); a known id returns its
        fill, as an exchange rejects a duplicate client id, and is counted as a resubmit."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            known = self._known(order.client_order_id)
            self._db.execute(
                "INSERT INTO calls (call, client_order_id, known) VALUES ('submit', ?, ?)",
                (order.client_order_id, int(bool(known))),
            )
            if known:
                self._db.execute("COMMIT")
                return known
            fills = self._paper.submit(order)
            self._db.execute(
                "INSERT INTO orders (client_order_id, fill) VALUES (?, ?)",
                (order.client_order_id, _encode(fills[0])),
            )
            self._db.execute("COMMIT")
            return fills
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def fills_for(self, client_order_id: str) -> list[Fill]:
        return self._known(client_order_id)

    def accepted(self) -> int:
        """Orders the venue accepted (one per client order id)."""
        return int(self._db.execute("SELECT count(*) FROM orders").fetchone()[0])

    def resubmits(self) -> int:
        """Submit calls for an id the venue already had (the runner should have asked first)."""
        return int(self._db.execute("SELECT count(*) FROM calls WHERE known = 1").fetchone()[0])

    def all_fills(self) -> list[Fill]:
        return [_decode(r[0]) for r in self._db.execute("SELECT fill FROM orders ORDER BY rowid")]

    def close(self) -> None:
        self._db.close()
