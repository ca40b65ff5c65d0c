"""``event_to_submit_p99_ms`` runs the copy_wallet stub over the SOL sample and reports one
latency per event-caused order, in the documented shape (no wall-clock assert)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # lake, journal, policy


def test_event_to_submit_figure_times_every_event_order(home: Path) -> None:
    from benchmarks.runner import event_to_submit_p99_ms

    figure = json.loads(event_to_submit_p99_ms(every=50).json())
    assert figure["name"] == "event_to_submit_p99_ms" and figure["unit"] == "ms"
    assert figure["n"] == 20  # 1,000 bars, a swap every 50: 20 buys and sells, 20 orders
    assert figure["baseline"] == 5.0 and figure["value"] > 0
    assert figure["ratio"] == round(5.0 / figure["value"], 2)
