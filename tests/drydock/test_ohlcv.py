"""Bar validation, empty-window errors and quarantine upkeep of drydock.ohlcv."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from drydock import lake, ohlcv
from drydock.errors import DataNotFoundError
from drydock.ohlcv import SeriesKey
from drydock.quality import check_bars
from drydock.sample import read_sample

KEY = SeriesKey("binance", "BTC/USDT", "1h")
DAY = date(2024, 3, 1)
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def day_bars(day: date = DAY) -> pl.DataFrame:
    return read_sample(KEY).filter(pl.col("ts").dt.date() == day)


def bar(hour: int, price: float, **overrides: float | None) -> dict[str, object]:
    row: dict[str, object] = {
        "ts": T0.replace(hour=hour),
        "open": price,
        "high": price + 1,
        "low": price - 1,
        "close": price,
        "volume": 10.0,
    }
    return row | overrides


@pytest.mark.parametrize("column", ["open", "high", "low", "close", "volume"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), None])
def test_non_finite_values_are_quarantined(column: str, value: float | None) -> None:
    frame = pl.DataFrame([bar(0, 100.0), bar(1, 100.0, **{column: value})])
    good, bad = ohlcv.split_valid(frame, "1h")
    assert good.height == 1 and good["ts"][0] == T0
    assert bad["reason"].to_list() == [f"non-finite value in {column}"]
    quality = check_bars(frame, "1h")
    assert (quality.bars, quality.invalid) == (2, 1)


def test_non_finite_bar_never_lands_in_the_lake(home: Path) -> None:
    frame = day_bars().with_columns(
        pl.when(pl.int_range(pl.len()) == 5)
        .then(float("nan"))
        .otherwise(pl.col("volume"))
        .alias("volume")
    )
    path, quarantined = ohlcv.write_day(KEY, DAY, frame)
    assert quarantined == 1
    assert path is not None
    stored = pl.read_parquet(path)
    assert stored.height == 23
    assert check_bars(stored, "1h").invalid == 0


@pytest.mark.parametrize("first_close", [90.0, 110.0])
def test_first_arriving_duplicate_is_kept_whatever_the_values(first_close: float) -> None:
    second_close = 200.0 - first_close
    rows = [bar(0, 100.0), bar(1, first_close), bar(1, second_close), bar(2, 100.0)]
    good, bad = ohlcv.split_valid(pl.DataFrame(rows), "1h")
    assert good["ts"].to_list() == [T0.replace(hour=h) for h in (0, 1, 2)]
    assert good.filter(pl.col("ts") == T0.replace(hour=1))["close"].item() == first_close
    assert bad.select("close", "reason").rows() == [(second_close, "duplicate timestamp")]


def test_many_duplicates_keep_arrival_order() -> None:
    """Large enough that an unstable parallel sort would reorder equal keys."""
    n = 20_000
    frame = pl.DataFrame(
        {
            "ts": [T0.replace(hour=i % 24) for i in range(n)],
            "open": [100.0] * n,
            "high": [101.0] * n,
            "low": [99.0] * n,
            "close": [100.0] * n,
            "volume": [float(i) for i in range(n)],
        }
    )
    good, bad = ohlcv.split_valid(frame, "1h")
    assert good["volume"].to_list() == [float(i) for i in range(24)]
    assert bad.height == n - 24


def test_invalid_first_row_does_not_shadow_a_valid_duplicate() -> None:
    rows = [bar(0, 100.0, volume=float("nan")), bar(0, 105.0)]
    good, bad = ohlcv.split_valid(pl.DataFrame(rows), "1h")
    assert good["close"].to_list() == [105.0]
    assert bad["reason"].to_list() == ["non-finite value in volume"]


def test_clean_reingest_removes_stale_quarantine(home: Path) -> None:
    partition = {**KEY.keys(), "period": "2024"}
    quarantine = lake.partition_dir(ohlcv.QUARANTINE, partition) / lake.PART_FILE
    broken = day_bars().with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(float("inf"))
        .otherwise(pl.col("high"))
        .alias("high")
    )
    assert ohlcv.write_day(KEY, DAY, broken)[1] == 1
    assert quarantine.exists()
    path, quarantined = ohlcv.write_day(KEY, DAY, day_bars())
    assert quarantined == 0 and path is not None and pl.read_parquet(path).height == 24
    assert not quarantine.exists()
    assert not quarantine.parent.exists()


def test_stale_quarantine_survives_a_failed_clean_write(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partition = {**KEY.keys(), "period": "2024"}
    quarantine = lake.partition_dir(ohlcv.QUARANTINE, partition) / lake.PART_FILE
    broken = day_bars().with_columns(pl.lit(-1.0).alias("volume"))
    ohlcv.write_day(KEY, DAY, broken)
    assert quarantine.exists()

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lake, "atomic_write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        ohlcv.write_day(KEY, DAY, day_bars())
    assert quarantine.exists()


def test_empty_window_names_series_window_holdings_and_fix(home: Path) -> None:
    for day in (DAY, date(2024, 3, 2)):
        ohlcv.write_day(KEY, day, day_bars(day))
    # The file of 2024-03-02 is read for a window starting on 2024-03-03: rows, but none inside.
    with pytest.raises(DataNotFoundError) as err:
        ohlcv.read(KEY, datetime(2024, 3, 3, tzinfo=UTC), datetime(2024, 3, 5, tzinfo=UTC))
    text = str(err.value)
    assert "\n" not in text
    assert text == (
        "No OHLCV bars for binance BTC/USDT 1h in 2024-03-03 00:00 UTC .. 2024-03-05 00:00 UTC "
        "(end exclusive); the lake holds 2024-03-01 00:00 UTC .. 2024-03-02 23:00 UTC (48 bars) "
        "for binance BTC/USDT 1h. Fill it with `drydock ingest --exchange binance --symbol "
        "BTC/USDT --timeframe 1h --start 2024-03-03 --end 2024-03-05`, or pick a window inside "
        "what it holds."
    )


def test_open_ended_window_past_the_data(home: Path) -> None:
    ohlcv.write_day(KEY, DAY, day_bars())
    with pytest.raises(DataNotFoundError, match=r"2025-01-01 00:00 UTC \.\. the last bar") as err:
        ohlcv.read(KEY, datetime(2025, 1, 1, tzinfo=UTC))
    assert "--start 2025-01-01`" in str(err.value)


def test_require_bars_reports_shortfall(home: Path) -> None:
    ohlcv.write_day(KEY, DAY, day_bars())
    start, end = T0, T0.replace(hour=10)
    frame = ohlcv.read(KEY, start, end)
    ohlcv.require_bars(frame, KEY, start, end, 10, "ema_cross (warm-up 9 + 1)")
    with pytest.raises(DataNotFoundError) as err:
        ohlcv.require_bars(frame, KEY, start, end, 51, "ema_cross (warm-up 50 + 1)")
    text = str(err.value)
    assert text.startswith(
        "Only 10 OHLCV bars but ema_cross (warm-up 50 + 1) needs at least 51 for "
        "binance BTC/USDT 1h in 2024-03-01 00:00 UTC .. 2024-03-01 10:00 UTC (end exclusive); "
        "the lake holds 2024-03-01 00:00 UTC .. 2024-03-01 23:00 UTC (24 bars)"
    )
    assert "--start 2024-03-01 --end 2024-03-02`" in text


@pytest.mark.parametrize("days", [0, -3])
def test_a_window_that_ends_before_it_starts_says_so(btc_lake: SeriesKey, days: int) -> None:
    """start >= end is named as an inverted window, not as missing data with a nonsense fix."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    with pytest.raises(DataNotFoundError, match="is empty: the start must be before the end"):
        ohlcv.read(btc_lake, start, start + timedelta(days=days))
