"""The PostgreSQL journal against a real server: the SQLite journal's behaviour, row for row, plus
what sharing one journal between runners needs (append-only from any connection, one hash chain
under concurrent writers, a run lease that a crashed holder gives up at once)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from drydock.errors import ConfigError
from drydock.ohlcv import SeriesKey
from drydock.types import Action, Fill, Order, PolicyDecision, Position, Side, Verdict
from live.journal import JournalRepository, RunRecord, SqliteJournal, open_journal
from live.journal.postgres import PostgresJournal, masked_url, normalize_url
from live.lease import LeaseHeld
from live.lease_row import LeaseLost
from live.session import ReplayResult

pytestmark = pytest.mark.integration

TS = datetime(2024, 1, 1, 12, tzinfo=UTC)
RUN = RunRecord("run-1", "ema_cross", {"fast": 12.0}, "paper-replay", "binance", "BTC/USDT", "1h",
                "v1", "h" * 64)  # fmt: skip


def raw(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A plain psycopg connection to the test database (an operator's or attacker's psql)."""
    u = make_url(url)
    return psycopg.connect(host=u.query["host"], port=int(u.query["port"]), user=u.username,
                           dbname=u.database, autocommit=True)  # fmt: skip


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresJournal]:
    with PostgresJournal(postgres_url) as journal:
        journal.start_run(RUN)
        yield journal


def order(coid: str = "dd1", qty: str = "0.5", side: Side = Side.BUY) -> Order:
    return Order(coid, "ema_cross", "binance", "BTC/USDT", side, Decimal(qty),
                 Decimal("42000.5"), TS)  # fmt: skip


def fill(coid: str = "dd1", qty: str = "0.5") -> Fill:
    return Fill(coid, "binance", "BTC/USDT", Side.BUY, Decimal(qty), Decimal("42021.5"),
                Decimal("21.01"), TS)  # fmt: skip


def exercise(j: JournalRepository) -> dict[str, object]:
    """The same writes (with duplicates) on any backend; returns everything read back."""
    j.start_run(RUN)
    action = Action("order", "binance", "BTC/USDT", Side.BUY, quantity=1.0, price=100.0,
                    strategy_id="ema_cross")  # fmt: skip
    d = j.record_decision("run-1", "k1", TS, action, PolicyDecision(Verdict.ALLOW, "p"), "v1")
    again = j.record_decision("run-1", "k1", TS, action, PolicyDecision(Verdict.DENY, "x"), "v1")
    first, created = j.insert_order("run-1", order(), d.id)
    dup, dup_created = j.insert_order("run-1", order(qty="9"), d.id)
    j.record_fill("run-1", fill())
    j.record_fill("run-1", fill())
    j.record_position("run-1", Position("ema_cross", "BTC/USDT", Decimal("0.5"), Decimal(1)), TS)
    j.record_event("kill", "global", {"reason": "drill", "inf": float("inf")}, TS)
    j.record_event("breaker", "run-1", {}, TS + timedelta(minutes=1), key="b1")
    j.record_event("breaker", "run-1", {}, TS + timedelta(minutes=1), key="b1")
    with pytest.raises(RuntimeError), j.transaction():
        j.insert_order("run-1", order("lost"))
        raise RuntimeError("crash mid-transaction")
    return {
        "decision": (again.verdict, again.explanation, d.decision_key),
        "created": (created, dup_created, first == dup, dup.qty),
        "orders": j.orders("run-1"),
        "fills": (j.fills("run-1"), j.fills_for("dd1")),
        "positions": j.positions("run-1"),
        "events": [(e.kind, e.scope, e.detail, e.ts) for e in j.events()],
        "window": [e.kind for e in j.events_of(("breaker", "kill"), None, TS, TS + timedelta(1))],
        "orders_between": j.orders_between("ema_cross", TS - timedelta(1), TS),
        "counts": j.counts("run-1"),
        "runs": [(s.run, s.finished) for s in j.runs()],
        "recent": [r.decision_key for r in j.recent_decisions()],
        "verify": j.verify(),
        "ledger": j.ledger_size(),
    }


def test_postgres_reads_back_exactly_what_sqlite_does(postgres_url: str, tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "j.sqlite") as lite, PostgresJournal(postgres_url) as pg_j:
        expected, got = exercise(lite), exercise(pg_j)
    assert got == expected
    assert got["counts"] == {"decisions": 1, "allowed": 1, "denied": 0, "orders": 1, "fills": 1,
                             "positions": 1}  # fmt: skip
    assert got["ledger"] == 7 and got["verify"] == []  # run, decision, order, fill, pos, 2 events


