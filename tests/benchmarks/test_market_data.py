"""Market-data figures on small inputs: the line's shape, and both sides of each figure agree."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from benchmarks import market_data as md
from benchmarks.data import market_minutes
from drydock import lake, ohlcv, warehouse
from drydock.resample import resample
from drydock.settings import Settings


def test_market_minutes_are_deterministic_valid_bars_with_the_asked_bad_rows() -> None:
    raw = market_minutes(3, 5_000, bad_every=1_000)
    again = market_minutes(3, 5_000, bad_every=1_000)
    assert all(np.array_equal(raw[c], again[c], equal_nan=True) for c in raw)
    assert not np.array_equal(raw["close"], market_minutes(4, 5_000)["close"], equal_nan=True)
    assert datetime.fromtimestamp(raw["ts"][0] / 1000, UTC) == datetime(2024, 1, 1, tzinfo=UTC)
    assert np.all(np.diff(raw["ts"]) == 60_000)
    good, bad = ohlcv.split_valid(md.bars_frame(raw), "1m")
    assert (good.height, bad.height) == (4_995, 5)
    assert set(bad["reason"]) == {"non-finite value in close"}


def test_ingest_ours_and_pandas_write_the_same_rows_and_quarantine(tmp_path: Path) -> None:
    key = md.series_key(7)
    raw = market_minutes(7, 50_000, bad_every=9_999)  # 2024-01-01 .. 02-04: two month files
    report = md.ingest_ours(key, raw, tmp_path / "ours")
    good, bad = md.ingest_pandas(key, raw, tmp_path / "pandas")
    assert (report.rows_written, report.rows_quarantined) == (good, bad) == (49_995, 5)
    assert len(report.days) == 35 and len(report.files) == 2
    ours = ohlcv.read(key, lake_dir=tmp_path / "ours")
    files = lake.partition_files("ohlcv", key.keys(), tmp_path / "pandas")
    assert [lake.partition_values(f)["period"] for f in files] == ["2024-01", "2024-02"]
    theirs = pl.concat([pl.read_parquet(f, hive_partitioning=False) for f in files])
    assert ours.equals(theirs.select(ours.columns))


def test_ingest_figure_shape() -> None:
    figure = json.loads(md.ingest_rows_per_s(instruments=2, rows=3_000).json())
    assert (figure["name"], figure["unit"], figure["n"]) == ("ingest_rows_per_s", "rows/s", 6_000)
    assert figure["value"] > 0 and figure["baseline"] > 0
    assert figure["ratio"] == pytest.approx(figure["value"] / figure["baseline"], abs=0.01)


def test_view_query_returns_exactly_the_series_read(tmp_path: Path) -> None:
    key = md.build_query_lake(tmp_path, rows=100_000, others=2)  # Jan..Mar 2024: three files
    settings = Settings(home=tmp_path)
    assert len(lake.partition_files("ohlcv", key.keys(), settings.lake_dir)) == 3
    with warehouse.connect(settings) as con:
        via_view = md.query_view(con, key)
    direct = ohlcv.read(key, lake_dir=settings.lake_dir)
    assert via_view.height == 100_000 and via_view["ts"].is_sorted()  # no ORDER BY needed
    assert via_view.equals(direct)


def test_query_figure_shape() -> None:
    figure = json.loads(md.query_1y_1m_ms(rows=5_000, repeat=2).json())
    assert (figure["name"], figure["unit"], figure["n"]) == ("query_1y_1m_ms", "ms", 5_000)
    assert figure["value"] > 0 and figure["baseline"] > 0
    # value and baseline are rounded to 0.1 ms in the line (about 1 ms here), the ratio is not
    assert figure["ratio"] == pytest.approx(figure["baseline"] / figure["value"], rel=0.1)


def test_resample_ours_equals_pandas_baseline() -> None:
    frame = md.bars_frame(market_minutes(1, 6_000)).slice(30)  # starts mid-hour: first dropped
    ours = resample(frame, "1h")
    theirs = md.resample_pandas(frame.to_pandas().set_index("ts"))
    assert ours.dropped_incomplete == 1 and ours.frame.height == len(theirs) == 99
    theirs_pl = pl.from_pandas(theirs.reset_index())
    prices = ["ts", "open", "high", "low", "close"]
    assert ours.frame.select(prices).equals(theirs_pl.select(prices))
    # Volume sums agree to float rounding (polars and pandas add in different orders).
    assert ours.frame["volume"].to_list() == pytest.approx(theirs_pl["volume"].to_list(), rel=1e-12)


def test_resample_figure_shape() -> None:
    figure = json.loads(md.resample_rows_per_s(instruments=2, rows=6_000).json())
    assert (figure["name"], figure["unit"], figure["n"]) == (
        "resample_rows_per_s",
        "rows/s",
        12_000,
    )
    assert figure["value"] > 0 and figure["baseline"] > 0
