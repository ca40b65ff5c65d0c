"""The root CLI: commands composed from entry points, help, one-paragraph errors, version, status."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from drydock.cli import COMMANDS_GROUP, STATUS_GROUP, build_app, main
from drydock.ohlcv import SeriesKey


@pytest.fixture
def app() -> typer.Typer:
    return build_app()


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run ``drydock.cli.main`` in process like the console script; return its exit code."""
    monkeypatch.setattr(sys, "argv", ["drydock", *args])
    monkeypatch.setenv("COLUMNS", "200")
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_commands_are_registered_by_package_entry_points() -> None:
    commands = {ep.name: ep.value for ep in entry_points(group=COMMANDS_GROUP)}
    assert commands == {
        "backtest": "research.cli:register",
        "data": "pipelines.data_cli:register",
        "demo": "demo.cli:register",
        "ingest": "pipelines.cli:register",
        "live": "live.cli:register",
        "news": "models.news_cli:register",
        "onchain": "pipelines.onchain_cli:register",
        "policy": "drydock.policy.cli:register",
        "strategies": "strategies.cli:register",
    }
    assert [ep.value for ep in entry_points(group=STATUS_GROUP)] == ["live.cli:status_rows"]


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
        ["status"],
    ],
    ids=lambda c: " ".join(c) or "root",
)
def test_help_explains_every_command(command: list[str], app: typer.Typer) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 5


def test_root_help_lists_commands(app: typer.Typer) -> None:
    out = CliRunner().invoke(app, ["--help"], terminal_width=200).output
    for name in ("ingest", "backtest", "strategies", "live", "demo", "status", "--version"):
        assert name in out


@pytest.mark.parametrize("command", ["backtest", "live replay", "ingest"])
def test_shared_options_have_the_same_flags(command: str, app: typer.Typer) -> None:
    out = CliRunner().invoke(app, [*command.split(), "--help"], terminal_width=200).output
    for flags in (("--exchange", "-e"), ("--symbol", "-s"), ("--timeframe", "-t")):
        assert all(flag in out for flag in flags), (command, flags)
    assert "--start" in out and "--end" in out and "DATE|DATETIME" in out
    if command != "ingest":
        assert "--param" in out and "-p" in out


