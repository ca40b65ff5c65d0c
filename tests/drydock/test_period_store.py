"""Period files: days replaced or merged inside month/year files, locks, corruption, funding."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from drydock import funding, lake, ohlcv, warehouse
from drydock.errors import CorruptDataError, DrydockError
from drydock.series import SeriesKey

M1 = SeriesKey("binance", "BTC/USDT", "1m")
H1 = SeriesKey("binance", "BTC/USDT", "1h")


def bars(start: datetime, count: int, step: str = "1m", price: float = 100.0) -> pl.DataFrame:
    """``count`` valid bars from ``start`` whose close rises by 1 per bar from ``price``."""
    ts = pl.datetime_range(
        start, start + timedelta(days=400), step, time_zone="UTC", eager=True
    ).head(count)
    close = price + np.arange(count, dtype=float)
    return pl.DataFrame(
        {
            "ts": ts,
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": np.ones(count),
        }
    )


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def files(lake_dir: Path, dataset: str = "ohlcv") -> list[str]:
    return sorted(
        str(p.relative_to(lake_dir / dataset)) for p in lake_dir.glob(f"{dataset}/**/*.parquet")
    )


def test_minute_bars_go_to_month_files_hour_bars_to_year_files(tmp_path: Path) -> None:
    report = ohlcv.write_bars(M1, bars(at(date(2024, 1, 31), 23, 0), 120), lake_dir=tmp_path)
    ohlcv.write_bars(H1, bars(at(date(2024, 12, 31), 22), 4, "1h"), lake_dir=tmp_path)
    assert report.rows_written == 120 and report.days == (date(2024, 1, 31), date(2024, 2, 1))
    assert files(tmp_path) == [
        "exchange=binance/symbol=BTC%2FUSDT/timeframe=1h/period=2024/part-0.parquet",
        "exchange=binance/symbol=BTC%2FUSDT/timeframe=1h/period=2025/part-0.parquet",
        "exchange=binance/symbol=BTC%2FUSDT/timeframe=1m/period=2024-01/part-0.parquet",
        "exchange=binance/symbol=BTC%2FUSDT/timeframe=1m/period=2024-02/part-0.parquet",
    ]
    assert ohlcv.read(M1, lake_dir=tmp_path).height == 120
    window = ohlcv.read(M1, at(date(2024, 2, 1)), at(date(2024, 2, 1), 0, 30), lake_dir=tmp_path)
    assert window.height == 30 and window["close"][0] == 160.0


def test_replace_changes_only_the_given_days(tmp_path: Path) -> None:
    three_days = bars(at(date(2024, 3, 1)), 3 * 1440)
    ohlcv.write_bars(M1, three_days, lake_dir=tmp_path)
    before = ohlcv.read(M1, lake_dir=tmp_path)
    fresh = bars(at(date(2024, 3, 2)), 10, price=5000.0)
    report = ohlcv.write_bars(M1, fresh, days=[date(2024, 3, 2)], lake_dir=tmp_path)
    after = ohlcv.read(M1, lake_dir=tmp_path)
    assert report.rows_written == 10 and report.days == (date(2024, 3, 2),)
    assert after.height == 2 * 1440 + 10
    day = pl.col("ts").dt.date()
    for untouched in (date(2024, 3, 1), date(2024, 3, 3)):
        assert after.filter(day == untouched).equals(before.filter(day == untouched))
    assert after.filter(day == date(2024, 3, 2))["close"].to_list() == [
        5000.0 + i for i in range(10)
    ]
    # A requested day with no rows is emptied; rows outside the requested days are quarantined.
    stray = ohlcv.write_bars(
        M1, bars(at(date(2024, 3, 1)), 5), days=[date(2024, 3, 3)], lake_dir=tmp_path
    )
    assert stray.reasons == {"outside requested days": 5} and stray.rows_written == 0
    assert ohlcv.read(M1, lake_dir=tmp_path)["ts"].dt.date().unique().sort().to_list() == [
        date(2024, 3, 1),
        date(2024, 3, 2),
    ]


def test_rewriting_the_same_input_leaves_files_byte_identical_and_untouched(tmp_path: Path) -> None:
    frame = bars(at(date(2024, 5, 30)), 4 * 1440)
    first = ohlcv.write_bars(M1, frame, lake_dir=tmp_path)
    stamps = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in first.files}
    second = ohlcv.write_bars(M1, frame, lake_dir=tmp_path)
    assert second.files == first.files
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in second.files} == stamps


def test_merge_keeps_stored_rows_and_new_rows_win(tmp_path: Path) -> None:
    ohlcv.write_bars(M1, bars(at(date(2024, 3, 1)), 60), lake_dir=tmp_path)
    update = bars(at(date(2024, 3, 1), 0, 30), 60, price=1000.0)  # overlaps the last 30
    report = ohlcv.write_bars(M1, update, mode="merge", lake_dir=tmp_path)
    stored = ohlcv.read(M1, lake_dir=tmp_path)
    assert report.rows_written == 60 and stored.height == 90
    assert stored["close"][29] == 129.0 and stored["close"][30] == 1000.0
    path = report.files[0]
    snapshot = (path.read_bytes(), path.stat().st_mtime_ns)
    ohlcv.write_bars(M1, update, mode="merge", lake_dir=tmp_path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == snapshot


def bad_rows_frame() -> tuple[pl.DataFrame, dict[str, int]]:
    """Four good hourly bars, then one row of every kind of bad input, in arrival order."""
    good = bars(at(date(2024, 3, 1)), 4, "1h")
    t = at(date(2024, 3, 1))
    row = {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.0, "volume": 1.0}
    rows = [
        {**row, "ts": t.replace(hour=5), "close": float("nan")},
        {**row, "ts": t.replace(hour=6), "open": 0.0},
        {**row, "ts": t.replace(hour=7), "low": -1.0},
        {**row, "ts": t.replace(hour=8), "high": 8.0},
        {**row, "ts": t.replace(hour=9), "volume": -5.0},
        {**row, "ts": t.replace(hour=10, minute=30)},  # a +05:30 clock read as UTC
        {**row, "ts": t.replace(hour=2)},  # a timestamp already stored
        {**row, "ts": t.replace(hour=11), "open": float("inf")},
        {**row, "ts": t.replace(hour=12)},
        {**row, "ts": t.replace(hour=12)},  # the same bar delivered twice
    ]
    frame = pl.concat([good, pl.DataFrame(rows).select(good.columns)])
    expected = {
        "non-finite value in close": 1,
        "non-positive price": 2,
        "high below open/close/low": 1,
        "negative volume": 1,
        "timestamp not aligned to 1h": 1,
        "duplicate timestamp": 2,
        "non-finite value in open": 1,
    }
    return frame, expected


def test_every_kind_of_bad_row_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    frame, expected = bad_rows_frame()
    report = ohlcv.write_bars(H1, frame, lake_dir=tmp_path)
    assert report.reasons == expected
    stored = ohlcv.read(H1, lake_dir=tmp_path)
    assert stored["ts"].dt.hour().to_list() == [0, 1, 2, 3, 12]
    kept = ohlcv.quarantined(H1, lake_dir=tmp_path)
    assert kept.height == sum(expected.values())
    assert set(kept["day"].to_list()) == {date(2024, 3, 1)}


def test_out_of_order_rows_are_quarantined_not_sorted_in() -> None:
    t = at(date(2024, 3, 1))
    frame = bars(t, 5, "1h")
    shuffled = pl.concat([frame[2:5], frame[0:2]])  # 02, 03, 04, then 00, 01 arrive late
    good, bad = ohlcv.split_valid(shuffled, "1h")
    assert good["ts"].dt.hour().to_list() == [2, 3, 4]
    assert bad.select(pl.col("ts").dt.hour(), "reason").rows() == [
        (0, "out-of-order timestamp"),
        (1, "out-of-order timestamp"),
    ]


def test_zone_aware_input_is_converted_and_weekly_bars_open_on_monday() -> None:
    berlin = bars(at(date(2024, 3, 1)), 3, "1h").with_columns(
        pl.col("ts").dt.convert_time_zone("Europe/Berlin")
    )
    good, bad = ohlcv.split_valid(berlin, "1h")
    assert bad.height == 0 and good.schema["ts"] == pl.Datetime("us", "UTC")
    assert good["ts"][0] == at(date(2024, 3, 1))
    weeks = bars(at(date(2024, 1, 1)), 2, "1w")  # 2024-01-01 is a Monday
    thursday = bars(at(date(2024, 1, 4)), 1, "1w")
    assert ohlcv.split_valid(weeks, "1w")[1].height == 0
    assert ohlcv.split_valid(thursday, "1w")[1]["reason"].to_list() == [
        "timestamp not aligned to 1w"
    ]


def test_a_clean_rewrite_removes_only_that_days_stale_quarantine(tmp_path: Path) -> None:
    two = bars(at(date(2024, 3, 1)), 48, "1h")
    broken = two.with_columns(
        pl.when(pl.col("ts").dt.hour() == 5).then(-1.0).otherwise(pl.col("volume")).alias("volume")
    )
    ohlcv.write_bars(H1, broken, lake_dir=tmp_path)
    assert ohlcv.quarantined(H1, lake_dir=tmp_path)["day"].to_list() == [
        date(2024, 3, 1),
        date(2024, 3, 2),
    ]
    ohlcv.write_bars(H1, two.filter(pl.col("ts").dt.day() == 1), lake_dir=tmp_path)
    assert ohlcv.quarantined(H1, lake_dir=tmp_path)["day"].to_list() == [date(2024, 3, 2)]


def test_rows_without_any_timestamp_are_an_error(tmp_path: Path) -> None:
    frame = bars(at(date(2024, 3, 1)), 2, "1h").with_columns(
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("ts")
    )
    with pytest.raises(DrydockError, match="None of the 2 rows"):
        ohlcv.write_bars(H1, frame, lake_dir=tmp_path)
    assert not (tmp_path / "ohlcv").exists()


WRITER = """
import sys
from datetime import date
from pathlib import Path
sys.path.insert(0, {tests!r})
from tests.drydock.test_period_store import M1, at, bars
from drydock import ohlcv
day = date.fromisoformat(sys.argv[1])
for _ in range(8):
    ohlcv.write_bars(M1, bars(at(day), 1440), days=[day], lake_dir=Path(sys.argv[2]))
