"""Fault injection with real crashes: the paper runner is SIGKILLed (a subprocess killing itself
at a random checkpoint between decision, journaled order, venue submit and journaled fill) and
restarted each time against a venue whose book survives; no order reaches the venue twice, no
fill is lost, and the run ends with the trades and equity of an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from benchmarks.fault_injection import run_fault_injection, write_sample_lake

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_crashes_at_random_points_never_duplicate_or_lose_an_order(tmp_path: Path) -> None:
    write_sample_lake(tmp_path, date(2024, 1, 9))
    result = run_fault_injection(tmp_path, seed=11, max_kills=12, span=16, end_day=date(2024, 1, 9))
    assert result["kills"] >= 8  # real SIGKILLs, not a clean pass
    assert result["orders"] == result["accepted"] > 15
    assert (result["duplicates"], result["lost_fills"], result["parity"]) == (0, 0, True)


def test_a_checkpoint_kills_the_process_with_sigkill() -> None:
    code = "from live.faults import checkpoint\nfor _ in range(5): checkpoint('x')\nprint('alive')"
    env = os.environ | {"DRYDOCK_FAULT_KILL_AT": "3"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == -signal.SIGKILL and "alive" not in done.stdout
    env["DRYDOCK_FAULT_KILL_AT"] = "0"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "alive" in done.stdout


def test_crashes_on_a_postgres_journal_never_duplicate_or_lose_an_order(
    tmp_path: Path, postgres_url: str
) -> None:
    """The same SIGKILL drill with the journal on PostgreSQL: the advisory-lock lease of a killed
    runner is free at its restart, and the journal's guarantees hold on the other backend."""
    write_sample_lake(tmp_path, date(2024, 1, 9))
    result = run_fault_injection(tmp_path, seed=5, max_kills=10, span=16,
                                 end_day=date(2024, 1, 9), journal_url=postgres_url)  # fmt: skip
    assert result["kills"] >= 6
    assert result["orders"] == result["accepted"] > 15
    assert (result["duplicates"], result["lost_fills"], result["parity"]) == (0, 0, True)


@pytest.mark.parametrize("scenario", ["engine", "grid", "carry"])
def test_crashes_in_exits_resting_orders_and_two_leg_runs_never_duplicate_or_lose(
    tmp_path: Path, scenario: str
) -> None:
    """The drill on the runs the live core keeps with the shared models: a long/short EMA whose
    stops and ladder the core releases, a grid of resting limits, and a spot+perp carry killed
    between its legs; 0 duplicates, 0 lost fills, the uninterrupted run's trades and equity."""
    write_sample_lake(tmp_path, date(2024, 1, 15))
    result = run_fault_injection(tmp_path, seed=3, max_kills=8, span=12,
                                 end_day=date(2024, 1, 15), scenario=scenario)  # fmt: skip
    assert result["kills"] >= 5
    assert result["orders"] == result["accepted"] > 3
    assert (result["duplicates"], result["lost_fills"], result["parity"]) == (0, 0, True)
