"""The bundled sample: the spot series, the BTC/USDT:USDT perp and its funding history."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from drydock.errors import DataNotFoundError
from drydock.funding import FUNDING_SCHEMA
from drydock.ohlcv import BAR_SCHEMA, SeriesKey
from drydock.sample import (
    read_sample,
    read_sample_funding,
    sample_days,
    sample_funding_path,
    sample_funding_series,
    sample_series,
)
from drydock.settings import get_settings

PERP = SeriesKey("binance", "BTC/USDT:USDT", "1h")


def test_the_perp_is_bundled_next_to_the_spot_series() -> None:
    assert [str(k) for k in sample_series()] == [
        "binance BTC/USDT 1h",
        "binance BTC/USDT:USDT 1h",
        "binance ETH/USDT 1h",
        "binance SOL/USDT 1h",
    ]


def test_perp_bars_cover_the_first_quarter_of_2024_without_gaps() -> None:
    bars = read_sample(PERP)
    assert bars.schema == pl.Schema(BAR_SCHEMA)
    assert bars.height == 91 * 24
    assert bars["ts"][0] == datetime(2024, 1, 1, tzinfo=UTC)
    assert bars["ts"][-1] == datetime(2024, 3, 31, 23, tzinfo=UTC)
    assert bars["ts"].diff().drop_nulls().unique().dt.total_hours().to_list() == [1]
    assert bars.row(0)[1:] == (42314.0, 42603.2, 42289.6, 42503.5, 8459.477)
    assert len(sample_days(PERP)) == 91


def test_funding_sample_numbers() -> None:
    assert sample_funding_series() == [("binance", "BTC/USDT:USDT")]
    frame = read_sample_funding("binance", "BTC/USDT:USDT")
    assert frame.schema == pl.Schema(FUNDING_SCHEMA)
    assert frame.height == 273  # 91 days x 3 funding times
    assert frame.row(0) == (datetime(2024, 1, 1, tzinfo=UTC), 0.00037409, 8.0, 42313.9)
    last = frame.row(-1)
    assert last[0] == datetime(2024, 3, 31, 16, 0, 0, 1000, tzinfo=UTC)  # Binance's +1 ms stamp
    assert last[1:] == (0.00040301, 8.0, 70446.1)
    assert frame["interval_hours"].unique().to_list() == [8.0]


def test_funding_window_is_start_inclusive_end_exclusive() -> None:
    frame = read_sample_funding(
        "binance",
        "BTC/USDT:USDT",
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2024, 2, 2, 8, tzinfo=UTC),
    )
    # Binance stamps some events a few ms after the hour (16:00:00.002 here); kept as published.
    assert [t.replace(microsecond=0) for t in frame["ts"].to_list()] == [
        datetime(2024, 2, 1, 0, tzinfo=UTC),
        datetime(2024, 2, 1, 8, tzinfo=UTC),
        datetime(2024, 2, 1, 16, tzinfo=UTC),
        datetime(2024, 2, 2, 0, tzinfo=UTC),
    ]


def test_funding_file_uses_the_lake_encoding() -> None:
    path = sample_funding_path("binance", "BTC/USDT:USDT")
    assert path.parts[-3:] == ("exchange=binance", "symbol=BTC%2FUSDT%3AUSDT", "rates.parquet")


def test_missing_funding_sample_names_what_is_bundled(tmp_path: Path) -> None:
    with pytest.raises(
        DataNotFoundError,
        match=r"No bundled funding sample for binance ETH/USDT:USDT"
        r"\. Bundled: binance BTC/USDT:USDT",
    ):
        read_sample_funding("binance", "ETH/USDT:USDT")
    assert sample_funding_series(tmp_path) == []
    with pytest.raises(DataNotFoundError, match=r"Bundled: none"):
        read_sample_funding("binance", "BTC/USDT:USDT", sample_dir=tmp_path)


def test_a_copied_sample_dir_is_read(tmp_path: Path) -> None:
    shutil.copytree(get_settings().sample_dir / "funding_rates", tmp_path / "funding_rates")
    assert sample_funding_series(tmp_path) == [("binance", "BTC/USDT:USDT")]
    assert read_sample_funding("binance", "BTC/USDT:USDT", sample_dir=tmp_path).height == 273
