"""``drydock simulate``: the complete execution model from the CLI on the tmp lake."""

from __future__ import annotations

import sys

import pytest

from drydock.cli import main
from drydock.ohlcv import SeriesKey

pytestmark = pytest.mark.integration  # numba kernel on the tmp lake


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["drydock", "simulate", "ema_cross", *args])
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as done:
        main()
    return int(done.value.code or 0)


def test_simulate_with_stops_ladder_and_close_at_end(
    btc_lake: SeriesKey, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(monkeypatch, "-p", "fast=5", "-p", "slow=20", "--stop-loss", "0.01",
               "--take-profit", "0.03", "--scale-out", "0.015:0.5", "--close-at-end")  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "research engine" in out and "stop_loss" in out and "scale_out" in out
    assert "still open" not in out  # closed at the last bar


def test_bad_ladder_and_target_errors_are_one_line(
    btc_lake: SeriesKey, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, "--scale-out", "1.0-0.5") == 2
    assert "is not gain:fraction" in capsys.readouterr().err
    assert run(monkeypatch, "--stop-loss", "1.5") == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "stop_loss" in err
