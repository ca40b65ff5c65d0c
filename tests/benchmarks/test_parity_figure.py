"""``runner_parity_strategies`` compares real runs: equal fills count, a case the runner cannot
run counts as checked and not equal, with its reason (no hard-coded result)."""

from __future__ import annotations

import pytest

from benchmarks.parity import CASES, parity_results

pytestmark = pytest.mark.integration


def test_parity_counts_equal_runs_and_names_why_others_differ() -> None:
    cases = tuple(c for c in CASES if c.name in ("ema_cross_busy", "ema_long_short_stops_ladder"))
    busy, long_short = parity_results(cases)
    assert busy.equal and busy.reason == "277 fills equal"  # EMA 3/8 over 2024-Q1, fill by fill
    assert not long_short.equal and "shorts, stops and scale-out" in long_short.reason
