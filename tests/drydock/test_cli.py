"""The CLI explains itself, and bad input is one actionable paragraph with exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drydock.ohlcv import SeriesKey


def drydock(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRYDOCK_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "drydock.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["backtest"],
        ["ingest"],
        ["live"],
        ["live", "replay"],
        ["live", "kill"],
        ["demo"],
        ["strategies"],
    ],
    ids=lambda c: " ".join(c) or "root",
)
def test_help_explains_every_command(command: list[str], home: Path) -> None:
    result = drydock(*command, "--help", home=home)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert len(result.stdout.splitlines()) > 5


def test_root_help_lists_commands(home: Path) -> None:
    out = drydock("--help", home=home).stdout
    for name in ("ingest", "backtest", "strategies", "live", "demo"):
        assert name in out


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["backtest", "ema_crossover"],
            ["Unknown strategy 'ema_crossover'", "Valid choices: ema_cross"],
        ),
        (["backtest", "ema_cross", "--param", "fast"], ["Malformed --param 'fast'", "name=value"]),
        (
            ["backtest", "ema_cross", "--param", "speed=3"],
            ["Unknown parameter 'speed'", "fast, slow"],
        ),
        (["backtest", "ema_cross", "--param", "fast=500"], ["fast=", "allowed 2..100"]),
        (["backtest", "ema_cross", "--timeframe", "1x"], ["Invalid timeframe '1x'"]),
        (
            ["backtest", "ema_cross", "--symbol", "DOGE/USDT"],
            ["binance DOGE/USDT 1h", "drydock ingest"],
        ),
        (["live", "replay", "ema_cross", "--symbol", "DOGE/USDT"], ["DOGE/USDT", "drydock ingest"]),
        (["live", "replay", "nope", "--symbol", "BTC/USDT"], ["Unknown strategy 'nope'"]),
        (["ingest", "--symbol", "DOGE/USDT"], ["DOGE/USDT", "BTC/USDT"]),
    ],
    ids=lambda a: (
        " ".join(a)
        if isinstance(a, list) and a and isinstance(a[0], str) and not a[0][0].isupper()
        else ""
    ),
)
def test_bad_input_is_one_paragraph_without_traceback(
    args: list[str], fragments: list[str], btc_lake: SeriesKey, home: Path
) -> None:
    result = drydock(*args, home=home)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    text = " ".join(result.stderr.split())
    for fragment in fragments:
        assert fragment in text, text


def test_strategies_lists_params(home: Path) -> None:
    out = drydock("strategies", home=home).stdout
    assert "ema_cross" in out and "fast" in out and "2..100" in out
