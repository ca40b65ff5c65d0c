"""``runner_parity_strategies`` compares real runs: equal fills count, a case the runner cannot
run counts as checked and not equal, with its reason (no hard-coded result)."""

from __future__ import annotations

import pytest

from benchmarks.parity import CASES, parity_results

pytestmark = pytest.mark.integration


def test_parity_counts_equal_runs_and_names_why_others_differ() -> None:
    names = ("ema_cross_busy", "grid", "rebalance", "ema_long_short_stops_ladder")
    busy, grid, rebalance, long_short = parity_results(tuple(c for c in CASES if c.name in names))
    assert busy.equal and busy.reason == "277 fills equal"  # EMA 3/8 over 2024-Q1, fill by fill
    # shorts, a stop loss, a trailing stop and a scale-out ladder, kept by the shared model
    assert long_short.equal and long_short.reason == "96 fills equal"
    assert grid.equal and grid.reason == "60 fills equal"  # resting limits matched by the core
    assert rebalance.equal and rebalance.reason == "29 fills equal"  # two instruments, one cash


def test_a_case_the_runner_cannot_run_counts_as_not_equal_with_its_reason() -> None:
    from benchmarks.parity import ParityCase

    [missing] = parity_results((ParityCase("ghost", "no_such_strategy", {}, {}),))
    assert not missing.equal and "no_such_strategy" in missing.reason
