"""Regressions for inputs a hostile operator tried: each fails as one line, alike in every path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from drydock.cli import main
from drydock.errors import ConfigError
from drydock.ohlcv import SeriesKey
from drydock.settings import get_settings

# Each case ingests a lake and runs the CLI through backtest and replay: integration tier.
pytestmark = pytest.mark.integration


def run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    """Run the console entry point in process; return its one error line (exit code 2 asserted)."""
    monkeypatch.setattr(sys, "argv", ["drydock", *args])
    monkeypatch.setenv("COLUMNS", "400")
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    assert exited.value.code == 2, captured.err
    assert "Traceback" not in captured.err + captured.out
    text = " ".join(captured.err.split())
    assert text.startswith("error:"), text
    return text


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["-p", "fast=nan"], "Parameter fast='nan' is not finite"),
        (["-p", "slow=inf"], "Parameter slow='inf' is not finite"),
        (["-t", "1H"], "Invalid timeframe '1H'"),
        (["-t", "1h\n"], "Invalid timeframe"),
        (["-e", "okx"], "No market metadata for BTC/USDT on okx"),
        (["--start", "2024-03-02", "--end", "2024-03-01"], "the start must be before the end"),
        (["--start", "0001-01-01T00:00+05:00"], "falls outside the calendar"),
        (["--lot-size", "1e-30"], "lot_size=1e-30 is out of range"),
    ],
)
def test_backtest_and_replay_fail_alike(
    extra: list[str],
    fragment: str,
    btc_lake: SeriesKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backtest = run(["backtest", "ema_cross", "--no-track", *extra], monkeypatch, capsys)
    replay = run(["live", "replay", "ema_cross", *extra], monkeypatch, capsys)
    assert fragment in backtest
    assert backtest == replay


def test_fill_hint_uses_the_exclusive_end_ingest_takes(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The suggested ingest covers every day the window touches (ingest's --end is exclusive)."""
    text = run(
        ["backtest", "ema_cross", "--start", "2024-03-01", "--end", "2024-03-04T06:00"],
        monkeypatch,
        capsys,
    )
    assert "--start 2024-03-01 --end 2024-03-05`" in text


def test_home_is_stripped_and_must_be_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRYDOCK_HOME", f"{tmp_path} ")
    assert get_settings().root == tmp_path.resolve()  # not a sibling folder named 'x '
    a_file = tmp_path / "f"
    a_file.write_text("")
    monkeypatch.setenv("DRYDOCK_HOME", str(a_file))
    with pytest.raises(ConfigError, match="exists but is not a folder"):
        get_settings()
    monkeypatch.setenv("DRYDOCK_HOME", "~no_such_user_drydock/x")
    with pytest.raises(ConfigError, match="home directory that does not exist"):
        get_settings()


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("raise SystemExit(0)\n", "failed to import: SystemExit"),
        (
            "from strategies.ema_cross import EmaCross\n"
            "class Neg(EmaCross):\n    id = 'neg'\n    def warmup(self, params):\n        return -5\n",
            "warmup() returned -5",
        ),
    ],
)
def test_user_strategy_misbehaviour_is_one_line(
    source: str,
    fragment: str,
    btc_lake: SeriesKey,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = home / "strategies"
    folder.mkdir()
    (folder / "mine.py").write_text(source)
    strategy = "neg" if "neg" in source else "ema_cross"
    backtest = run(["backtest", strategy, "--no-track"], monkeypatch, capsys)
    replay = run(["live", "replay", strategy], monkeypatch, capsys)
    assert fragment in backtest and fragment in replay
