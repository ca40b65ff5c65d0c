"""``drydock sweep`` end to end on the tmp lake: table streamed to Parquet, best rows printed,
DuckDB reads it; bad input is one line and exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from drydock.cli import build_app, main
from drydock.ohlcv import SeriesKey
from drydock.settings import Settings
from research.backtest import backtest
from strategies import get_strategy

pytestmark = pytest.mark.integration  # numba kernels, vectorbt backtests, MLflow on sqlite


def test_sweep_command_writes_ranked_parquet(
    btc_lake: SeriesKey, tmp_path: Path, settings: Settings
) -> None:
    out = tmp_path / "grid.parquet"
    args = [
        "sweep", "ema_cross", "--grid", "fast=5:20:5", "--grid", "slow=30:60:10",
        "--objective", "sortino", "--min-trades", "10", "--top", "3", "--out", str(out),
    ]  # fmt: skip
    result = CliRunner().invoke(build_app(), args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert f"results: {out}" in " ".join(result.output.split())
    assert "top 3 of 16 sets by sortino" in result.output and "fused kernel" in result.output
    rows = duckdb.sql(
        f"SELECT fast, slow, objective, sortino, trade_count, feasible FROM '{out}' "
        "ORDER BY objective DESC"
    ).fetchall()
    assert len(rows) == 16
    assert {(r[0], r[1]) for r in rows} == {
        (f, s) for f in (5, 10, 15, 20) for s in (30, 40, 50, 60)
    }
    assert all(r[2] == r[3] for r in rows)  # the objective column is the chosen metric
    assert all(r[5] == (r[4] >= 10) for r in rows)
    best = next(r for r in rows if r[5])
    # the printed best row is the single backtest's best, with the same Sortino
    strategy = get_strategy("ema_cross")
    single = backtest(strategy, {"fast": best[0], "slow": best[1]}, btc_lake)
    assert single.metrics["sortino"] == pytest.approx(best[3], rel=1e-9)
    assert f"{single.metrics['sortino']:,.3f}" in result.output
    # MLflow: one parent run (table + heatmap) and the 3 best sets as child backtests under it
    client = MlflowClient(settings.mlflow_tracking_uri)
    experiment = client.get_experiment_by_name("sweeps")
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.data.tags["drydock.kind"] == "sweep")
    assert parent.info.run_id in result.output
    assert parent.data.params["objective"] == "sortino" and parent.data.params["sets"] == "16"
    assert parent.data.metrics["best_objective"] == pytest.approx(best[3], rel=1e-12)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert artifacts == {"results.parquet", "heatmap.html"}
    kids = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(kids) == 3
    top = [r for r in rows if r[5]][:3]
    by_params = {(k.data.params["param.fast"], k.data.params["param.slow"]): k for k in kids}
    for fast, slow, _, sortino, *_ in top:
        kid = by_params[(str(fast), str(slow))]
        assert kid.data.metrics["sortino"] == pytest.approx(sortino, rel=1e-9)
        assert {a.path for a in client.list_artifacts(kid.info.run_id)} >= {"report.html"}


def test_random_sweep_generic_path(btc_lake: SeriesKey, tmp_path: Path) -> None:
    out = tmp_path / "random.parquet"
    args = [
        "sweep", "ema_cross", "--random", "12", "--seed", "1", "--generic", "--fee", "0.002",
        "--max-memory", "256MB", "--out", str(out), "--no-track",
    ]  # fmt: skip
    result = CliRunner().invoke(build_app(), args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "generic kernel" in result.output
    count, valid = duckdb.sql(f"SELECT count(*), bool_and(fast < slow) FROM '{out}'").fetchone()  # type: ignore[misc]
    assert (count, valid) == (12, True)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--grid", "fast=50:5"], "runs backwards"),
        (["--grid", "fast=5-50"], "Malformed --grid 'fast=5-50'"),
        (["--objective", "profit"], "Unknown objective 'profit'"),
        (["--max-memory", "lots"], "--max-memory 'lots' is not a size"),
        (["--grid", "fast=90:100", "--grid", "slow=5:10"], "no valid parameter set"),
        (["-t", "1m"], "BTC/USDT 1m"),
    ],
)
def test_bad_sweep_input_is_one_line(
    args: list[str],
    fragment: str,
    btc_lake: SeriesKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "argv", ["drydock", "sweep", "ema_cross", *args])
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error:")
    assert fragment in " ".join(err.split()), err
