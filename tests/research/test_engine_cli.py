"""``drydock simulate``: the complete execution model from the CLI on the tmp lake."""

from __future__ import annotations

import sys

import pytest
from mlflow.tracking import MlflowClient

from drydock.cli import main
from drydock.ohlcv import SeriesKey
from drydock.settings import Settings

pytestmark = pytest.mark.integration  # numba kernel on the tmp lake


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["drydock", "simulate", "ema_cross", *args])
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as done:
        main()
    return int(done.value.code or 0)


def test_simulate_with_stops_ladder_and_close_at_end(
    btc_lake: SeriesKey, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code = run(monkeypatch, "-p", "fast=5", "-p", "slow=20", "--stop-loss", "0.01",
               "--take-profit", "0.03", "--scale-out", "0.015:0.5", "--close-at-end")  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "research engine" in out and "stop_loss" in out and "scale_out" in out
    assert "still open" not in out  # closed at the last bar
    client = MlflowClient(settings.mlflow_tracking_uri)
    [logged] = client.search_runs(client.get_experiment_by_name("simulations").experiment_id)
    assert logged.data.params["engine.stop_loss"] == "0.01"
    assert logged.data.params["engine.scale_out"] == "((0.015, 0.5),)"
    assert logged.data.metrics["orders.stop_loss"] > 0 and logged.data.metrics["open_position"] == 0
    assert logged.data.tags["drydock.kind"] == "simulation" and logged.data.tags["data_fingerprint"]
    assert {a.path for a in client.list_artifacts(logged.info.run_id)} == {
        "equity.parquet",
        "orders.parquet",
    }


def test_bad_ladder_and_target_errors_are_one_line(
    btc_lake: SeriesKey, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, "--scale-out", "1.0-0.5", "--no-track") == 2
    assert "is not gain:fraction" in capsys.readouterr().err
    assert run(monkeypatch, "--stop-loss", "1.5") == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "stop_loss" in err
