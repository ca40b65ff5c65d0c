"""The ``drydock live`` commands through Typer's test runner."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from drydock.cli_options import parse_param_options as parse_params
from drydock.cli_options import parse_when
from drydock.errors import DrydockError
from drydock.ohlcv import SeriesKey
from drydock.settings import Settings
from live.cli import register
from live.journal import SqliteJournal


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.command("noop")(lambda: None)  # a root with one command keeps `live` a subcommand
    register(root)
    return root


REPLAY = ["live", "replay", "ema_cross", "-s", "btc/usdt", "-t", "1h", "-e", "Binance"]


def test_replay_prints_a_summary(app: typer.Typer, lake: SeriesKey, settings: Settings) -> None:
    result = CliRunner().invoke(
        app, [*REPLAY, "--param", "fast=5", "--param", "slow=20", "--cash", "5000"]
    )
    assert result.exit_code == 0, result.output
    for label in ("paper replay", "intents", "allowed / denied", "final equity", "sharpe"):
        assert label in result.output
    with SqliteJournal(settings.journal_path) as j:
        [summary] = j.runs()
    assert summary.run.run_id in result.output
    assert (summary.run.symbol, summary.run.venue) == ("BTC/USDT", "binance")  # canonicalized


def test_replay_surfaces_user_errors(app: typer.Typer, lake: SeriesKey) -> None:
    cases = [
        (["--param", "fast"], "Malformed --param 'fast'"),
        (["--param", "fast=5", "--param", "fast=6"], "given twice"),
        (["--param", "fats=5"], "Unknown parameter 'fats'"),
        (["--start", "yesterday"], "--start 'yesterday' is not an ISO date"),
        (["-s", "BTC/USDT*"], "glob character"),
    ]
    for extra, message in cases:
        result = CliRunner().invoke(app, [*REPLAY, *extra])
        assert isinstance(result.exception, DrydockError), (extra, result.output)
        assert message in str(result.exception)
    result = CliRunner().invoke(app, ["live", "replay", "nope", "--symbol", "BTC/USDT"])
    assert isinstance(result.exception, DrydockError)
    assert "Unknown strategy 'nope'" in str(result.exception)


def test_kill_and_resume_toggle_the_file_and_journal_it(
    app: typer.Typer, settings: Settings
) -> None:
    result = CliRunner().invoke(app, ["live", "kill", "--reason", "drill"])
    assert result.exit_code == 0, result.output
    assert settings.kill_file.exists()
    result = CliRunner().invoke(app, ["live", "resume"])
    assert result.exit_code == 0 and "released" in result.output
    assert not settings.kill_file.exists()
    with SqliteJournal(settings.journal_path) as j:
        events = j.events(scope="global")
    assert [e.kind for e in events] == ["kill", "resume"]
    assert events[0].detail == {"reason": "drill"}


def test_kill_from_another_directory_lands_under_home(
    app: typer.Typer, lake: SeriesKey, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CliRunner().invoke(app, [*REPLAY, "--run-id", "drill-run"]).exit_code == 0
    with SqliteJournal(home / "live" / "journal.sqlite") as journal:
        unfinished = journal.runs(unfinished_only=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(app, ["live", "kill"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    kill_file = home.resolve() / "live" / "KILL"
    assert kill_file.exists() and not (elsewhere / "data").exists()
    assert f"kill switch engaged: {kill_file}" in result.output
    assert unfinished == []  # a replay that ran to its last bar journals run_finished
    assert f"no unfinished runs in {home.resolve() / 'live' / 'journal.sqlite'}" in result.output


def test_kill_names_each_unfinished_run(app: typer.Typer, home: Path) -> None:
    from datetime import UTC, datetime

    from live.journal import RunRecord

    with SqliteJournal(home / "live" / "journal.sqlite") as journal:
        for run_id in ("run-a", "run-b"):
            record = RunRecord(
                run_id, "ema_cross", {"fast": 12}, "paper", "paper", "BTC/USDT", "1h", "1", "h"
            )
            journal.start_run(record)
        journal.record_event("run_finished", "run-b", {}, datetime.now(UTC))
    result = CliRunner().invoke(app, ["live", "kill"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "reaches unfinished run run-a (ema_cross paper paper BTC/USDT 1h" in result.output
    assert "run-b" not in result.output


def test_kill_journals_when_the_kill_file_cannot_be_written(
    app: typer.Typer, settings: Settings
) -> None:
    """Before: a PermissionError/IsADirectoryError traceback, exit 1, and no journaled kill."""
    settings.kill_file.mkdir(parents=True)  # unwritable as a file, even for root
    result = CliRunner().invoke(app, ["live", "kill", "--reason", "drill"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert result.exception is None
    assert "kill file NOT written: IsADirectoryError" in result.output
    assert f"kill journaled in {settings.journal_path}" in result.output
    with SqliteJournal(settings.journal_path) as j:
        [event] = j.events(scope="global")
    assert (event.kind, event.detail) == ("kill", {"reason": "drill"})


def test_kill_file_is_written_when_the_journal_cannot_open(
    app: typer.Typer, settings: Settings
) -> None:
    settings.journal_path.mkdir(parents=True)  # SQLite cannot open a directory
    result = CliRunner().invoke(app, ["live", "kill", "--reason", "drill"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert settings.kill_file.read_text(encoding="utf-8").endswith(" drill\n")
    assert f"kill switch engaged: {settings.kill_file}" in result.output
    assert f"kill NOT journaled in {settings.journal_path}" in result.output


def test_kill_fails_only_when_no_channel_took(
    app: typer.Typer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(self: Path, *args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", denied)
    settings.journal_path.mkdir(parents=True)
    result = CliRunner().invoke(app, ["live", "kill"], env={"COLUMNS": "300"})
    assert result.exit_code != 0
    assert isinstance(result.exception, DrydockError)
    message = str(result.exception)
    assert message.startswith("Kill switch NOT engaged")
    assert "PermissionError" in message and str(settings.kill_file) in message
    assert str(settings.journal_path) in message and "drydock live kill" in message


def test_parsers() -> None:
    assert parse_params(["fast=5", " slow = 20 "]) == {"fast": "5", "slow": "20"}
    with pytest.raises(DrydockError, match="name=value"):
        parse_params(["=5"])
    when = parse_when("2024-01-02", "--start")
    assert when is not None and when.isoformat() == "2024-01-02T00:00:00+00:00"
    when = parse_when("2024-01-02T03:00:00+02:00", "--end")
    assert when is not None and when.hour == 1
    assert parse_when(None, "--end") is None


def test_replay_with_engine_rules_equals_drydock_simulate(
    app: typer.Typer, lake: SeriesKey, settings: Settings
) -> None:
    """The same rules on both commands give the same run: `live replay` keeps the book with
    the engine's model, every order through the policy."""
    from drydock.cli_options import EngineOptions
    from drydock.execution import ExecutionModel
    from drydock.markets import instrument_for
    from drydock.ohlcv import read
    from research.engine import run_backtest
    from strategies import get_strategy

    rules = ["--allow-short", "--stop-loss", "0.01", "--trailing-stop", "0.015",
             "--scale-out", "0.006:0.5,0.012:0.25"]  # fmt: skip
    argv = ["live", "replay", "ema_long_short", "-s", "BTC/USDT", "--param", "fast=5",
            "--param", "slow=20", *rules]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    execution = ExecutionModel()
    instrument = instrument_for("binance", "BTC/USDT", execution.overrides())
    cfg = EngineOptions(allow_short=True, stop_loss=0.01, trailing_stop=0.015,
                        scale_out="0.006:0.5,0.012:0.25").config(
        execution, float(instrument.lot_size), float(instrument.min_notional))  # fmt: skip
    strategy = get_strategy("ema_long_short")
    frame = read(lake)
    target = strategy.signals(frame, strategy.resolve_params({"fast": 5, "slow": 20}))["target"]
    expected = run_backtest(frame, target.to_numpy(), cfg)
    assert f"{float(expected.equity_values[-1]):,.2f}" in result.output
    with SqliteJournal(settings.journal_path) as j:
        [summary] = j.runs()
        assert len(j.fills(summary.run.run_id)) == expected.order_records.shape[0]
    spot = CliRunner().invoke(app, [*argv[:-7], "--stop-loss", "0.01"])
    assert spot.exit_code != 0 and "allow_short" in str(spot.exception or spot.output)
