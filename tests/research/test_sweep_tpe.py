"""Optuna TPE search: seeded, on the grid, constraint-aware, and on real data it finds the grid's
best set in a fraction of the grid (figures from the bundled BTC/USDT 1h 2024 sample)."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample
from research.sweep import space
from research.sweep.engine import run_sweep
from research.sweep.objectives import Constraints
from research.sweep.tpe import tpe_search
from strategies import get_strategy

pytestmark = pytest.mark.integration  # numba kernels and ~300 Optuna trials per search

KEY = SeriesKey("binance", "BTC/USDT", "1h")
GRID = ["fast=2:60:1", "slow=10:300:2"]  # 7,938 valid sets


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return read_sample(KEY)


@pytest.fixture(scope="module")
def values() -> dict[str, list[float]]:
    return space.axes(get_strategy("ema_cross"), space.parse_grid_options(GRID), {})


def search(bars: pl.DataFrame, values: dict[str, list[float]], **kw: object):  # type: ignore[no-untyped-def]
    return tpe_search(get_strategy("ema_cross"), bars, KEY, ExecutionModel(), values, 300, **kw)  # type: ignore[arg-type]


def test_tpe_finds_the_grid_best_in_300_trials_and_beats_random(
    bars: pl.DataFrame, values: dict[str, list[float]], tmp_path: Path
) -> None:
    strategy = get_strategy("ema_cross")
    grid = space.grid_sets(strategy, values)
    assert len(grid) == 7_938
    full = run_sweep(strategy, bars, KEY, ExecutionModel(), grid, out=tmp_path / "grid.parquet")
    best = full.top(1).row(0, named=True)
    found = search(bars, values, seed=1)
    assert (
        found.best_params
        == {"fast": best["fast"], "slow": best["slow"]}
        == {
            "fast": 28,
            "slow": 68,
        }
    )
    assert found.best_score == pytest.approx(best["objective"], rel=1e-12)
    assert len(found.sets) < 300  # repeated proposals are scored once
    rand = run_sweep(
        strategy, bars, KEY, ExecutionModel(), space.random_sets(strategy, values, 300, 1),
        out=tmp_path / "random.parquet",
    )  # fmt: skip
    assert rand.top(1)["objective"][0] < found.best_score


def test_tpe_is_seeded_and_proposes_distinct_valid_grid_points(
    bars: pl.DataFrame, values: dict[str, list[float]]
) -> None:
    a, b, c = (
        search(bars, values, seed=3),
        search(bars, values, seed=3),
        search(bars, values, seed=4),
    )
    assert a.sets == b.sets and a.sets != c.sets
    rows = [(p["fast"], p["slow"]) for p in a.sets]
    assert len(rows) == len(set(rows))
    assert all(f in values["fast"] and s in values["slow"] and f < s for f, s in rows)


def test_tpe_best_respects_the_constraints(
    bars: pl.DataFrame, values: dict[str, list[float]], tmp_path: Path
) -> None:
    limits = Constraints(min_trades=60, max_drawdown=None)
    found = search(bars, values, seed=1, constraints=limits)
    assert found.best_params is not None
    check = run_sweep(
        get_strategy("ema_cross"), bars, KEY, ExecutionModel(), [found.best_params],
        constraints=limits, out=tmp_path / "best.parquet",
    ).table()  # fmt: skip
    assert check["feasible"][0] and check["trade_count"][0] >= 60
    assert found.best_score == pytest.approx(check["objective"][0], rel=1e-12)
    assert found.best_params != {"fast": 28, "slow": 68}  # the unconstrained best has 44 trades


def test_tpe_rejects_zero_trials(bars: pl.DataFrame, values: dict[str, list[float]]) -> None:
    with pytest.raises(ConfigError, match="--tpe 0 must be at least 1"):
        tpe_search(get_strategy("ema_cross"), bars, KEY, ExecutionModel(), values, 0)


def test_cli_tpe_sweeps_the_proposed_sets(
    btc_lake: SeriesKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from drydock.cli import main

    out = tmp_path / "tpe.parquet"
    argv = ["drydock", "sweep", "ema_cross", "--grid", "fast=5:40:1", "--grid", "slow=20:120:2",
            "--tpe", "120", "--seed", "2", "--no-track", "--out", str(out)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0
    table = pl.read_parquet(out)
    assert 0 < table.height <= 120
    assert "TPE search (120 trials)" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", [*argv, "--random", "10"])
    with pytest.raises(SystemExit) as failed:
        main()
    assert failed.value.code == 2
    assert "pass one of them" in capsys.readouterr().err
