"""The sweep figures do the work they claim: the subject sweeps ``bars x sets`` bar-params, the raw
vectorbt peer computes the same returns for the same sets, and value, baseline, ratio and n follow
from the timings as documented (timings are injected: no wall-clock asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import backtest as bench
from benchmarks.data import minute_bars
from research.sweep import run_sweep
from strategies import get_strategy
from tests.benchmarks.clock import install

pytestmark = pytest.mark.integration  # numba kernels, raw vectorbt and a subprocess

BARS = 3_000
PEER_GRID = bench.SWEEP_GRID[:: len(bench.SWEEP_GRID) // bench.PEER_CHUNK][: bench.PEER_CHUNK]


@pytest.mark.parametrize(
    ("fused", "stop"),
    [
        pytest.param(True, None, id="fused"),
        pytest.param(False, None, id="generic"),
        pytest.param(
            True,
            0.005,
            id="stop",
            marks=pytest.mark.xfail(
                strict=True,
                reason="found by this test: once stops fire, ours and vectorbt's sl_stop differ "
                "(e.g. -0.1552 vs -0.1555 on the first set), so sweep_stop_bar_params_per_s's peer "
                "is not like for like; benchmarks/backtest.py was out of reach (issue 20)",
            ),
        ),
    ],
)
def test_subject_and_peer_compute_the_same_returns(
    fused: bool, stop: float | None, tmp_path: Path
) -> None:
    """What is timed on each side agrees per set: ours' total_return = vectorbt's final value."""
    frame = minute_bars(BARS)
    stops = None if stop is None else [stop]
    ours = run_sweep(
        get_strategy("ema_cross"), frame, bench.BTC_1M, bench.EXECUTION, bench._sets(PEER_GRID),
        out=tmp_path / "sweep.parquet", fused=fused, stop_losses=stops,
    ).table()  # fmt: skip
    peer = bench._vectorbt_chunk(frame, PEER_GRID, stop)
    peer_returns = peer.iloc[-1].to_numpy() / bench.EXECUTION.init_cash - 1  # type: ignore[attr-defined]
    assert ours.select("fast", "slow").rows() == PEER_GRID
    assert np.allclose(ours["total_return"].to_numpy(), peer_returns, rtol=1e-9, atol=1e-12)
    assert len(set(np.round(peer_returns, 9))) > 1  # the sets differ: a real comparison


@pytest.mark.parametrize(
    ("figure", "name", "sets", "grid_sets", "fused"),
    [
        (bench.sweep_bar_params_per_s, "sweep_bar_params_per_s", 20, 20, True),
        (bench.sweep_generic_bar_params_per_s, "sweep_generic_bar_params_per_s", 4, 4, False),
    ],
)
def test_sweep_rate_figures_are_the_documented_arithmetic(  # type: ignore[no-untyped-def]
    figure, name: str, sets: int, grid_sets: int, fused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = install(monkeypatch, bench, 2.0, 0.5)  # ours 2 s, the peer's chunk 0.5 s
    line = json.loads(figure(bars=BARS, sets=sets, repeat=1).json())
    swept, peer = clock.results
    assert (swept.bars, swept.sets, swept.engine) == (
        BARS,
        grid_sets,
        "fused" if fused else "generic",
    )
    assert peer.shape == (BARS, bench.PEER_CHUNK)
    assert line == {
        "name": name,
        "value": round(BARS * grid_sets / 2.0),
        "unit": "bar-params/s",
        "baseline": round(BARS * bench.PEER_CHUNK / 0.5),
        "ratio": round(round(BARS * grid_sets / 2.0) / round(BARS * bench.PEER_CHUNK / 0.5), 2),
        "n": swept.bars * swept.sets,
    }


def test_sweep_stop_figure_sweeps_every_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = install(monkeypatch, bench, 4.0, 1.0)
    line = json.loads(bench.sweep_stop_bar_params_per_s(bars=BARS, pairs=5, repeat=1).json())
    swept, _ = clock.results
    n = BARS * 5 * len(bench.SWEEP_STOPS)
    assert (swept.sets, swept.bars) == (5 * len(bench.SWEEP_STOPS), BARS)
    assert (line["name"], line["n"], line["value"]) == ("sweep_stop_bar_params_per_s", n, n / 4)
    assert line["baseline"] == round(BARS * bench.PEER_CHUNK / 1.0)
    assert line["ratio"] == round(line["value"] / line["baseline"], 2)


def test_sweep_peak_rss_figure() -> None:
    # 1.2 GB resident here must not leak into the child's figure (ru_maxrss would carry it)
    ballast = np.ones(150_000_000)
    line = json.loads(bench.sweep_peak_rss_mb(bars=BARS, sets=20).json())
    del ballast
    assert (line["name"], line["unit"], line["n"]) == ("sweep_peak_rss_mb", "MB", BARS * 20)
    # a fresh interpreter with polars, numba and pyarrow loaded is well over 50 MB
    assert 50 < line["value"] < bench.RSS_TARGET_MB
    assert line["ratio"] == pytest.approx(line["baseline"] / line["value"], abs=0.01)
