"""The SQLite journal: schema, idempotent writes, append-only tables, atomic transactions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from drydock.settings import Settings
from drydock.types import (
    Action,
    Fill,
    Order,
    PolicyDecision,
    Position,
    Severity,
    Side,
    Verdict,
    Violation,
)
from live.journal import (
    TABLES,
    JournalRepository,
    RunRecord,
    SqliteJournal,
    client_order_id,
    open_journal,
)

TS = datetime(2024, 1, 1, 12, tzinfo=UTC)
RUN = RunRecord(
    "run-1",
    "ema_cross",
    {"fast": 12.0},
    "paper-replay",
    "binance",
    "BTC/USDT",
    "1h",
    "v1",
    "h" * 64,
)


@pytest.fixture
def journal(tmp_path: Path) -> SqliteJournal:
    j = SqliteJournal(tmp_path / "journal.sqlite")
    j.start_run(RUN)
    return j


def order(coid: str = "dd1", qty: str = "0.5") -> Order:
    return Order(
        coid, "ema_cross", "binance", "BTC/USDT", Side.BUY, Decimal(qty), Decimal("42000.5"), TS
    )


def fill(coid: str = "dd1") -> Fill:
    return Fill(
        coid,
        "binance",
        "BTC/USDT",
        Side.BUY,
        Decimal("0.5"),
        Decimal("42021.5"),
        Decimal("21.01"),
        TS,
    )


def test_opens_at_settings_path_with_wal(settings: Settings) -> None:
    with open_journal() as j:
        assert j.path == settings.journal_path
        assert j._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {r[0] for r in j._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert set(TABLES) <= names
    assert settings.journal_path.exists()


def test_satisfies_the_repository_protocol(journal: SqliteJournal) -> None:
    repo: JournalRepository = journal
    assert repo.start_run(RUN) == RUN


def test_client_order_id_is_deterministic_and_short() -> None:
    a = client_order_id("run-1", "BTC/USDT", TS, Side.BUY)
    assert a == client_order_id("run-1", "BTC/USDT", TS.astimezone(), "buy")
    assert len(a) <= 36 and a.isalnum()
    others = {
        client_order_id("run-2", "BTC/USDT", TS, Side.BUY),
        client_order_id("run-1", "ETH/USDT", TS, Side.BUY),
        client_order_id("run-1", "BTC/USDT", TS.replace(hour=13), Side.BUY),
        client_order_id("run-1", "BTC/USDT", TS, Side.SELL),
    }
    assert a not in others and len(others) == 4


def test_duplicate_order_insert_is_a_noop_returning_the_first(journal: SqliteJournal) -> None:
    first, created = journal.insert_order("run-1", order())
    assert created and first == order()
    again, created = journal.insert_order("run-1", order(qty="9"))
    assert not created
    assert again.qty == Decimal("0.5")  # the stored row wins
    assert len(journal.orders("run-1")) == 1
    # A raw duplicate insert (any conflict clause) is a no-op: the stored row wins, unchanged.
    for verb in ("INSERT", "INSERT OR REPLACE", "REPLACE"):
        journal._conn.execute(
            f"{verb} INTO orders (client_order_id, run_id, strategy_id, venue, symbol, side, qty, "
            "price, ts, status, created_at) "
            "VALUES ('dd1','run-1','s','v','x','buy','1','1','t','new','t')"
        )
    assert [o.qty for o in journal.orders("run-1")] == [Decimal("0.5")]


def test_fills_are_recorded_once(journal: SqliteJournal) -> None:
    journal.insert_order("run-1", order())
    assert journal.record_fill("run-1", fill())
    assert not journal.record_fill("run-1", fill())
    assert journal.fills_for("dd1") == [fill()]
    assert journal.fills("run-1") == [fill()]


def test_a_fill_needs_a_journaled_order(journal: SqliteJournal) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        journal.record_fill("run-1", fill("unknown"))


def test_decisions_store_hash_verdict_and_explanation(journal: SqliteJournal) -> None:
    action = Action(
        "order", "binance", "BTC/USDT", Side.BUY, quantity=1.0, price=100.0, strategy_id="ema_cross"
    )
    v = Violation("system.kill_file", "system", Severity.CRITICAL, "kill file present", "resume")
    stored = journal.record_decision(
        "run-1", "k1", TS, action, PolicyDecision(Verdict.DENY, "abc", (v,)), "v1"
    )
    assert stored.verdict is Verdict.DENY and not stored.allowed
    assert stored.policy_hash == "abc"
    assert stored.explanation["violations"][0]["rule_id"] == "system.kill_file"
    assert stored.explanation["action"]["notional_usd"] == 100.0
    assert "kill file present" in stored.explanation["summary"]
    again = journal.record_decision(
        "run-1", "k1", TS, action, PolicyDecision(Verdict.ALLOW, "x"), "v1"
    )
    assert again == stored  # first decision wins
    assert journal.decisions("run-1") == [stored]
    assert journal.decision("k1") == stored and journal.decision("nope") is None


def test_tables_are_append_only(journal: SqliteJournal) -> None:
    journal.insert_order("run-1", order())
    for sql in ("UPDATE orders SET qty = '2'", "DELETE FROM orders", "DELETE FROM runs"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            journal._conn.execute(sql)


def test_transaction_is_atomic(journal: SqliteJournal) -> None:
    with pytest.raises(RuntimeError), journal.transaction():
        journal.insert_order("run-1", order("a"))
        journal.insert_order("run-1", order("b"))
        raise RuntimeError("crash mid-transaction")
    assert journal.orders("run-1") == []


def test_positions_and_events(journal: SqliteJournal) -> None:
    pos = Position("ema_cross", "BTC/USDT", Decimal("0.5"), Decimal("42000"))
    assert journal.record_position("run-1", pos, TS)
    assert not journal.record_position("run-1", pos, TS)
    assert journal.positions("run-1") == [(TS, pos)]
    assert journal.record_event("kill", "global", {"reason": "test"}, TS)
    assert journal.record_event("kill", "global", {"reason": "again"}, TS)  # unkeyed: appended
    assert journal.record_event("breaker", "run-1", {}, TS, key="run-1:breaker")
    assert not journal.record_event("breaker", "run-1", {}, TS, key="run-1:breaker")
    assert [e.detail["reason"] for e in journal.events(scope="global")] == ["test", "again"]
    assert [e.kind for e in journal.events(kind="breaker")] == ["breaker"]
    assert len(journal.events()) == 3


def test_state_survives_reopen(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "j.sqlite") as j:
        j.start_run(RUN)
        j.insert_order("run-1", order())
    with SqliteJournal(tmp_path / "j.sqlite") as j:
        assert j.order("dd1") == order()
        assert j.counts("run-1")["orders"] == 1


def test_naive_timestamps_are_refused(journal: SqliteJournal) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        journal.insert_order(
            "run-1",
            Order(
                "x", "s", "v", "BTC/USDT", Side.BUY, Decimal(1), Decimal(1), datetime(2024, 1, 1)
            ),
        )


def test_replace_cannot_rewrite_journal_rows(tmp_path: Path) -> None:
    """Issue 9 probe: INSERT OR REPLACE / REPLACE INTO rewrote an order's quantity, a fill's price
    and flipped a deny to allow. From any connection, a colliding insert is now a no-op."""
    path = tmp_path / "journal.db"
    with SqliteJournal(path) as journal:
        journal.start_run(RunRecord("r", "s", {}, "paper", "binance", "BTC/USDT", "1h", "v", "h"))
        journal.insert_order("r", Order("o1", "s", "binance", "BTC/USDT", Side.BUY,
                                        Decimal("0.5"), Decimal("100"), TS))  # fmt: skip
    raw = sqlite3.connect(path)  # an attacker's connection: no pragmas of ours
    row = raw.execute("SELECT * FROM orders WHERE client_order_id = 'o1'").fetchone()
    forged = list(row)
    forged[7] = "50"  # qty
    holes = ",".join("?" * len(forged))
    raw.execute(f"INSERT OR REPLACE INTO orders VALUES ({holes})", forged)
    raw.execute(f"REPLACE INTO orders VALUES ({holes})", [None, *forged[1:]])
    raw.commit()
    assert raw.execute("SELECT qty FROM orders").fetchall() == [("0.5",)]
    with SqliteJournal(path) as journal:
        order = journal.order("o1")
        assert order is not None and order.qty == Decimal("0.5")
        # Our own idempotent writes keep their meaning.
        _, created = journal.insert_order("r", order)
        assert not created


def test_hash_chain_finds_edits_deletions_and_rows_written_around_the_journal(
    tmp_path: Path,
) -> None:
    """Issue 9: rows are hash-chained; `drydock live verify` (SqliteJournal.verify) names an
    edited, deleted or foreign row even when the attacker drops the append-only triggers."""
    path = tmp_path / "journal.db"
    with SqliteJournal(path) as journal:
        journal.start_run(RunRecord("r", "s", {}, "paper", "binance", "BTC/USDT", "1h", "v", "h"))
        for i in range(3):
            journal.insert_order("r", Order(f"o{i}", "s", "binance", "BTC/USDT", Side.BUY,
                                            Decimal("0.5"), Decimal("100"), TS))  # fmt: skip
        journal.record_event("kill", "global", {"reason": "drill"}, TS)
        assert journal.verify() == []
    raw = sqlite3.connect(path)
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    raw.execute("UPDATE orders SET qty = '50' WHERE client_order_id = 'o1'")
    raw.execute("DELETE FROM events WHERE kind = 'kill'")
    raw.execute(
        "INSERT INTO orders (client_order_id, run_id, strategy_id, venue, symbol, side, qty, "
        "price, ts, status, created_at) VALUES ('o9','r','s','v','x','buy','1','1','t','new','t')"
    )
    raw.commit()
    with SqliteJournal(path) as journal:
        problems = journal.verify()
    assert any("orders row 2 was modified" in p for p in problems), problems
    assert any("events row 1 was deleted" in p for p in problems), problems
    assert any("orders rows [4] are not in the ledger" in p for p in problems), problems


def test_every_ledger_hash_is_the_hash_of_the_row_a_plain_select_reads(tmp_path: Path) -> None:
    """Issue 20: rows are hashed from what INSERT ... RETURNING reports; that must be the stored
    row as any reader sees it (SQLite reports a whole REAL such as 100.0 as the integer 100 from
    RETURNING), or journals written by one version would fail verify() in another."""
    from live.journal.rows import row_hash

    path = tmp_path / "journal.sqlite"
    with SqliteJournal(path) as journal:
        journal.start_run(RUN)
        action = Action("order", "binance", "BTC/USDT", Side.BUY, quantity=1.0, price=100.0,
                        strategy_id="ema_cross")  # fmt: skip
        d = journal.record_decision("run-1", "k1", TS, action, PolicyDecision(Verdict.ALLOW, "p"),
                                    "v1")  # fmt: skip
        journal.insert_order("run-1", order(), d.id)
        journal.record_fill("run-1", fill())
        journal.record_position("run-1", Position("ema_cross", "BTC/USDT", Decimal(1), Decimal(2)),
                                TS)  # fmt: skip
        journal.record_event("kill", "global", {"reason": "drill"}, TS)
        assert journal.verify() == []
    raw = sqlite3.connect(path)
    raw.row_factory = sqlite3.Row
    entries = raw.execute("SELECT tbl, row_id, row_hash FROM ledger ORDER BY seq").fetchall()
    assert [e["tbl"] for e in entries] == ["runs", "decisions", "orders", "fills", "positions",
                                           "events"]  # fmt: skip
    for entry in entries:
        row = raw.execute(f"SELECT * FROM {entry['tbl']} WHERE rowid = ?", (entry["row_id"],))
        assert row_hash(dict(row.fetchone())) == entry["row_hash"], entry["tbl"]
    assert raw.execute("SELECT typeof(notional_usd) FROM decisions").fetchone()[0] == "real"


def test_two_journals_on_one_file_keep_one_unbroken_chain(tmp_path: Path) -> None:
    """Two connections (two processes' journals) writing in turn: each write transaction reads
    the ledger's tip under its own lock, so the chain stays whole."""
    path = tmp_path / "journal.sqlite"
    with SqliteJournal(path) as a, SqliteJournal(path) as b:
        a.start_run(RUN)
        for i in range(5):
            with a.transaction():
                a.insert_order("run-1", order(f"a{i}"))
                a.record_event("tick", "a", {"i": i}, TS)
            b.insert_order("run-1", order(f"b{i}"))
            with b.transaction():
                b.record_event("tick", "b", {"i": i}, TS)
                b.record_event("tick", "b", {"i": i}, TS, key=f"b{i}")
        assert a.verify() == [] and b.verify() == []
        assert a.ledger_size() == 1 + 10 + 15


#: ``events_of`` arguments (kinds, scopes, since, until) over :func:`record_event_grid`'s events.
EVENT_WINDOWS: tuple[tuple[tuple[str, ...], tuple[str, ...] | None, datetime | None,
                           datetime | None], ...] = (
    (("kill",), None, None, None),
    (("kill", "pause"), ("global",), None, None),
    (("breaker", "pause", "kill"), ("run-1", "other"), TS + timedelta(hours=2), None),
    (("pause",), None, None, TS + timedelta(hours=7)),
    (("kill", "breaker"), ("global", "other"), TS, TS + timedelta(hours=9)),
    ((), None, None, None),
    (("kill",), (), None, None),
)  # fmt: skip


def record_event_grid(journal: JournalRepository) -> None:
    """Twelve events, an hour apart, over three kinds and three scopes."""
    kinds, scopes = ("kill", "pause", "breaker"), ("global", "run-1", "other")
    for i in range(12):
        journal.record_event(kinds[i % 3], scopes[i % 4 % 3], {"i": i}, TS + timedelta(hours=i))


def test_events_of_filters_kinds_scopes_and_the_window(journal: SqliteJournal) -> None:
    record_event_grid(journal)
    everything = journal.events()
    for want_kinds, want_scopes, since, until in EVENT_WINDOWS:
        got = journal.events_of(want_kinds, want_scopes, since, until)
        expected = [
            e for e in everything
            if e.kind in want_kinds and (want_scopes is None or e.scope in want_scopes)
            and (since is None or e.ts > since) and (until is None or e.ts <= until)
        ]  # fmt: skip
        assert got == sorted(expected, key=lambda e: (e.ts, e.id))
    assert journal.orders_between("ema_cross", TS - timedelta(1), TS) == 0


def test_database_errors_are_the_drivers_own_inside_a_transaction_too(
    journal: SqliteJournal,
) -> None:
    with pytest.raises(sqlite3.IntegrityError), journal.transaction():
        journal.insert_order("run-1", order("kept-out"))
        journal.record_fill("run-1", fill("unknown"))
    assert journal.orders("run-1") == [] and journal.verify() == []
    journal.insert_order("run-1", order())  # the journal is usable after the rollback
    assert journal.verify() == [] and journal.ledger_size() == 2
