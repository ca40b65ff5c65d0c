"""Sweep inputs and outputs without simulation: spaces, memory budgets, objectives, the writer."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from drydock.errors import ConfigError, DrydockError
from research.sweep import memory
from research.sweep.objectives import Constraints, check_objective, derive, rank
from research.sweep.space import axes, grid_sets, parse_grid_options, random_sets
from research.sweep.writer import ResultsWriter
from strategies import get_strategy


def test_grid_ranges_are_inclusive_and_drop_invalid_pairs() -> None:
    strategy = get_strategy("ema_cross")
    values = axes(strategy, parse_grid_options(["fast=5:50:5", "slow=20:200:10"]))
    assert values["fast"] == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert values["slow"][0] == 20 and values["slow"][-1] == 200 and len(values["slow"]) == 19
    sets = grid_sets(strategy, values)
    assert all(p["fast"] < p["slow"] for p in sets)
    # 190 pairs minus the 16 with fast >= slow: fast 20, 25 (1 each), 30, 35 (2), 40, 45 (3), 50 (4)
    invalid = sum(1 for f in values["fast"] for s in values["slow"] if f >= s)
    assert len(sets) == 190 - invalid == 174
    assert isinstance(sets[0]["fast"], int)


def test_unswept_parameters_take_declared_range_or_fixed_value() -> None:
    strategy = get_strategy("ema_cross")
    values = axes(strategy, parse_grid_options(["fast=2:4"]), {"slow": "30"})
    assert values == {"fast": [2, 3, 4], "slow": [30]}
    declared = axes(strategy)
    assert declared["fast"] == list(range(2, 101)) and declared["slow"] == list(range(5, 401))


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        ("fast", "name=low:high[:step]"),
        ("fast=5", "name=low:high[:step]"),
        ("fast=5:x", "not a number"),
        ("fast=50:5", "runs backwards"),
        ("fast=5:50:0", "positive whole number"),
        ("fast=5:50:1.5", "positive whole number"),
        ("fast=1:50", "out of range"),
        ("speed=1:5", "Unknown parameter 'speed'"),
    ],
)
def test_bad_grid_is_one_clear_error(option: str, fragment: str) -> None:
    strategy = get_strategy("ema_cross")
    with pytest.raises(ConfigError) as info:
        axes(strategy, parse_grid_options([option]))
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_random_sets_are_distinct_valid_and_seeded() -> None:
    strategy = get_strategy("ema_cross")
    values = axes(strategy)
    first = random_sets(strategy, values, 50, seed=3)
    assert first == random_sets(strategy, values, 50, seed=3)
    assert first != random_sets(strategy, values, 50, seed=4)
    assert len({(p["fast"], p["slow"]) for p in first}) == 50
    assert all(p["fast"] < p["slow"] for p in first)
    small = axes(strategy, parse_grid_options(["fast=2:3", "slow=5:6"]))
    assert len(random_sets(strategy, small, 10, seed=0)) == 4  # the whole grid
    with pytest.raises(ConfigError, match="at least 1"):
        random_sets(strategy, values, 0, seed=0)


def test_memory_sizes_and_chunks() -> None:
    assert memory.parse_size("2GB") == 2 << 30
    assert memory.parse_size("512mb") == 512 << 20
    assert memory.parse_size("1.5G") == int(1.5 * (1 << 30))
    for bad in ("lots", "2 PB", "1KB"):
        with pytest.raises(ConfigError, match="--max-memory"):
            memory.parse_size(bad)
    available = memory.available_memory()
    assert available > 0
    assert memory.budget(1 << 40) <= available * memory.AVAILABLE_FRACTION + 1
    assert memory.budget(100 << 20) == 100 << 20
    # a year of 1m int8 targets is 525,600 bytes per set: 100 MB holds 199 sets
    assert memory.chunk_size(525_600, 100 << 20, 1_000) == 199
    assert memory.chunk_size(525_600, 100 << 20, 50) == 50
    assert memory.chunk_size(10**12, 100 << 20, 50) == 1


def test_objectives_constraints_and_rank() -> None:
    columns = derive(
        {
            "total_return": np.array([0.5, 0.2, -0.1, 0.3]),
            "cagr": np.array([0.6, 0.25, -0.12, 0.35]),
            "max_drawdown": np.array([-0.25, -0.1, -0.5, 0.0]),
            "trade_count": np.array([10.0, 3.0, 40.0, 12.0]),
            "sharpe": np.array([1.5, 2.0, np.nan, 0.5]),
        }
    )
    np.testing.assert_allclose(columns["calmar"][:3], [2.4, 2.5, -0.24])
    np.testing.assert_allclose(columns["return_over_drawdown"][:3], [2.0, 2.0, -0.2])
    assert np.isnan(columns["calmar"][3])  # no drawdown: NaN, as drydock.metrics.calmar
    feasible = Constraints(min_trades=5, max_drawdown=0.3).feasible(columns)
    assert feasible.tolist() == [True, False, False, True]
    assert rank(columns["sharpe"], feasible, 5).tolist() == [0, 3]
    assert rank(columns["sharpe"], np.ones(4, dtype=bool), 2).tolist() == [1, 0]
    with pytest.raises(DrydockError, match=r"Unknown objective 'profit'.*sharpe"):
        check_objective("profit")


def test_writer_streams_chunks_and_commits_atomically(tmp_path: Path) -> None:
    path = tmp_path / "sweeps" / "r.parquet"
    path.parent.mkdir()
    path.write_bytes(b"previous")
    with pytest.raises(RuntimeError, match="boom"), ResultsWriter(path) as writer:
        writer.append({"set": np.arange(3), "sharpe": np.array([1.0, 2.0, 3.0])})
        raise RuntimeError("boom")
    assert path.read_bytes() == b"previous"  # the failed sweep left the old file alone
    assert [p.name for p in path.parent.iterdir()] == ["r.parquet"]  # and no temp file
    with ResultsWriter(path, {"drydock.sweep": "{}"}) as writer:
        writer.append({"set": np.arange(3), "sharpe": np.array([1.0, 2.0, 3.0])})
        writer.append({"set": np.arange(3, 5), "sharpe": np.array([0.5, 4.0])})
        writer.commit()
    rows = duckdb.sql(f"SELECT set, sharpe FROM '{path}' ORDER BY sharpe DESC LIMIT 2").fetchall()
    assert rows == [(4, 4.0), (2, 3.0)]
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path)
    assert meta.num_row_groups == 2 and meta.schema_arrow.metadata[b"drydock.sweep"] == b"{}"


def test_heatmap_takes_the_best_feasible_value_per_cell() -> None:
    import polars as pl

    from research.sweep.heatmap import heatmap_figure

    table = pl.DataFrame(
        {
            "fast": [5, 5, 10, 10, 5],
            "slow": [20, 30, 20, 30, 20],
            "other": [1, 1, 1, 1, 2],
            "objective": [0.5, 1.0, float("nan"), 2.0, 0.7],
            "feasible": [True, True, True, True, True],
        }
    ).with_columns(feasible=pl.Series([True, True, True, False, True]))
    trace = heatmap_figure(table, ("fast", "slow", "other")).data[0]
    # fast=10 has only a NaN and an infeasible row: no column; (5, 20) keeps the best of 0.5, 0.7
    assert list(trace.x) == [5] and list(trace.y) == [20, 30]
    assert [list(r) for r in trace.z] == [[0.7], [1.0]]
    line = heatmap_figure(table, ("fast",)).data[0]
    assert list(line.x) == [5] and list(line.y) == [1.0]
