"""Lake writes are atomic and bad rows are quarantined, never written to the lake."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from drydock import lake, ohlcv
from drydock.errors import DataNotFoundError
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample

KEY = SeriesKey("binance", "BTC/USDT", "1h")
DAY = date(2024, 3, 1)


def day_bars(day: date = DAY) -> pl.DataFrame:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return read_sample(KEY).filter(pl.col("ts").dt.date() == day).filter(pl.col("ts") >= start)


def test_write_day_layout_and_roundtrip(home: Path) -> None:
    path, quarantined = ohlcv.write_day(KEY, DAY, day_bars())
    assert quarantined == 0
    assert (
        path
        == home
        / "lake/ohlcv/exchange=binance/symbol=BTC_USDT/timeframe=1h/date=2024-03-01/part-0.parquet"
    )
    back = ohlcv.read(KEY)
    assert back.height == 24
    assert back.equals(day_bars())
    assert ohlcv.available_series() == [KEY]


def test_interrupted_write_keeps_previous_partition(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ohlcv.write_day(KEY, DAY, day_bars())
    original = ohlcv.read(KEY)

    def crash(self: pl.DataFrame, file: object, **kwargs: object) -> None:
        file.write(b"PAR1 half a file")  # type: ignore[attr-defined]
        raise OSError("disk full")

    changed = day_bars().with_columns(pl.col("close") * 2)
    with monkeypatch.context() as patch, pytest.raises(OSError, match="disk full"):
        patch.setattr(pl.DataFrame, "write_parquet", crash)
        ohlcv.write_day(KEY, DAY, changed)
    folder = lake.partition_dir("ohlcv", {**KEY.keys(), "date": DAY.isoformat()})
    assert sorted(p.name for p in folder.iterdir()) == ["part-0.parquet"]  # no temp file left
    assert ohlcv.read(KEY).equals(original)


def test_bad_rows_are_quarantined(home: Path) -> None:
    bars = day_bars()
    broken = pl.concat(
        [
            bars,
            bars.head(1),  # duplicate timestamp
        ]
    ).with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.col("low") * 0.5)
        .otherwise(pl.col("high"))
        .alias("high"),
    )
    path, quarantined = ohlcv.write_day(KEY, DAY, broken)
    assert quarantined == 2
    assert path is not None and pl.read_parquet(path).height == 23
    bad = pl.read_parquet(
        home
        / "lake/_quarantine/ohlcv/exchange=binance/symbol=BTC_USDT/timeframe=1h/date=2024-03-01/part-0.parquet"
    )
    assert sorted(bad["reason"].to_list()) == ["duplicate timestamp", "high below open/close/low"]


def test_bars_outside_the_partition_day_are_rejected(home: Path) -> None:
    two_days = pl.concat([day_bars(), day_bars(date(2024, 3, 2))])
    path, quarantined = ohlcv.write_day(KEY, DAY, two_days)
    assert quarantined == 24
    assert path is not None and pl.read_parquet(path).height == 24


def test_missing_series_error_names_input_and_fix(home: Path) -> None:
    ohlcv.write_day(KEY, DAY, day_bars())
    with pytest.raises(DataNotFoundError) as err:
        ohlcv.read(SeriesKey("binance", "DOGE/USDT", "1h"))
    text = str(err.value)
    assert "binance DOGE/USDT 1h" in text
    assert "binance BTC/USDT 1h" in text  # what the lake holds
    assert "drydock ingest --exchange binance --symbol DOGE/USDT --timeframe 1h" in text


def test_range_read_is_half_open(home: Path) -> None:
    for day in (DAY, date(2024, 3, 2)):
        ohlcv.write_day(KEY, day, day_bars(day))
    frame = ohlcv.read(
        KEY, datetime(2024, 3, 1, 12, tzinfo=UTC), datetime(2024, 3, 2, 6, tzinfo=UTC)
    )
    assert frame.height == 18
    assert frame["ts"][0] == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert frame["ts"][-1] == datetime(2024, 3, 2, 5, tzinfo=UTC)
