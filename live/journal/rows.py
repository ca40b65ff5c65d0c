"""Stored rows to journal records and back, and the hash chain (same schema, same text on every
database)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from drydock.types import Action, Fill, Order, OrderStatus, PolicyDecision, Position, Side, Verdict
from live.journal.base import (
    DecisionRecord,
    EventRecord,
    RunRecord,
    RunSummary,
    fill_key,
    utc_iso,
)


class Row(Protocol):
    """A stored row read by column name (``sqlite3.Row``, SQLAlchemy's ``RowMapping``)."""

    def __getitem__(self, key: str, /) -> Any: ...


TABLES = ("runs", "decisions", "orders", "fills", "positions", "events")
#: The hash chain starts from this value.
GENESIS = "0" * 64


def dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def run_record(row: Row) -> RunRecord:
    return RunRecord(
        row["run_id"], row["strategy_id"], json.loads(row["params_json"]), row["mode"],
        row["venue"], row["symbol"], row["timeframe"], row["policy_version"],
        row["policy_hash"], dt(row["start_ts"]), dt(row["end_ts"]),
    )  # fmt: skip


def order_record(row: Row) -> Order:
    return Order(
        row["client_order_id"], row["strategy_id"], row["venue"], row["symbol"],
        Side(row["side"]), Decimal(row["qty"]), Decimal(row["price"]),
        datetime.fromisoformat(row["ts"]), OrderStatus(row["status"]),
    )  # fmt: skip


def fill_record(row: Row) -> Fill:
    return Fill(
        row["client_order_id"], row["venue"], row["symbol"], Side(row["side"]),
        Decimal(row["qty"]), Decimal(row["price"]), Decimal(row["fee"]),
        datetime.fromisoformat(row["ts"]),
    )  # fmt: skip


def decision_record(row: Row) -> DecisionRecord:
    return DecisionRecord(
        row["id"], row["decision_key"], row["run_id"], datetime.fromisoformat(row["ts"]),
        Verdict(row["verdict"]), row["policy_hash"], json.loads(row["explanation_json"]),
    )  # fmt: skip


def event_record(row: Row) -> EventRecord:
    return EventRecord(
        row["id"], row["kind"], row["scope"], json.loads(row["detail_json"]),
        datetime.fromisoformat(row["ts"]),
    )  # fmt: skip


def position_record(row: Row) -> tuple[datetime, Position]:
    position = Position(
        row["strategy_id"], row["symbol"], Decimal(row["qty"]), Decimal(row["avg_price"])
    )
    return datetime.fromisoformat(row["ts"]), position


def explanation_json(action: Action, decision: PolicyDecision) -> str:
    """A decision's stored explanation: the summary, each violation and the action judged."""
    explanation = {
        "summary": decision.explain(),
        "violations": [asdict(v) for v in decision.violations],
        "action": asdict(action),
    }
    return json.dumps(explanation, sort_keys=True, default=str)


def row_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of a stored row's columns and values (sorted keys, JSON)."""
    blob = json.dumps(dict(row), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def chain_hash(prev: str, table: str, row_id: int, hashed: str) -> str:
    """The ledger entry after ``prev`` for row ``row_id`` of ``table`` whose hash is ``hashed``."""
    return hashlib.sha256(f"{prev}|{table}|{row_id}|{hashed}".encode()).hexdigest()


def ledger_problems(entries: Sequence[Row], current: Mapping[str, Mapping[int, str]]) -> list[str]:
    """Every break in the hash chain ``entries`` (seq, tbl, row_id, row_hash, chain) given the
    ``current`` hash of each stored row by table and id; rows from a table's first ledgered id on
    that the ledger does not hold were written around the journal (older rows predate it)."""
    problems: list[str] = []
    prev = GENESIS
    seen: dict[str, set[int]] = {t: set() for t in TABLES}
    for entry in entries:
        table, rowid = str(entry["tbl"]), int(entry["row_id"])
        seen.setdefault(table, set()).add(rowid)
        if entry["chain"] != chain_hash(prev, table, rowid, str(entry["row_hash"])):
            problems.append(f"ledger entry {entry['seq']} does not chain to the one before it")
        stored = current.get(table, {}).get(rowid)
        if stored is None:
            problems.append(f"{table} row {rowid} was deleted")
        elif stored != entry["row_hash"]:
            problems.append(f"{table} row {rowid} was modified after it was written")
        prev = str(entry["chain"])
    for table in TABLES:
        if not seen[table]:
            continue
        start = min(seen[table])
        foreign = sorted(i for i in current.get(table, {}) if i >= start and i not in seen[table])
        if foreign:
            problems.append(
                f"{table} rows {foreign[:5]} are not in the ledger (written around the journal)"
            )
    return problems


# ---- values written, by table (both databases store exactly these) ------------------------------


def run_values(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "strategy_id": run.strategy_id,
        "params_json": json.dumps(dict(run.params), sort_keys=True), "mode": run.mode,
        "venue": run.venue, "symbol": run.symbol, "timeframe": run.timeframe,
        "start_ts": None if run.start is None else utc_iso(run.start),
        "end_ts": None if run.end is None else utc_iso(run.end),
        "policy_version": run.policy_version, "policy_hash": run.policy_hash,
        "created_at": now_iso(),
    }  # fmt: skip


def decision_values(
    run_id: str, key: str, ts: datetime, action: Action, decision: PolicyDecision,
    policy_version: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "decision_key": key, "run_id": run_id, "ts": utc_iso(ts),
        "strategy_id": action.strategy_id, "action_kind": action.kind, "venue": action.venue,
        "symbol": action.symbol, "side": None if action.side is None else action.side.value,
        "notional_usd": action.notional_usd, "reduces_position": int(action.reduces_position),
        "verdict": decision.verdict.value, "policy_version": policy_version,
        "policy_hash": decision.policy_hash,
        "explanation_json": explanation_json(action, decision), "created_at": now_iso(),
    }  # fmt: skip


def order_values(run_id: str, order: Order, decision_id: int | None) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id, "run_id": run_id, "decision_id": decision_id,
        "strategy_id": order.strategy_id, "venue": order.venue, "symbol": order.symbol,
        "side": order.side.value, "qty": str(order.qty), "price": str(order.price),
        "ts": utc_iso(order.ts), "status": order.status.value, "created_at": now_iso(),
    }  # fmt: skip


def fill_values(run_id: str, fill: Fill, fill_id: str | None) -> dict[str, Any]:
    return {
        "fill_id": fill_id or fill_key(fill), "client_order_id": fill.client_order_id,
        "run_id": run_id, "venue": fill.venue, "symbol": fill.symbol, "side": fill.side.value,
        "qty": str(fill.qty), "price": str(fill.price), "fee": str(fill.fee),
        "ts": utc_iso(fill.ts), "created_at": now_iso(),
    }  # fmt: skip


def position_values(run_id: str, position: Position, ts: datetime) -> dict[str, Any]:
    return {
        "run_id": run_id, "strategy_id": position.strategy_id, "symbol": position.symbol,
        "qty": str(position.qty), "avg_price": str(position.avg_price), "ts": utc_iso(ts),
        "created_at": now_iso(),
    }  # fmt: skip


def event_values(
    kind: str, scope: str, detail: Mapping[str, Any], ts: datetime, key: str | None
) -> dict[str, Any]:
    return {
        "event_key": key, "kind": kind, "scope": scope,
        "detail_json": json.dumps(dict(detail), sort_keys=True, default=str),
        "ts": utc_iso(ts), "created_at": now_iso(),
    }  # fmt: skip


def summaries(rows: Sequence[Row], unfinished_only: bool) -> list[RunSummary]:
    """Runs listed with their ``finished`` flag (rows carry it as a column), newest first."""
    out = [
        RunSummary(run_record(r), bool(r["finished"]), datetime.fromisoformat(r["created_at"]))
        for r in rows
    ]
    return [s for s in out if not s.finished] if unfinished_only else out