def test_tables_refuse_update_delete_truncate_and_upserts_from_any_connection(
    pg: PostgresJournal, postgres_url: str
) -> None:
    pg.insert_order("run-1", order())
    pg.record_fill("run-1", fill())
    with raw(postgres_url) as conn:
        for sql in (
            "UPDATE orders SET qty = '50'",
            "DELETE FROM fills",
            "TRUNCATE fills",
            "TRUNCATE runs CASCADE",
            "UPDATE ledger SET chain = 'x'",
            "INSERT INTO orders (client_order_id, run_id, strategy_id, venue, symbol, side, qty, "
            "price, ts, status, created_at) VALUES ('dd1','run-1','s','v','x','buy','50','1','t',"
            "'new','t') ON CONFLICT (client_order_id) DO UPDATE SET qty = excluded.qty",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(sql)
        with pytest.raises(
            psycopg.errors.UniqueViolation
        ):  # a plain duplicate: the stored row wins
            conn.execute(
                "INSERT INTO fills (fill_id, client_order_id, run_id, venue, symbol, side, qty, "
                "price, fee, ts, created_at) SELECT fill_id, client_order_id, run_id, venue, "
                "symbol, side, '99', price, fee, ts, created_at FROM fills"
            )
    assert pg.order("dd1") == order() and pg.fills("run-1") == [fill()]
    assert pg.verify() == []


def test_hash_chain_finds_edits_deletions_and_rows_written_around_the_journal(
    pg: PostgresJournal, postgres_url: str
) -> None:
    for i in range(3):
        pg.insert_order("run-1", order(f"o{i}"))
    pg.record_event("kill", "global", {"reason": "drill"}, TS)
    assert pg.verify() == []
    with raw(postgres_url) as conn:  # a superuser switches the triggers off
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE orders SET qty = '50' WHERE client_order_id = 'o1'")
        conn.execute("DELETE FROM events WHERE kind = 'kill'")
        conn.execute(
            "INSERT INTO orders (client_order_id, run_id, strategy_id, venue, symbol, side, qty, "
            "price, ts, status, created_at) VALUES ('o9','run-1','s','v','x','buy','1','1','t',"
            "'new','t')"
        )
    problems = pg.verify()
    assert any("orders row 2 was modified" in p for p in problems), problems
    assert any("events row 1 was deleted" in p for p in problems), problems
    assert any("orders rows [4] are not in the ledger" in p for p in problems), problems


def test_concurrent_writers_keep_one_unbroken_chain(pg: PostgresJournal, postgres_url: str) -> None:
    """Four runners (own connections, own threads) write at once: every row is chained once."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with PostgresJournal(postgres_url) as j:
                for i in range(60):
                    j.insert_order("run-1", order(f"w{n}-{i}"))
                    j.record_event("tick", f"w{n}", {"i": i}, TS, key=f"w{n}-{i % 50}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    counts = pg.counts("run-1")
    assert counts["orders"] == 240 and len(pg.events(kind="tick")) == 200  # keyed: 50 per writer
    assert pg.ledger_size() == 1 + 240 + 200 and pg.verify() == []


def test_the_lease_names_its_holder_and_a_killed_holder_frees_it_at_once(
    postgres_url: str,
) -> None:
    with PostgresJournal(postgres_url) as a, PostgresJournal(postgres_url) as b:
        a.start_run(RUN)
        with a.hold_run("run-1", timedelta(minutes=5)) as held:
            with (
                pytest.raises(LeaseHeld, match=rf"driven by {held.owner}"),
                b.hold_run("run-1", timedelta(minutes=5)),
            ):
                pass
            held.heartbeat()  # still ours
            with raw(postgres_url) as conn:  # the holder's connection dies (host lost, SIGKILL)
                killed = [
                    pid
                    for (pid,) in conn.execute(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND pid <> pg_backend_pid()"
                    ).fetchall()
                ]
                for pid in killed:  # with wait: the backend is gone, its locks released
                    conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
            with b.hold_run("run-1", timedelta(minutes=5)) as taken:  # no wait for the expiry
                assert taken.owner
                with pytest.raises(LeaseLost, match="lease"):
                    held.heartbeat()
        owners = [e.detail["owner"] for e in a.events(scope="run-1", kind="lease")]
        assert len(owners) == 2


def test_url_errors_name_the_variable_and_never_echo_a_password() -> None:
    with pytest.raises(ConfigError, match="DRYDOCK_JOURNAL_URL names the backend 'sqlite'"):
        normalize_url("sqlite:///x.db")
    with pytest.raises(ConfigError, match="DRYDOCK_JOURNAL_URL is not a database URL") as bad:
        normalize_url("hunter2-secret-password")
    assert "hunter2" not in str(bad.value)
    assert normalize_url("postgres://u:pw@db:5433/j") == "postgresql+psycopg://u:pw@db:5433/j"
    assert masked_url("postgresql://u:s3cretpass@db/j") == "postgresql://u:***@db/j"


def test_open_journal_follows_the_setting(
    postgres_url: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_journal() as j:
        assert isinstance(j, SqliteJournal)
    monkeypatch.setenv("DRYDOCK_JOURNAL_URL", postgres_url)
    with open_journal() as j:
        assert isinstance(j, PostgresJournal) and "drydock@" in j.location
    monkeypatch.setenv("DRYDOCK_JOURNAL_URL", "mysql://u@h/db")
    with pytest.raises(ConfigError, match="DRYDOCK_JOURNAL_URL"):
        open_journal()


_EXAMPLE = itertools.count()
_OPS = st.lists(
    st.tuples(st.sampled_from(["order", "fill", "event", "position"]), st.integers(0, 5)),
    max_size=25,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_OPS)
def test_any_sequence_with_duplicates_reads_back_the_same_on_both_backends(
    ops: list[tuple[str, int]], postgres_cluster: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Property: any interleaving of writes, repeated at will, gives the same journal on SQLite
    and PostgreSQL (idempotent on natural keys, a fill only for a journaled order)."""
    run_id = f"prop-{next(_EXAMPLE)}"
    folder = tmp_path_factory.mktemp("prop")
    record = RunRecord(run_id, "s", {}, "paper", "binance", "BTC/USDT", "1h", "v", "h")
    with SqliteJournal(folder / "j.sqlite") as lite, PostgresJournal(postgres_cluster) as pg_j:
        outcomes = []
        for j in (lite, pg_j):
            j.start_run(record)
            results = []
            for kind, n in ops:
                coid = f"{run_id}-o{n}"
                if kind == "order":
                    results.append(j.insert_order(run_id, order(coid))[1])
                elif kind == "fill":
                    results.append(j.order(coid) is not None and j.record_fill(run_id, fill(coid)))
                elif kind == "event":
                    results.append(j.record_event("e", run_id, {"n": n}, TS, key=f"{run_id}-{n}"))
                else:
                    p = Position("s", "BTC/USDT", Decimal(n), Decimal(1))
                    results.append(j.record_position(run_id, p, TS + timedelta(hours=n)))
            outcomes.append((results, j.orders(run_id), j.fills(run_id), j.positions(run_id),
                             [e.detail for e in j.events(scope=run_id)], j.counts(run_id)))  # fmt: skip
        assert outcomes[0] == outcomes[1]
        assert pg_j.verify() == []


def test_a_kill_on_one_host_stops_the_runners_of_every_host_sharing_the_journal(
    postgres_url: str, lake: SeriesKey, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kill file is local to a host; the journaled kill reaches every runner of the shared
    journal, and only a journaled resume releases it."""
    from live.cli import kill_command, resume_command
    from live.replay import replay

    monkeypatch.setenv("DRYDOCK_JOURNAL_URL", postgres_url)
    host_a = tmp_path / "host-a"
    host_a.mkdir()

    def on_host_a(command: Callable[..., None], reason: str) -> None:
        monkeypatch.setenv("DRYDOCK_HOME", str(host_a))
        try:
            command(reason=reason)
        finally:
            monkeypatch.setenv("DRYDOCK_HOME", str(home))

    def run_on_host_b(run_id: str) -> ReplayResult:
        return replay("ema_cross", {"fast": 12, "slow": 26}, lake.exchange, lake.symbol,
                      lake.timeframe, run_id=run_id)  # fmt: skip

    on_host_a(kill_command, "drill")
    assert (host_a / "live" / "KILL").exists() and not (home / "live" / "KILL").exists()
    killed = run_on_host_b("b-killed")
    assert killed.orders == 0 and killed.denied > 0
    with PostgresJournal(postgres_url) as j:
        rules = {v["rule_id"] for d in j.decisions("b-killed") for v in d.explanation["violations"]}
        assert rules == {"system.kill_file"}
    on_host_a(resume_command, "checked the venue")
    free = run_on_host_b("b-free")
    assert free.orders > 0 and free.denied == 0


def test_database_errors_are_the_drivers_own_and_roll_the_transaction_back(
    pg: PostgresJournal,
) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.record_fill("run-1", fill("unknown"))
    with pytest.raises(psycopg.errors.ForeignKeyViolation), pg.transaction():
        pg.insert_order("run-1", order("kept-out"))
        pg.record_fill("run-1", fill("unknown"))
    pg.insert_order("run-1", order())  # the connection is usable after the rollbacks
    assert [o.client_order_id for o in pg.orders("run-1")] == ["dd1"]
    assert pg.verify() == [] and pg.ledger_size() == 2


def test_event_windows_read_the_same_on_both_backends(postgres_url: str, tmp_path: Path) -> None:
    from tests.live.test_journal import EVENT_WINDOWS, record_event_grid

    with SqliteJournal(tmp_path / "j.sqlite") as lite, PostgresJournal(postgres_url) as pg_j:
        got = []
        for j in (lite, pg_j):
            record_event_grid(j)
            got.append([[(e.id, e.kind, e.scope, e.ts) for e in j.events_of(*window)]
                        for window in EVENT_WINDOWS])  # fmt: skip
    assert got[0] == got[1] and all(got[0][:5])
