"""A backtest logged to MLflow (sqlite store in the tmp home) holds what it should."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from drydock.ohlcv import SeriesKey
from drydock.settings import REPO_ROOT, Settings
from research.backtest import backtest
from research.tracking import latest_runs, load_equity, log_backtest
from strategies import get_strategy

pytestmark = pytest.mark.integration  # MLflow on sqlite and a vectorbt backtest


def test_run_contents(
    btc_lake: SeriesKey, settings: Settings, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRYDOCK_CCXT_SECRET", "s3cr3t-value-never-logged")
    strategy = get_strategy("ema_cross")
    result = backtest(strategy, strategy.resolve_params({"fast": 8}), btc_lake)
    before = _git_head_and_dirty()
    run_id = log_backtest(result)
    after = _git_head_and_dirty()

    client = MlflowClient(settings.mlflow_tracking_uri)
    run = client.get_run(run_id)
    assert run.data.params["param.fast"] == "8"
    assert run.data.params["param.slow"] == "26"
    assert run.data.params["symbol"] == "BTC/USDT"
    assert run.data.params["exec.fill"] == "next_open"
    assert run.data.params["bars"] == str(91 * 24)
    for name, value in result.metrics.items():
        if math.isfinite(value):
            assert run.data.metrics[name] == pytest.approx(value)
    tags = run.data.tags
    if before == after:  # the shared work tree did not move while the run was logged
        assert tags["git_commit"] == before[0]
        assert tags["git_dirty"] == str(before[1]).lower()
    else:
        assert (tags["git_commit"], tags["git_dirty"]) in {
            (sha, str(dirty).lower()) for sha, dirty in (before, after)
        }
    assert tags["data_fingerprint"] == result.data_fingerprint
    assert len(tags["code_fingerprint"]) == 16
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert artifacts == {"report.html", "equity.parquet"}
    assert str(settings.mlflow_artifact_root) in run.info.artifact_uri
    everything = str(run.data.params) + str(run.data.tags)
    assert "s3cr3t" not in everything

    equity = load_equity(run_id)
    assert equity["equity"].to_list() == pytest.approx(result.equity.tolist())
    runs = latest_runs()
    assert runs["run_id"].to_list() == [run_id]
    assert runs["total_return"][0] == pytest.approx(result.metrics["total_return"])
    assert (home / "mlflow" / "mlflow.db").exists()


def test_latest_runs_empty_without_store(settings: Settings) -> None:
    assert latest_runs().is_empty()


def _git_head_and_dirty() -> tuple[str, bool]:
    """HEAD of the repository and whether tracked files differ from it, asked of git directly."""
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    status = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout
    assert len(head) == 40, "the test runs inside the project's git checkout"
    return head, bool(status.strip())
