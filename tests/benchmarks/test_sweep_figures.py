"""The sweep figures run end to end on a small series and report consistent six-key lines."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.backtest import (
    RSS_TARGET_MB,
    SWEEP_GRID,
    sweep_bar_params_per_s,
    sweep_generic_bar_params_per_s,
    sweep_peak_rss_mb,
)

pytestmark = pytest.mark.integration  # numba kernels, raw vectorbt and a subprocess


def test_sweep_grid_is_a_thousand_valid_pairs() -> None:
    assert len(SWEEP_GRID) == len(set(SWEEP_GRID)) == 1_000
    assert all(2 <= f < s <= 400 for f, s in SWEEP_GRID)


@pytest.mark.parametrize(
    ("figure", "name", "sets"),
    [
        (sweep_bar_params_per_s, "sweep_bar_params_per_s", 20),
        (sweep_generic_bar_params_per_s, "sweep_generic_bar_params_per_s", 4),
    ],
)
def test_sweep_rate_figures(figure, name: str, sets: int) -> None:  # type: ignore[no-untyped-def]
    line = json.loads(figure(bars=3_000, sets=sets, repeat=1).json())
    assert list(line) == ["name", "value", "unit", "baseline", "ratio", "n"]
    assert (line["name"], line["unit"], line["n"]) == (name, "bar-params/s", 3_000 * sets)
    assert line["value"] > 0 and line["baseline"] > 0
    assert line["ratio"] == pytest.approx(line["value"] / line["baseline"], abs=0.01)


def test_sweep_peak_rss_figure() -> None:
    # 1.2 GB resident here must not leak into the child's figure (ru_maxrss would carry it)
    ballast = np.ones(150_000_000)
    line = json.loads(sweep_peak_rss_mb(bars=3_000, sets=20).json())
    del ballast
    assert (line["name"], line["unit"], line["n"]) == ("sweep_peak_rss_mb", "MB", 60_000)
    assert line["baseline"] == RSS_TARGET_MB
    # a fresh interpreter with polars, numba and pyarrow loaded is well over 50 MB
    assert 50 < line["value"] < RSS_TARGET_MB
    assert line["ratio"] == pytest.approx(RSS_TARGET_MB / line["value"], abs=0.01)


def test_sweep_stop_figure_counts_every_stop() -> None:
    from benchmarks.backtest import SWEEP_STOPS, sweep_stop_bar_params_per_s

    line = json.loads(sweep_stop_bar_params_per_s(bars=3_000, pairs=5, repeat=1).json())
    assert (line["name"], line["n"]) == (
        "sweep_stop_bar_params_per_s",
        3_000 * 5 * len(SWEEP_STOPS),
    )
    assert line["value"] > 0 and line["baseline"] > 0