@pytest.mark.integration
def test_console_script_help_exits_zero(home: Path) -> None:
    env = {**os.environ, "DRYDOCK_HOME": str(home), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "drydock.cli", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "backtest" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["backtest", "ema_crossover"],
            ["Unknown strategy 'ema_crossover'", "Valid choices: copy_wallet, ema_cross"],
        ),
        (["backtest", "ema_cross", "--param", "fast"], ["Malformed --param 'fast'", "name=value"]),
        (["backtest", "ema_cross", "-p", "speed=3"], ["Unknown parameter 'speed'", "fast, slow"]),
        (["backtest", "ema_cross", "--param", "fast=500"], ["fast=", "allowed 2..100"]),
        (["backtest", "ema_cross", "--timeframe", "1x"], ["Invalid timeframe '1x'"]),
        (["backtest", "ema_cross", "--start", "yesterday"], ["--start 'yesterday' is not an ISO"]),
        (["backtest", "ema_cross", "-s", "BTC/*"], ["Invalid symbol 'BTC/*'", "glob character"]),
        (["backtest", "ema_cross", "-s", "BTC/USDT\u200b"], ["U+200B"]),
        (["backtest", "ema_cross", "-e", "bin ance"], ["Invalid exchange", "whitespace"]),
        (["live", "replay", "ema_cross", "--end", "2024-13-01"], ["--end '2024-13-01'"]),
        (["live", "replay", "nope", "-s", "BTC/USDT"], ["Unknown strategy 'nope'"]),
        (["ingest", "--symbol", "DOGE/USDT"], ["DOGE/USDT", "BTC/USDT"]),
        (["ingest", "--start", "2024-03-02", "--end", "2024-03-01"], ["not after --start"]),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) and a and a[0][0].islower() else "",
)
def test_bad_input_is_one_paragraph_without_traceback(
    args: list[str],
    fragments: list[str],
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_main(args, monkeypatch) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    text = " ".join(captured.err.split())
    assert text.startswith("error:"), text
    for fragment in fragments:
        assert fragment in text, text


def test_fill_is_a_fixed_choice(app: typer.Typer, home: Path) -> None:
    result = CliRunner().invoke(app, ["backtest", "ema_cross", "--fill", "open"])
    assert result.exit_code == 2
    assert "next_open" in result.output and "close" in result.output


def test_empty_window_names_the_series(
    btc_lake: SeriesKey, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["backtest", "ema_cross", "-s", "btc/usdt", "--start", "2030-01-01", "--no-track"]
    assert run_main(args, monkeypatch) == 2
    text = " ".join(capsys.readouterr().err.split())
    assert "binance BTC/USDT 1h" in text and "drydock ingest" in text


def test_strategies_lists_params_and_origin(app: typer.Typer, home: Path) -> None:
    out = CliRunner().invoke(app, ["strategies"], terminal_width=200).output
    assert "ema_cross" in out and "fast" in out and "2..100" in out
    assert "entry point ema_cross = strategies.ema_cross:EmaCross" in out


def test_version_prints_the_absolute_home_from_any_directory(
    app: typer.Typer, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(app, ["--version"], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["drydock 0.1.0", f"home {home.resolve()}"]


def test_status_reports_home_lake_kill_switch_and_runs(
    app: typer.Typer, btc_lake: SeriesKey, home: Path
) -> None:
    result = CliRunner().invoke(app, ["status"], terminal_width=400)
    assert result.exit_code == 0, result.output
    out = result.output
    assert str(home.resolve()) in out
    assert "1 series" in out
    assert "off (" in out and "runs" in out
    assert str(home.resolve() / "live" / "journal.sqlite") in out
    (home / "live").mkdir(exist_ok=True)
    (home / "live" / "KILL").write_text("drill\n")
    assert "ENGAGED" in CliRunner().invoke(app, ["status"], terminal_width=400).output


def test_a_broken_entry_point_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from drydock import cli
    from drydock.errors import ConfigError

    broken = EntryPoint("ghost", "ghost_package.cli:register", COMMANDS_GROUP)
    monkeypatch.setattr(cli, "entry_points", lambda group: [broken])
    with pytest.raises(ConfigError) as info:
        build_app()
    message = str(info.value)
    assert "drydock.commands:ghost = ghost_package.cli:register failed to load" in message
    assert "ModuleNotFoundError" in message and "make venv" in message
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    with pytest.raises(ConfigError, match=r"No `drydock\.commands` entry points are installed"):
        build_app()


@pytest.mark.integration
def test_backtest_prints_final_equity_and_fees_and_takes_market_overrides(
    app: typer.Typer, btc_lake: SeriesKey
) -> None:
    from datetime import UTC, datetime

    from drydock.execution import ExecutionModel, FillTiming
    from research.backtest import backtest
    from strategies.registry import get_strategy

    window = ["--end", "2024-02-01", "--no-track"]
    env = {"COLUMNS": "200"}
    end = datetime(2024, 2, 1, tzinfo=UTC)
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params()
    equities = set()
    for extra, execution in (
        ([], ExecutionModel()),
        (["--lot-size", "0.1"], ExecutionModel(lot_size=0.1)),
        (
            ["--fill", "CLOSE", "--fee", "0.002"],
            ExecutionModel(taker_fee=0.002, fill=FillTiming.CLOSE),
        ),
    ):
        result = CliRunner().invoke(app, ["backtest", "ema_cross", *window, *extra], env=env)
        assert result.exit_code == 0, result.output
        direct = backtest(strategy, params, btc_lake, execution, end=end)
        assert direct.orders > 0 and direct.fees_paid > 0
        assert f"final equity {direct.final_equity:,.2f} (started with 10,000.00)" in result.output
        assert f"fees paid {direct.fees_paid:,.2f} over {direct.orders} orders" in result.output
        equities.add(round(direct.final_equity, 2))
    assert len(equities) == 3  # each override changes the outcome
    result = CliRunner().invoke(
        app, ["backtest", "ema_cross", *window, "--min-notional", "1000000"], env=env
    )
    assert "final equity 10,000.00 (started with 10,000.00)" in result.output
    assert "fees paid 0.00 over 0 orders" in result.output


def test_replay_takes_market_overrides(app: typer.Typer, btc_lake: SeriesKey) -> None:
    args = ["live", "replay", "ema_cross", "--end", "2024-02-01", "--min-notional", "1000000"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "fills │ 0 " in text and "final equity │ 10,000.00" in text
