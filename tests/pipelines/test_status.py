"""``pipelines.status``: coverage, gaps, quarantine, runs and freshness computed over a tmp lake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from drydock import lake, ohlcv
from drydock.importers import load_file, write_loaded
from drydock.series import SeriesKey
from pipelines.status import collect_status, last_materializations

BTC = SeriesKey("binance", "BTC/USDT", "1h")
PERP = SeriesKey("bybit", "BTC/USDT:USDT", "8h")
NOW = datetime(2024, 3, 3, 5, 30, tzinfo=UTC)


def hourly(start: datetime, hours: list[int], close: float = 100.0) -> pl.DataFrame:
    ts = [start + timedelta(hours=h) for h in hours]
    n = len(ts)
    return pl.DataFrame(
        {
            "ts": ts,
            "open": [close] * n,
            "high": [close + 1] * n,
            "low": [close - 1] * n,
            "close": [close] * n,
            "volume": [1.0] * n,
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


@pytest.fixture
def filled(home: Path, tmp_path: Path) -> Path:
    """BTC 1h: 2024-03-01 00:00 .. 03-03 02:00 with 3 missing hours and 2 bad rows; a perp's mark bars."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    hours = [h for h in range(51) if h not in (10, 11, 30)]
    bad = hourly(start, [5, 6]).with_columns(high=pl.lit(50.0))  # high below open: quarantined
    ohlcv.write_bars(BTC, pl.concat([hourly(start, hours), bad]), mode="merge")
    marks = hourly(start, [0, 8, 16, 24], 200.0).with_columns(
        pl.col("ts").dt.replace_time_zone("UTC")
    )
    ohlcv.write_bars(PERP, marks, dataset="mark_prices")
    source = tmp_path / "extra.csv"
    source.write_text(
        "timestamp,open,high,low,close,volume\nsoon,1,2,0.5,1.5,1\n2024-03-03 03:00:00,100,101,99,100,1\n"
    )
    write_loaded(load_file(source, timeframe="1h"), BTC)  # one more bar and one parse error
    return home / "lake"


def test_status_counts_rows_gaps_quarantine_and_freshness(filled: Path) -> None:
    rows = collect_status(NOW)
    assert [(r.key, r.dataset) for r in rows] == [
        (BTC, "ohlcv"),
        (PERP, "mark_prices"),
    ]
    btc, perp = rows
    assert btc.to_json() == {
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "timeframe": "1h",
        "dataset": "ohlcv",
        "rows": 49,  # 48 good hours of 00:00..02:00 (51 - 3 missing) + 03:00 from the import
        "first_bar": "2024-03-01T00:00:00+00:00",
        "last_bar": "2024-03-03T03:00:00+00:00",
        "gaps": 3,
        "outliers": 0,
        "quarantined": 3,  # two bad rows + one unparseable import row
        "last_materialization": None,
        "lag_seconds": 5400,  # the 03:00 bar closed at 04:00, 1.5 h before NOW
        "stale": False,
        "in_lake": True,
        "error": None,
    }
    assert (perp.rows, perp.gaps, perp.quarantined) == (4, 0, 0)
    assert perp.last_bar == datetime(2024, 3, 2, tzinfo=UTC)
    assert perp.lag == timedelta(hours=21, minutes=30) and not perp.stale  # 2 of 8h bars behind
    later = collect_status(NOW + timedelta(hours=3), exchange="bybit")[0]
    assert later.lag == timedelta(hours=24, minutes=30) and later.stale  # 3 bars behind


def test_filters_catalog_series_and_materializations(filled: Path) -> None:
    eth = SeriesKey("binance", "ETH/USDT", "1h")
    ran = datetime(2024, 3, 3, 4, 1, tzinfo=UTC)
    rows = collect_status(
        NOW,
        exchange="binance",
        catalog=[BTC, eth],
        materialized={"ohlcv": {BTC: ran}, "mark_prices": {PERP: ran}},
    )
    assert [(r.key, r.in_lake, r.rows, r.stale) for r in rows] == [
        (BTC, True, 49, False),
        (eth, False, 0, True),
    ]
    assert rows[0].last_materialization == ran and rows[1].to_json()["last_bar"] is None
    assert collect_status(NOW, symbol="BTC/USDT:USDT")[0].dataset == "mark_prices"
    assert collect_status(NOW, timeframe="4h") == []
    stale_later = collect_status(NOW + timedelta(hours=2), exchange="binance")[0]
    assert (stale_later.lag, stale_later.stale) == (timedelta(hours=3, minutes=30), True)


def test_a_corrupt_file_is_reported_not_raised(filled: Path) -> None:
    path = lake.partition_files("ohlcv", BTC.keys(), filled)[0]
    path.write_bytes(path.read_bytes()[:100])
    btc = collect_status(NOW, exchange="binance")[0]
    assert btc.error is not None and str(path) in btc.error and "drydock ingest" in btc.error
    assert (btc.rows, btc.stale, btc.quarantined) == (0, True, 3)


@pytest.mark.integration
def test_last_materializations_from_a_dagster_instance(home: Path) -> None:
    from dagster import (
        AssetKey,
        AssetMaterialization,
        DagsterInstance,
        MetadataValue,
        MultiPartitionKey,
    )

    with DagsterInstance.ephemeral() as instance:
        for day in ("2024-03-01", "2024-03-02"):
            key = MultiPartitionKey({"date": day, "series": "binance:BTC/USDT:USDT:1h"})
            instance.report_runless_asset_event(AssetMaterialization("ohlcv", partition=key))
        daily = AssetMaterialization(
            "ohlcv",
            partition="2024-03-01",
            metadata={"series": MetadataValue.json({"kraken:ETH/USD:1d": {"files": 1}})},
        )
        instance.report_runless_asset_event(daily)
        instance.report_runless_asset_event(AssetMaterialization("other", partition="x|a:b:1h"))
        records = instance.fetch_materializations(AssetKey("ohlcv"), limit=10).records
        found = last_materializations(instance)
    newest = {r.partition_key: datetime.fromtimestamp(r.timestamp, UTC) for r in records}
    assert found == {
        SeriesKey("binance", "BTC/USDT:USDT", "1h"): newest["2024-03-02|binance:BTC/USDT:USDT:1h"],
        SeriesKey("kraken", "ETH/USD", "1d"): newest["2024-03-01"],
    }
