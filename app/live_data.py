"""What the Live page reads from the journal: replay runs, their orders, fills and decisions."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from app.data import Loaded
from live.journal import journal_exists, journal_location, open_journal

REPLAY_HINT = (
    "No replay runs in the journal {path}. Run `drydock live replay ema_cross` or `make demo`."
)


def replay_runs() -> Loaded:
    """Every journaled run, newest first, with its decision, order and fill counts."""
    if not journal_exists():  # opening would create an empty journal: say what to run instead
        return Loaded(pl.DataFrame(), REPLAY_HINT.format(path=journal_location()))
    with open_journal() as journal:
        rows = [
            {
                "run_id": s.run.run_id,
                "strategy": s.run.strategy_id,
                "mode": s.run.mode,
                "venue": s.run.venue,
                "symbol": s.run.symbol,
                "timeframe": s.run.timeframe,
                "policy": s.run.policy_version,
                "created_at": s.created_at,
                "finished": s.finished,
                **journal.counts(s.run.run_id),
            }
            for s in journal.runs()
        ]
    if not rows:
        return Loaded(pl.DataFrame(), REPLAY_HINT.format(path=journal_location()))
    return Loaded(pl.DataFrame(rows))


def run_orders(run_id: str) -> pl.DataFrame:
    """Orders of one run in journal order (quantities and prices as text, exact).

    ``filled`` is the quantity the run's fills executed against each order: the journal records an
    order once, before it is sent (status ``new``), and its executions as fill rows.
    """
    with open_journal() as journal:
        orders = journal.orders(run_id)
        fills = journal.fills(run_id)
    filled: dict[str, Decimal] = {}
    for fill in fills:
        filled[fill.client_order_id] = filled.get(fill.client_order_id, Decimal(0)) + fill.qty
    return pl.DataFrame(
        [
            {
                "ts": o.ts,
                "client_order_id": o.client_order_id,
                "symbol": o.symbol,
                "side": o.side.value,
                "qty": str(o.qty),
                "price": str(o.price),
                "filled": str(filled.get(o.client_order_id, Decimal(0))),
            }
            for o in orders
        ],
        schema=_schema("ts", "client_order_id", "symbol", "side", "qty", "price", "filled"),
    )


def run_fills(run_id: str) -> pl.DataFrame:
    """Fills of one run in journal order: the symbol (a portfolio run has several), quantity and
    price exact, the fee in quote currency to 4 decimals (``9.9899``, not ``9.98992916434800``)."""
    with open_journal() as journal:
        fills = journal.fills(run_id)
    return pl.DataFrame(
        [
            {
                "ts": f.ts,
                "client_order_id": f.client_order_id,
                "symbol": f.symbol,
                "side": f.side.value,
                "qty": str(f.qty),
                "price": str(f.price),
                "fee": f"{f.fee:,.4f}",
            }
            for f in fills
        ],
        schema=_schema("ts", "client_order_id", "symbol", "side", "qty", "price", "fee"),
    )


def run_decisions(run_id: str) -> pl.DataFrame:
    """Policy decisions of one run: verdict, and the rule ids and messages of its violations."""
    with open_journal() as journal:
        decisions = journal.decisions(run_id)
    rows = []
    for d in decisions:
        violations = d.explanation.get("violations", [])
        rows.append(
            {
                "ts": d.ts,
                "verdict": d.verdict.value,
                "rule_id": ", ".join(str(v.get("rule_id", "")) for v in violations),
                "message": " | ".join(str(v.get("message", "")) for v in violations),
            }
        )
    return pl.DataFrame(rows, schema=_schema("ts", "verdict", "rule_id", "message"))


def _schema(*names: str) -> dict[str, pl.DataType]:
    """String columns, except ``ts`` as a UTC timestamp."""
    return {n: pl.Datetime("us", "UTC") if n == "ts" else pl.String() for n in names}
