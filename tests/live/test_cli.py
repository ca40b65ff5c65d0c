"""The ``drydock live`` commands through Typer's test runner."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from drydock.cli_options import parse_param_options as parse_params
from drydock.errors import DrydockError
from drydock.ohlcv import SeriesKey
from drydock.settings import Settings
from live.cli import parse_when, register
from live.journal import SqliteJournal


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.command("noop")(lambda: None)  # a root with one command keeps `live` a subcommand
    register(root)
    return root


REPLAY = [
    "live",
    "replay",
    "ema_cross",
    "--symbol",
    "BTC/USDT",
    "--timeframe",
    "1h",
    "--exchange",
    "binance",
]


def test_replay_prints_a_summary(app: typer.Typer, lake: SeriesKey, settings: Settings) -> None:
    result = CliRunner().invoke(
        app, [*REPLAY, "--param", "fast=5", "--param", "slow=20", "--cash", "5000"]
    )
    assert result.exit_code == 0, result.output
    for label in ("paper replay", "intents", "allowed / denied", "final equity", "sharpe"):
        assert label in result.output
    with SqliteJournal(settings.journal_path) as j:
        [run_id] = [r[0] for r in j._conn.execute("SELECT run_id FROM runs")]
    assert run_id in result.output


def test_replay_surfaces_user_errors(app: typer.Typer, lake: SeriesKey) -> None:
    cases = [
        (["--param", "fast"], "Malformed --param 'fast'"),
        (["--param", "fast=5", "--param", "fast=6"], "given twice"),
        (["--param", "fats=5"], "Unknown parameter 'fats'"),
        (["--start", "yesterday"], "--start 'yesterday' is not an ISO date"),
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


def test_parsers() -> None:
    assert parse_params(["fast=5", " slow = 20 "]) == {"fast": "5", "slow": "20"}
    with pytest.raises(DrydockError, match="name=value"):
        parse_params(["=5"])
    when = parse_when("2024-01-02", "--start")
    assert when is not None and when.isoformat() == "2024-01-02T00:00:00+00:00"
    when = parse_when("2024-01-02T03:00:00+02:00", "--end")
    assert when is not None and when.hour == 1
    assert parse_when(None, "--end") is None
