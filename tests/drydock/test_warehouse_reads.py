"""Warehouse reads racing a lake writer, and unreadable lake files: DrydockErrors, not DuckDB's."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from drydock import ohlcv, warehouse
from drydock.errors import CorruptDataError, DrydockError
from drydock.sample import read_sample
from drydock.series import SeriesKey

BTC = SeriesKey("binance", "BTC/USDT", "1h")


@pytest.fixture
def one_file(home: Path) -> Path:
    """A lake of two BTC days (one yearly file) with its warehouse views; returns the file."""
    frame = read_sample(BTC)
    days = sorted(set(frame["ts"].dt.date().to_list()))[:2]
    for day in days:
        ohlcv.write_day(BTC, day, frame.filter(pl.col("ts").dt.date() == day))
    warehouse.refresh_views()
    [part] = (home / "lake" / "ohlcv").rglob("part-0.parquet")
    return part


def test_a_reader_retries_while_a_writer_swaps_the_file(
    one_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The glob matched nothing for a moment (the writer's swap); the retry reads the new file."""
    content = one_file.read_bytes()
    one_file.unlink()
    pauses: list[float] = []

    def writer_finishes(seconds: float) -> None:
        pauses.append(seconds)
        one_file.write_bytes(content)

    monkeypatch.setattr(warehouse.time, "sleep", writer_finishes)
    frame = warehouse.coverage()
    assert frame["bars"].to_list() == [48] and len(pauses) == 1


def test_a_series_folder_without_files_is_ingest_in_progress_not_a_duckdb_error(
    one_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: duckdb.IOException 'No files found that match the pattern ...'."""
    one_file.unlink()  # the series folder is there, its file not (yet)
    monkeypatch.setattr(warehouse.time, "sleep", lambda seconds: None)
    with pytest.raises(DrydockError, match=r"^Ingest in progress, retry: ") as caught:
        warehouse.coverage()
    assert "No files found that match the pattern" in str(caught.value)
    assert not isinstance(caught.value, CorruptDataError)


def test_a_truncated_file_is_named_with_its_rebuild_command(one_file: Path) -> None:
    one_file.write_bytes(one_file.read_bytes()[:64])
    with pytest.raises(CorruptDataError) as caught:
        warehouse.coverage()
    message = str(caught.value)
    assert f"The lake file {one_file} is unreadable" in message
    assert "No magic bytes" in message
    assert "`drydock ingest --exchange binance --symbol BTC/USDT --timeframe 1h" in message
