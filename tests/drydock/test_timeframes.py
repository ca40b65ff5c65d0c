"""One spelling per bar duration: ``60m`` and ``1h`` are the same series everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from drydock.errors import DrydockError
from drydock.series import SeriesKey
from drydock.timeframes import canonical_timeframe, timeframe_seconds


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("60m", "1h"),
        ("120m", "2h"),
        ("1440m", "1d"),
        ("24h", "1d"),
        ("48h", "2d"),
        ("60s", "1m"),
        ("3600s", "1h"),
        ("90m", "90m"),
        ("15m", "15m"),
        ("1h", "1h"),
        ("4h", "4h"),
        ("1d", "1d"),
        ("1w", "1w"),
        (" 1h ", "1h"),
    ],
)
def test_equal_durations_have_one_spelling(given: str, canonical: str) -> None:
    assert canonical_timeframe(given) == canonical
    assert timeframe_seconds(canonical) == timeframe_seconds(canonical_timeframe(canonical))


@pytest.mark.parametrize(
    "bad",
    ["0m", "30s", "hourly", "1x", "", "1M", "1h\n", "1\u200bh", "\t1h", "\u0661h", "\uff11h"],
)
def test_malformed_or_sub_minute_timeframes_name_the_input(bad: str) -> None:
    with pytest.raises(DrydockError, match=f"Invalid timeframe {re.escape(repr(bad))}"):
        canonical_timeframe(bad)


def test_padding_spaces_are_stripped_but_control_characters_are_not() -> None:
    assert canonical_timeframe(" 60m ") == "1h"


def test_series_keys_are_canonical() -> None:
    assert SeriesKey("binance", "BTC/USDT", "60m") == SeriesKey("binance", "BTC/USDT", "1h")
    assert SeriesKey("binance", "BTC/USDT", "60m").timeframe == "1h"


@pytest.mark.integration
def test_ingest_with_60m_fills_the_1h_series(home: Path) -> None:
    """Before: ``-t 60m`` was a separate series; its hint then failed with Unknown --timeframe."""
    from pipelines.cli import register

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def root() -> None:
        """Test root."""

    register(app)
    args = ["ingest", "-s", "BTC/USDT", "-t", "60m", "--start", "2024-03-01", "--end", "2024-03-02"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "binance BTC/USDT 1h" in result.output
    folders = {p.name for p in (home / "lake" / "ohlcv").rglob("timeframe=*")}
    assert folders == {"timeframe=1h"}
