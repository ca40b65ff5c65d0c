"""Paper replay over real sample bars: journal rows, idempotent reruns, crashes, kill switch."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tenacity import wait_none

from drydock.errors import ConfigError, DataNotFoundError, DrydockError
from drydock.execution import ExecutionModel
from drydock.ohlcv import SeriesKey, read
from drydock.settings import Settings
from drydock.types import Fill, Instrument, Order, Side
from live.journal import SqliteJournal, client_order_id
from live.order_manager import RETRY_ATTEMPTS
from live.replay import replay
from live.session import ReplayResult
from live.venues.base import TransientVenueError, VenueError
from live.venues.paper import PaperVenue

PARAMS = {"fast": "5", "slow": "20"}


def run(key: SeriesKey, **kw: object) -> ReplayResult:
    return replay("ema_cross", PARAMS, key.exchange, key.symbol, key.timeframe, **kw)  # type: ignore[arg-type]


def policy_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text('version = "t"\n' + body, encoding="utf-8")
    return path


class CrashingVenue(PaperVenue):
    """Raises ``error`` on the ``nth`` submit, after the runner journaled the order.

    It stands for a venue that remembers orders across the client's crash (an exchange), so the
    journal commits durably before each submit; the paper venue's batched path (a crash forgets
    the batch and the book alike) is tested in tests/live/test_account_state.py."""

    forgets_on_crash = False

    def __init__(self, nth: int, error: Exception):
        super().__init__("binance")
        self.nth, self.error, self.calls = nth, error, 0

    def submit(self, order: Order) -> list[Fill]:
        self.calls += 1
        if self.calls == self.nth:
            raise self.error
        return super().submit(order)


def test_replay_journals_one_decision_order_fill_and_position_per_intent(
    lake: SeriesKey, settings: Settings
) -> None:
    result = run(lake)
    bars = read(lake)
    assert result.bars == bars.height
    assert len(result.equity) == len(result.timestamps) == bars.height + 1
    assert result.equity[0] == 10_000.0
    assert result.timestamps[1] == bars["ts"][0] + timedelta(hours=1)  # marked at bar close
    assert result.intents > 4
    assert result.intents == result.allowed + result.denied + result.pending + result.skipped
    assert result.denied == result.skipped == result.failures == 0
    assert result.orders == result.fills == result.new_orders == result.allowed
    with SqliteJournal(settings.journal_path) as j:
        counts = j.counts(result.run_id)
        assert counts == {
            "decisions": result.allowed, "allowed": result.allowed, "denied": 0,
            "orders": result.orders, "fills": result.fills, "positions": result.fills,
        }  # fmt: skip
        decisions = j.decisions(result.run_id)
        assert {d.policy_hash for d in decisions} == {result.policy_hash}
        orders, fills = j.orders(result.run_id), j.fills(result.run_id)
        sides = [o.side for o in orders]
        assert sides == [Side.BUY, Side.SELL] * (len(sides) // 2) + [Side.BUY] * (len(sides) % 2)
        opens = dict(zip(bars["ts"], bars["open"], strict=True))
        for o, f in zip(orders, fills, strict=True):
            assert f.client_order_id == o.client_order_id and f.qty == o.qty
            assert client_order_id(
                result.run_id, "BTC/USDT", f.ts - timedelta(hours=1), o.side
            ) == (o.client_order_id)  # keyed by the signal bar, filled at the next bar's open
            slip = Decimal("1.0005") if o.side is Side.BUY else Decimal("0.9995")
            assert f.price == Decimal(str(opens[f.ts])) * slip
            assert f.fee == f.qty * f.price * Decimal("0.001")
        [finished] = j.events(scope=result.run_id, kind="run_finished")
        assert finished.detail["final_equity"] == result.final_equity
    assert len(result.trade_pnl) == sum(1 for s in sides if s is Side.SELL)
    assert result.metrics["trade_count"] == len(result.trade_pnl)
    assert result.metrics["total_return"] == pytest.approx(result.final_equity / 10_000 - 1)


def test_final_equity_reconciles_with_fills(lake: SeriesKey, settings: Settings) -> None:
    result = run(lake)
    with SqliteJournal(settings.journal_path) as j:
        fills = j.fills(result.run_id)
    cash = Decimal(10_000)
    for f in fills:
        cash += (-1 if f.side is Side.BUY else 1) * f.qty * f.price - f.fee
    close = read(lake)["close"][-1]
    assert result.final_equity == pytest.approx(
        float(cash + result.final_position.qty * Decimal(str(close)))
    )


def test_rerun_with_the_same_run_id_sends_nothing_twice(
    lake: SeriesKey, settings: Settings
) -> None:
    first = run(lake)
    venue = CrashingVenue(nth=1, error=AssertionError("a rerun must not submit"))
    again = run(lake, venue=venue)
    assert again.run_id == first.run_id
    assert again.new_orders == 0 and venue.calls == 0
    assert again.equity == first.equity and again.trade_pnl == first.trade_pnl
    with SqliteJournal(settings.journal_path) as j:
        assert j.counts(first.run_id)["orders"] == first.orders


def test_crash_between_order_and_fill_recovers_without_duplicates(
    lake: SeriesKey, settings: Settings
) -> None:
    clean = run(lake, run_id="clean")
    with pytest.raises(RuntimeError, match="power cut"):
        run(lake, run_id="crashy", venue=CrashingVenue(nth=3, error=RuntimeError("power cut")))
    with SqliteJournal(settings.journal_path) as j:
        before = j.counts("crashy")
        assert before["orders"] == 3 and before["fills"] == 2  # third order journaled, unfilled
    resumed = run(lake, run_id="crashy")
    assert resumed.new_orders == clean.orders - 3
    with SqliteJournal(settings.journal_path) as j:
        orders, fills = j.orders("crashy"), j.fills("crashy")
        assert len(orders) == len({o.client_order_id for o in orders}) == clean.orders
        assert Counter(f.client_order_id for f in fills) == Counter(
            o.client_order_id for o in orders
        )
    assert resumed.equity == pytest.approx(clean.equity)
    assert resumed.trade_pnl == pytest.approx(clean.trade_pnl)
    third = run(lake, run_id="crashy")
    assert third.new_orders == 0
    with SqliteJournal(settings.journal_path) as j:
        assert j.counts("crashy") == j.counts("clean")


def test_venue_rejection_is_journaled_and_final(lake: SeriesKey, settings: Settings) -> None:
    failing = run(lake, run_id="flaky", venue=CrashingVenue(nth=1, error=VenueError("rejected")))
    assert failing.failures == 1 and failing.fills == failing.orders - 1
    with SqliteJournal(settings.journal_path) as j:
        [event] = j.events(scope="flaky", kind="order_failed")
        assert event.detail["error"] == "rejected"
    venue = CrashingVenue(nth=1, error=AssertionError("a rejected order must not be resent"))
    again = run(lake, run_id="flaky", venue=venue)
    assert venue.calls == 0 and again.new_orders == 0
    assert again.failures == 1 and again.equity == failing.equity


def test_transient_errors_are_retried(lake: SeriesKey, settings: Settings) -> None:
    clean = run(lake, run_id="clean")
    venue = CrashingVenue(nth=2, error=TransientVenueError("timeout"))
    result = run(lake, run_id="retried", venue=venue, retry_wait=wait_none())
    assert result.failures == 0 and result.equity == clean.equity
    assert venue.calls == clean.orders + 1


class AlwaysTimingOut(PaperVenue):
    def __init__(self) -> None:
        super().__init__("binance")
        self.calls = 0

    def submit(self, order: Order) -> list[Fill]:
        self.calls += 1
        raise TransientVenueError("timeout")


def test_retries_are_bounded_then_journaled_as_a_failure(
    lake: SeriesKey, settings: Settings
) -> None:
    venue = AlwaysTimingOut()
    result = run(lake, run_id="down", venue=venue, retry_wait=wait_none())
    assert result.fills == 0 and result.failures == result.orders > 0
    assert venue.calls == RETRY_ATTEMPTS * result.orders
    with SqliteJournal(settings.journal_path) as j:
        assert {e.detail["error"] for e in j.events(scope="down", kind="order_failed")} == {
            "timeout"
        }


def test_kill_file_denies_every_entry_and_journals_it(lake: SeriesKey, settings: Settings) -> None:
    settings.kill_file.parent.mkdir(parents=True, exist_ok=True)
    settings.kill_file.touch()
    result = run(lake)
    assert result.orders == result.fills == result.allowed == 0
    assert result.denied > 0
    assert result.equity == [10_000.0] * len(result.equity)
    with SqliteJournal(settings.journal_path) as j:
        decisions = j.decisions(result.run_id)
    assert len(decisions) == result.denied
    for d in decisions:
        assert [v["rule_id"] for v in d.explanation["violations"]] == ["system.kill_file"]
        assert d.explanation["action"]["side"] == "buy"


class KillAfterFirstFill(PaperVenue):
    """Engages the kill file right after the first fill, mid-run."""

    def __init__(self, kill_file: Path):
        super().__init__("binance")
        self.kill_file = kill_file

    def submit(self, order: Order) -> list[Fill]:
        fills = super().submit(order)
        self.kill_file.parent.mkdir(parents=True, exist_ok=True)
        self.kill_file.touch()
        return fills


def test_kill_switch_mid_run_still_lets_the_position_close(
    lake: SeriesKey, settings: Settings
) -> None:
    result = run(lake, venue=KillAfterFirstFill(settings.kill_file))
    assert result.orders == result.fills == 2  # the entry before the kill, then its exit
    assert result.final_position.qty == 0 and len(result.trade_pnl) == 1
    assert result.denied == result.intents - 2 - result.pending - result.skipped > 0


def test_policy_kill_switch_denies_entries(lake: SeriesKey, tmp_path: Path) -> None:
    result = run(lake, policy_path=policy_file(tmp_path, "[system]\nkill_switch = true\n"))
    assert result.denied > 0 and result.orders == 0


def test_breaker_trips_once_blocks_entries_and_lets_exits_out(
    lake: SeriesKey, settings: Settings, tmp_path: Path
) -> None:
    baseline = run(lake, run_id="free")
    first_loss = next(i for i, pnl in enumerate(baseline.trade_pnl) if pnl < 0)
    policy = policy_file(tmp_path, "[circuit_breakers]\nmax_consecutive_losses = 1\n")
    result = run(lake, run_id="guarded", policy_path=policy)
    assert result.trade_pnl == pytest.approx(baseline.trade_pnl[: first_loss + 1])
    assert result.denied > 0 and result.final_position.qty == 0
    with SqliteJournal(settings.journal_path) as j:
        # the policy state's vocabulary, in the replay's own account (live.policy_state)
        [event] = j.events(scope="run:guarded", kind="breaker_trip")
        assert event.detail["rules"] == ["circuit_breakers.max_consecutive_losses"]
        assert not j.events(kind="breaker")  # the old run-scoped kind is gone
        denied = [d for d in j.decisions("guarded") if not d.allowed]
    later = [v["rule_id"] for d in denied[1:] for v in d.explanation["violations"]]
    assert "circuit_breakers.tripped" in later


def test_risk_limits_apply_in_replay(lake: SeriesKey, tmp_path: Path) -> None:
    policy = policy_file(tmp_path, "[risk]\nmax_order_notional_usd = 1000\n")
    assert run(lake, policy_path=policy).orders == 0
    assert run(lake, policy_path=policy, cash=900).orders > 0


def test_same_run_id_with_another_policy_is_refused(lake: SeriesKey, tmp_path: Path) -> None:
    run(lake, run_id="r1")
    with pytest.raises(DrydockError, match="Run r1 was started with"):
        run(lake, run_id="r1", policy_path=policy_file(tmp_path, ""))


def test_lot_size_and_instrument_come_from_the_venue(lake: SeriesKey, settings: Settings) -> None:
    coarse = Instrument("binance", "BTC/USDT", "BTC", "USDT", lot_size=Decimal("0.01"))
    result = run(lake, venue=PaperVenue("binance", instruments={"BTC/USDT": coarse}), run_id="lots")
    with SqliteJournal(settings.journal_path) as j:
        assert all(o.qty % Decimal("0.01") == 0 for o in j.orders("lots"))
    assert result.orders > 0


def test_user_errors(lake: SeriesKey, tmp_path: Path) -> None:
    with pytest.raises(DrydockError, match="Unknown strategy 'nope'"):
        replay("nope", {}, "binance", "BTC/USDT", "1h")
    with pytest.raises(ConfigError, match="Unknown parameter 'fats'"):
        replay("ema_cross", {"fats": "3"}, "binance", "BTC/USDT", "1h")
    with pytest.raises(ConfigError, match="fast < slow"):
        replay("ema_cross", {"fast": "30", "slow": "20"}, "binance", "BTC/USDT", "1h")
    with pytest.raises(DataNotFoundError, match="ETH/USDT"):
        replay("ema_cross", {}, "binance", "ETH/USDT", "1h")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(DataNotFoundError, match="at least"):
        replay("ema_cross", {}, "binance", "BTC/USDT", "1h", start, start + timedelta(hours=1))
    with pytest.raises(ConfigError, match="does not exist"):
        replay("ema_cross", {}, "binance", "BTC/USDT", "1h", policy_path=tmp_path / "none.toml")
    with pytest.raises(ConfigError, match=r"init_cash=0 is out of range.*\(0, 1e\+12\)"):
        replay("ema_cross", {}, "binance", "BTC/USDT", "1h", cash=0)
    with pytest.raises(ConfigError, match="not available in a paper replay"):
        replay("ema_cross", {}, "binance", "BTC/USDT", "1h", execution=ExecutionModel(fill="close"))  # type: ignore[arg-type]


def test_start_and_end_bound_the_bars(lake: SeriesKey) -> None:
    start = datetime(2024, 1, 2, tzinfo=UTC)
    result = run(lake, start=start, end=start + timedelta(days=2))
    assert result.bars == 48
    assert result.timestamps[0] == start


def test_stateful_rules_apply_in_replay_and_survive_a_resume(
    lake: SeriesKey, settings: Settings, tmp_path: Path
) -> None:
    """A 24h turnover cap, a cooldown and approvals bind the replay as they bind live trading;
    a rerun of the run id rebuilds the same counters and decides nothing anew."""
    free = run(lake, run_id="free")
    caps = (
        '[[transaction.rolling_caps]]\nid = "turnover"\nscope = "strategy"\n'
        "max = 15000\nwindow_hours = 24\n"
    )
    capped = run(lake, run_id="capped", policy_path=policy_file(tmp_path, caps))
    assert capped.denied > 0 and capped.orders < free.orders
    with SqliteJournal(settings.journal_path) as j:
        first = [v["rule_id"] for d in j.decisions("capped") if not d.allowed
                 for v in d.explanation["violations"]]  # fmt: skip
        rows = j.counts("capped")
    assert set(first) == {"transaction.rolling_cap"}
    again = run(lake, run_id="capped", policy_path=policy_file(tmp_path, caps))
    assert (again.orders, again.denied, again.new_orders) == (capped.orders, capped.denied, 0)
    with SqliteJournal(settings.journal_path) as j:
        assert j.counts("capped") == rows
    held = run(lake, run_id="held", policy_path=policy_file(
        tmp_path, "[approvals]\nabove_notional_usd = 5000\n"))  # fmt: skip
    assert held.held > 0 and held.orders == 0  # every all-in entry waits for an operator
    cooled = run(lake, run_id="cool", policy_path=policy_file(
        tmp_path, "[risk]\ncooldown_minutes = 600\n"))  # fmt: skip
    assert 0 < cooled.orders < free.orders


@pytest.mark.parametrize(
    ("change", "field"),
    [({"cash": 100.0}, "cash"), ({"fee": 0.002}, "fee"), ({"slippage_bps": 1.0}, "slippage_bps")],
)
def test_resuming_a_run_id_with_other_inputs_is_refused(
    lake: SeriesKey, settings: Settings, change: dict[str, float], field: str
) -> None:
    """Issue 9 probe: a rerun with --cash 100 reused orders sized for 10k. The run's inputs are
    journaled on its first start and a resume with others is refused, naming the fields."""
    first = run(lake, run_id="pinned")
    with pytest.raises(DrydockError, match=re.escape(f"other inputs ({field}: ")):
        run(lake, run_id="pinned", **change)
    with SqliteJournal(settings.journal_path) as j:
        assert j.counts("pinned")["orders"] == first.orders  # nothing was added
    again = run(lake, run_id="pinned")  # the same inputs still resume
    assert again.new_orders == 0


def test_resuming_with_other_params_or_symbol_is_refused(lake: SeriesKey) -> None:
    run(lake, run_id="p2")
    with pytest.raises(DrydockError, match="params"):
        replay("ema_cross", {"fast": "6", "slow": "20"}, "binance", "BTC/USDT", "1h", run_id="p2")


def test_a_stored_allow_does_not_outlive_the_kill_switch(
    lake: SeriesKey, settings: Settings
) -> None:
    """Issue 9 probe: crash between decision and submit, `drydock live kill`, resume: the pre-kill
    ALLOW was reused and the BUY sent. Now it is decided again and denied, and nothing is sent."""

    class CrashThenCount(PaperVenue):
        forgets_on_crash = False  # an exchange-like venue: the journal commits before submits

        def __init__(self) -> None:
            super().__init__("binance")
            self.submits = 0

        def submit(self, order: Order) -> list[Fill]:
            self.submits += 1
            if self.submits == 3:  # the second entry: journaled with its ALLOW, never sent
                raise RuntimeError("power cut")
            return super().submit(order)

    with pytest.raises(RuntimeError, match="power cut"):
        run(lake, run_id="killed", venue=CrashThenCount())
    with SqliteJournal(settings.journal_path) as j:
        [stranded] = [o for o in j.orders("killed") if not j.fills_for(o.client_order_id)]
        assert stranded.side is Side.BUY and j.decision(stranded.client_order_id).allowed
    settings.kill_file.parent.mkdir(parents=True, exist_ok=True)
    settings.kill_file.touch()  # the operator kills trading while the process is down
    venue = CrashThenCount()
    venue.submits = 3  # no more crashes
    resumed = run(lake, run_id="killed", venue=venue)
    assert venue.submits == 3  # nothing was sent after the kill
    with SqliteJournal(settings.journal_path) as j:
        recheck = j.decision(f"{stranded.client_order_id}:recheck")
        assert not j.fills_for(stranded.client_order_id)
    assert recheck is not None and not recheck.allowed
    assert [v["rule_id"] for v in recheck.explanation["violations"]] == ["system.kill_file"]
    assert resumed.final_position.qty == 0


def test_a_tampered_journal_is_refused_on_start(lake: SeriesKey, settings: Settings) -> None:
    """Issue 9 probe: a rewritten fill price was trusted by a rerun. The chain is verified first."""
    import sqlite3

    run(lake, run_id="t")
    raw = sqlite3.connect(settings.journal_path)
    raw.execute("DROP TRIGGER fills_no_update")
    raw.execute("UPDATE fills SET price = '1' WHERE id = 1")
    raw.commit()
    with pytest.raises(DrydockError, match=r"fails its hash-chain check.*fills row 1 was modified"):
        run(lake, run_id="t")


def test_a_second_process_on_the_same_run_id_is_refused(
    lake: SeriesKey, settings: Settings, tmp_path: Path
) -> None:
    """Issue 9 probe: two processes on one run id sent every order twice. A run holds an
    exclusive lease; the second one exits naming the owner, and nothing is written for it."""
    import subprocess
    import sys
    import time

    from live.lease import LeaseHeld

    ready = tmp_path / "ready"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, pathlib\n"
         "from live.lease import run_lease\n"
         f"with run_lease(pathlib.Path({str(settings.journal_path)!r}), 'shared'):\n"
         f"    pathlib.Path({str(ready)!r}).touch()\n"
         "    time.sleep(30)\n"],
    )  # fmt: skip
    try:
        for _ in range(200):
            if ready.exists():
                break
            time.sleep(0.05)
        with pytest.raises(LeaseHeld, match=f"Run shared is being driven by pid {holder.pid}"):
            run(lake, run_id="shared")
    finally:
        holder.kill()
        holder.wait()
    with SqliteJournal(settings.journal_path) as j:
        assert j.orders("shared") == []
    assert run(lake, run_id="shared").orders > 0  # the lease died with its process