"""


@pytest.mark.integration
def test_two_processes_writing_days_of_one_month_lose_nothing(tmp_path: Path) -> None:
    script = WRITER.format(tests=str(Path(__file__).parents[2]))
    days = [date(2024, 3, d) for d in (1, 2, 3)]
    procs = [
        subprocess.Popen([sys.executable, "-c", script, day.isoformat(), str(tmp_path)])
        for day in days
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    stored = ohlcv.read(M1, lake_dir=tmp_path)
    assert stored.height == 3 * 1440
    assert stored["ts"].dt.date().unique().sort().to_list() == days


def test_truncated_file_is_named_with_the_rebuild_command(tmp_path: Path) -> None:
    report = ohlcv.write_bars(H1, bars(at(date(2024, 3, 1)), 24, "1h"), lake_dir=tmp_path)
    path = report.files[0]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptDataError) as err:
        ohlcv.read(H1, lake_dir=tmp_path)
    text = str(err.value)
    assert str(path) in text and "\n" not in text
    assert (
        "drydock ingest --exchange binance --symbol BTC/USDT --timeframe 1h --start 2024-01-01 "
        "--end 2025-01-01" in text
    )
    # The rebuild replaces the unreadable file and keeps it aside for inspection.
    ohlcv.write_bars(H1, bars(at(date(2024, 3, 1)), 24, "1h"), lake_dir=tmp_path)
    assert ohlcv.read(H1, lake_dir=tmp_path).height == 24
    assert path.with_name("part-0.parquet.corrupt").exists()


def test_a_file_with_invalid_rows_written_outside_drydock_is_refused(tmp_path: Path) -> None:
    report = ohlcv.write_bars(H1, bars(at(date(2024, 3, 1)), 24, "1h"), lake_dir=tmp_path)
    path = report.files[0]
    tampered = pl.read_parquet(path).with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(float("nan"))
        .otherwise(pl.col("close"))
        .alias("close")
    )
    lake.atomic_write_parquet(tampered, path)
    with pytest.raises(CorruptDataError, match=r"holds 1 invalid or out-of-order bar"):
        ohlcv.read(H1, lake_dir=tmp_path)


def test_mark_prices_are_their_own_dataset(tmp_path: Path) -> None:
    perp = SeriesKey("binance", "BTC/USDT:USDT", "1h")
    ohlcv.write_bars(
        perp, bars(at(date(2024, 3, 1)), 5, "1h"), dataset="mark_prices", lake_dir=tmp_path
    )
    assert ohlcv.read(perp, dataset="mark_prices", lake_dir=tmp_path).height == 5
    assert ohlcv.available_series(tmp_path, dataset="mark_prices") == [perp]
    assert ohlcv.available_series(tmp_path) == []
    with pytest.raises(DrydockError, match="Unknown bar dataset 'marks'"):
        ohlcv.read(perp, dataset="marks", lake_dir=tmp_path)


def funding_rows() -> pl.DataFrame:
    t = at(date(2024, 12, 31))
    return pl.DataFrame(
        {
            "ts": [
                t,
                t.replace(hour=8),
                t.replace(hour=16),
                t + timedelta(days=1),
                t.replace(hour=8),
            ],
            "rate": [0.0001, -0.0002, float("nan"), 0.0003, 0.0005],
            "interval_hours": [8.0, 8.0, 8.0, 8.0, 8.0],
            "mark_price": [42000.0, None, 42100.0, 43000.0, 1.0],
        }
    )


def test_funding_rates_round_trip_with_annualized_rate_and_quarantine(tmp_path: Path) -> None:
    report = funding.write_funding("binance", "BTC/USDT:USDT", funding_rows(), lake_dir=tmp_path)
    assert report.rows_written == 3
    assert report.reasons == {"non-finite rate": 1, "duplicate timestamp": 1}
    assert files(tmp_path, "funding_rates") == [
        "exchange=binance/symbol=BTC%2FUSDT%3AUSDT/period=2024/part-0.parquet",
        "exchange=binance/symbol=BTC%2FUSDT%3AUSDT/period=2025/part-0.parquet",
    ]
    back = funding.read_funding("binance", "btc/usdt:usdt", lake_dir=tmp_path)
    assert back["rate"].to_list() == [0.0001, -0.0002, 0.0003]
    assert back["annualized"].to_list() == pytest.approx([0.1095, -0.219, 0.3285])
    assert back["mark_price"].to_list() == [42000.0, None, 43000.0]


def test_warehouse_views_cover_bars_mark_prices_and_funding(home: Path) -> None:
    perp = SeriesKey("binance", "BTC/USDT:USDT", "1h")
    ohlcv.write_bars(perp, bars(at(date(2024, 3, 1)), 30, "1h"))
    ohlcv.write_bars(perp, bars(at(date(2024, 3, 1)), 30, "1h", price=99.0), dataset="mark_prices")
    funding.write_funding("binance", "BTC/USDT:USDT", funding_rows())
    with duckdb.connect(str(warehouse.refresh_views()), read_only=True) as con:
        assert con.sql("SELECT count(*), count(DISTINCT date) FROM ohlcv").fetchone() == (30, 2)
        assert con.sql("SELECT min(close) FROM mark_prices").fetchone() == (99.0,)
        rows = con.sql(
            "SELECT symbol, round(sum(annualized), 4) FROM funding_rates GROUP BY 1"
        ).fetchall()
        assert rows == [("BTC/USDT:USDT", 0.2190)]
        assert con.sql("SELECT days, bars FROM ohlcv_coverage").fetchone() == (2, 30)


def test_empty_lake_views_exist_with_their_columns(home: Path) -> None:
    with duckdb.connect(str(warehouse.refresh_views()), read_only=True) as con:
        for view in ("ohlcv", "mark_prices", "funding_rates"):
            assert con.sql(f"SELECT count(*) FROM {view}").fetchone() == (0,)
        assert "annualized" in con.sql("SELECT * FROM funding_rates").columns
    assert os.path.exists(warehouse.refresh_views())


def test_files_of_the_earlier_day_layout_are_refused_with_the_fix(tmp_path: Path) -> None:
    day_file = lake.partition_dir("ohlcv", {**H1.keys(), "date": "2024-03-01"}, tmp_path)
    lake.atomic_write_parquet(bars(at(date(2024, 3, 1)), 24, "1h"), day_file / lake.PART_FILE)
    with pytest.raises(CorruptDataError) as err:
        ohlcv.read(H1, lake_dir=tmp_path)
    text = str(err.value)
    assert "earlier one-file-per-day layout" in text and "date=2024-03-01" in text
    assert f"Move {tmp_path} aside and rebuild it with `drydock ingest`" in text
    with pytest.raises(CorruptDataError, match="one-file-per-day"):
        ohlcv.write_bars(H1, bars(at(date(2024, 3, 2)), 24, "1h"), lake_dir=tmp_path)
