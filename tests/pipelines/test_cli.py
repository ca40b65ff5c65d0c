"""``drydock ingest`` registered on a fresh Typer app: help, a real run, one-paragraph errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from drydock.errors import DrydockError
from drydock.ohlcv import SeriesKey
from pipelines.cli import days_covering, register, select_series

pytestmark = pytest.mark.integration


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def root() -> None:
        """Test root."""

    register(app)
    return app


def test_help_lists_every_option(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["ingest", "--help"], terminal_width=120)
    assert result.exit_code == 0
    for option in ("--exchange", "-e", "--symbol", "-s", "--timeframe", "-t", "--start", "--end"):
        assert option in result.output
    assert "Load OHLCV bars (and perps' funding and mark prices)" in " ".join(result.output.split())


@pytest.mark.integration
def test_ingest_command_writes_the_lake_and_prints_the_report(app: typer.Typer, home: Path) -> None:
    args = ["ingest", "-s", "btc/usdt", "--start", "2024-03-01", "--end", "2024-03-03"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "binance BTC/USDT 1h" in result.output
    assert "48" in result.output and "PASS" in result.output
    assert len(list((home / "lake" / "ohlcv").rglob("*.parquet"))) == 1  # one yearly file


def test_perp_row_shows_its_funding(app: typer.Typer, home: Path) -> None:
    args = ["ingest", "-s", "BTC/USDT:USDT", "--start", "2024-03-01", "--end", "2024-03-02"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    [row] = [line for line in result.output.splitlines() if line.startswith("│ binance")]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells == ["binance BTC/USDT:USDT 1h", "1", "24", "0", "3", "PASS"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--symbol", "DOGE/USDT"],
            r"Unknown --symbol 'DOGE/USDT'. Valid choices: BTC/USDT, BTC/USDT:USDT, ETH/USDT, "
            r"SOL/USDT. The enabled series of the catalog .*series.toml are: binance BTC/USDT 1h",
        ),
        (["--exchange", "kraken"], r"Unknown --exchange 'kraken'. Valid choices: binance\."),
        (["--timeframe", "4h"], r"Unknown --timeframe '4h'. Valid choices: 1h\."),
        (["--timeframe", "hourly"], r"Invalid timeframe 'hourly'"),
        (["--start", "2024-02-30"], r"--start '2024-02-30' is not an ISO date or datetime"),
        (["--symbol", "BTC_USDT"], r"Invalid symbol 'BTC_USDT': expected the ccxt unified form"),
        (["--symbol", "BTC/[A-Z]*"], r"glob character"),
        (["--source", "csv"], r"Unknown --source 'csv'. Valid choices: ccxt, sample"),
        (["--source", "ccxt", "--symbol", "BTC/USDT", "--timeframe", "7m"], r"'7m'.*1h"),
    ],
)
def test_bad_input_raises_a_drydock_error(
    app: typer.Typer, home: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["ingest", *args])
    assert isinstance(result.exception, DrydockError)
    with pytest.raises(DrydockError, match=message):
        raise result.exception


def test_end_is_exclusive_in_days() -> None:
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    assert days_covering(None, None) == (None, None)
    assert days_covering(at("2024-03-01"), at("2024-03-03")) == (
        date(2024, 3, 1),
        date(2024, 3, 2),
    )
    assert days_covering(at("2024-03-01T23:00"), at("2024-03-02T00:30")) == (
        date(2024, 3, 1),
        date(2024, 3, 2),
    )


def test_filters_and_spellings() -> None:
    assert select_series("sample", None, None, None) is None  # default: the enabled catalog
    assert select_series("ccxt", None, None, "1h") == [
        SeriesKey("binance", s, "1h") for s in ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDT:USDT")
    ]
    assert select_series("sample", "BINANCE", "sol/usdt", "1h") == [
        SeriesKey("binance", "SOL/USDT", "1h")
    ]
    assert select_series("ccxt", None, "BTC/USDT:USDT", None) == [
        SeriesKey("binance", "BTC/USDT:USDT", "1h")
    ]
