"""The cross-host run lease row: compare-and-set acquisition, heartbeats, expiry and takeover,
the stalled holder stopping at its next heartbeat, and the runner holding it while it runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from live.lease import LeaseHeld
from live.lease_row import LeaseLost, RowLease

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_one_owner_at_a_time_with_heartbeats_expiry_and_takeover(tmp_path: Path) -> None:
    clock = Clock()
    db = tmp_path / "journal.sqlite"
    a = RowLease(db, "run-1", "host-a pid 1", timedelta(seconds=60), clock)
    b = RowLease(db, "run-1", "host-b pid 2", timedelta(seconds=60), clock)
    a.acquire()
    a.acquire()  # re-entrant for the same owner
    with pytest.raises(LeaseHeld, match="leased by host-a pid 1 until 2026-01-01 00:01:00"):
        b.acquire()
    clock.now = T0 + timedelta(seconds=50)
    a.heartbeat()  # now valid until 00:01:50
    clock.now = T0 + timedelta(seconds=100)
    with pytest.raises(LeaseHeld):
        b.acquire()
    clock.now = T0 + timedelta(seconds=111)  # a stalled past its expiry
    b.acquire()
    with pytest.raises(LeaseLost, match="lost its lease to host-b pid 2"):
        a.heartbeat()
    a.release()  # not a's any more: nothing happens
    with pytest.raises(LeaseHeld):
        a.acquire()
    b.release()
    a.acquire()  # released: free at once, no expiry to wait for
    other = RowLease(db, "run-2", "host-b pid 2", timedelta(seconds=60), clock)
    other.acquire()  # leases are per run


def test_the_runner_is_refused_while_another_host_holds_the_run(btc_lake, settings) -> None:  # type: ignore[no-untyped-def]
    from drydock.execution import ExecutionModel
    from live.runner import Mode, SimulatedClock, run_strategy
    from strategies import get_strategy

    end = datetime(2024, 4, 1, tzinfo=UTC)
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params({"fast": 12, "slow": 26})
    args = (strategy, params, btc_lake, datetime(2024, 1, 1, tzinfo=UTC), settings.policy_dir / "research.toml",
            ExecutionModel(), Mode.PAPER)  # fmt: skip
    settings.journal_path.parent.mkdir(parents=True, exist_ok=True)
    remote = RowLease(settings.journal_path, "shared-run", "host-z pid 9", timedelta(hours=1))
    remote.acquire()
    with pytest.raises(LeaseHeld, match="leased by host-z pid 9"):
        run_strategy(*args, clock=SimulatedClock(end), until=end, run_id="shared-run")
    remote.release()
    done = run_strategy(*args, clock=SimulatedClock(end), max_bars=100, run_id="shared-run")
    assert done.state == "stopped" and done.result.bars == 100
    remote.acquire()  # the runner released its row when it stopped


def test_a_crashed_holder_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    db = tmp_path / "journal.sqlite"
    crashed = RowLease(db, "run-1", "pid 1 on box", timedelta(hours=1), host="box")
    crashed.acquire()  # then the process dies without releasing
    restarted = RowLease(db, "run-1", "pid 2 on box", timedelta(hours=1), host="box")
    with pytest.raises(LeaseHeld):
        restarted.acquire()  # without the OS lock's proof it must wait
    restarted.acquire(dead_on_this_host=True)  # holding this host's file lock: the row is stale
    remote = RowLease(db, "run-1", "pid 3 on far", timedelta(hours=1), host="far")
    with pytest.raises(LeaseHeld, match="pid 2 on box"):
        remote.acquire(dead_on_this_host=True)  # another host's row is never presumed dead
