"""The ``ohlcv`` asset, its partitioned check and the warehouse views, run by real Dagster."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    DagsterInstance,
    ExecuteInProcessResult,
    materialize,
)

from drydock import lake
from drydock.ohlcv import SeriesKey
from drydock.types import BAR_SCHEMA
from pipelines.assets import ohlcv_asset, warehouse_views
from pipelines.checks import bar_integrity
from pipelines.ingest import RANGE_END_TAG, RANGE_START_TAG
from pipelines.resources import OhlcvSource, SampleOhlcvSource

pytestmark = pytest.mark.integration

BTC = "binance:BTC/USDT:1h"
ETH = "binance:ETH/USDT:1h"
BTC_DIR = "ohlcv/exchange=binance/symbol=BTC%2FUSDT/timeframe=1h"


def run(
    series: list[str] | None,
    first: str,
    last: str | None = None,
    source: OhlcvSource | None = None,
) -> ExecuteInProcessResult:
    """Materialize ohlcv + check + views for one partition or a range, on an ephemeral instance."""
    config: Mapping[str, Any] = {"series": series}
    range_tags = {RANGE_START_TAG: first, RANGE_END_TAG: last} if last else None
    return materialize(
        [ohlcv_asset, warehouse_views, bar_integrity],
        instance=DagsterInstance.ephemeral(),
        resources={"ohlcv_source": source or SampleOhlcvSource()},
        run_config={"ops": {"ohlcv": {"config": config}}},
        partition_key=None if last else first,
        tags=range_tags,
    )


def metadata(result: ExecuteInProcessResult) -> dict[str, Any]:
    """Plain values of the ohlcv materialization metadata (same on every partition of a run)."""
    return {
        k: v.value for k, v in result.asset_materializations_for_node("ohlcv")[0].metadata.items()
    }


def only_check(result: ExecuteInProcessResult) -> AssetCheckEvaluation:
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def check_counts(evaluation: AssetCheckEvaluation) -> dict[str, int]:
    keys = ("bars", "duplicates", "missing_bars", "invalid_bars")
    return {k: evaluation.metadata[k].value for k in keys}


def test_btc_year_is_one_run_writing_366_daily_files(home: Path) -> None:
    result = run([BTC], "2024-01-01", "2024-12-31")

    assert result.success
    partitions = [m.partition for m in result.asset_materializations_for_node("ohlcv")]
    assert len(partitions) == 366
    assert (partitions[0], partitions[-1]) == ("2024-01-01", "2024-12-31")
    files = sorted((home / "lake").rglob("*.parquet"))
    assert len(files) == 366
    assert files[0] == home / "lake" / BTC_DIR / "date=2024-01-01" / "part-0.parquet"
    assert files[-1] == home / "lake" / BTC_DIR / "date=2024-12-31" / "part-0.parquet"
    per_file = {f.parent.name: pl.read_parquet(f).height for f in files}
    assert set(per_file.values()) == {24}
    bars = pl.read_parquet(files)
    assert bars.schema == pl.Schema(BAR_SCHEMA)
    assert bars.height == 8_784
    assert not (home / "lake" / "_quarantine").exists()
    assert metadata(result) | {"series": None} == {
        "rows_written": 8_784,
        "rows_quarantined": 0,
        "files": 366,
        "days": 366,
        "source": "bundled sample",
        "series": None,
    }

    check = only_check(result)
    assert check.passed
    assert check.partition is None  # one evaluation for the whole range
    assert check_counts(check) == {
        "bars": 8_784,
        "duplicates": 0,
        "missing_bars": 0,
        "invalid_bars": 0,
    }

    assert (
        result.asset_materializations_for_node("warehouse_views")[0].metadata["bars"].value == 8_784
    )
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM ohlcv").fetchone() == (8_784,)
        coverage = con.sql(
            "SELECT exchange, symbol, timeframe, bars, days, first_bar, last_bar "
            "FROM ohlcv_coverage"
        ).fetchall()
    assert len(coverage) == 1
    exchange, symbol, timeframe, n_bars, days, first_bar, last_bar = coverage[0]
    assert (exchange, symbol, timeframe, n_bars, days) == ("binance", "BTC/USDT", "1h", 8_784, 366)
    assert first_bar == datetime(2024, 1, 1, tzinfo=UTC)
    assert last_bar == datetime(2024, 12, 31, 23, tzinfo=UTC)


def test_eth_sample_gaps_are_a_warning_with_seven_missing_bars(home: Path) -> None:
    result = run([ETH], "2021-01-01", "2021-05-31")

    assert result.success
    assert metadata(result)["rows_written"] == 3_617
    assert metadata(result)["files"] == 151
    check = only_check(result)
    assert not check.passed
    assert check.severity == AssetCheckSeverity.WARN
    assert check_counts(check) == {
        "bars": 3_617,
        "duplicates": 0,
        "missing_bars": 7,
        "invalid_bars": 0,
    }

    # A one-day run checks only its partition: 2021-04-25 lacks 05:00, 06:00 and 07:00.
    day = only_check(run([ETH], "2021-04-25"))
    assert day.partition == "2021-04-25"
    assert day.severity == AssetCheckSeverity.WARN
    assert check_counts(day) == {"bars": 21, "duplicates": 0, "missing_bars": 3, "invalid_bars": 0}
    assert only_check(run([ETH], "2021-04-24")).passed


class DirtySample(SampleOhlcvSource):
    """The sample with one impossible bar (high below low) and one duplicated bar on each day."""

    def fetch_day(self, key: SeriesKey, day: date) -> pl.DataFrame:
        frame = super().fetch_day(key, day)
        broken = frame.with_columns(
            high=pl.when(pl.col("ts").dt.hour() == 5).then(pl.col("low") - 1).otherwise("high")
        )
        return pl.concat([broken, frame.filter(pl.col("ts").dt.hour() == 10)])


def test_bad_rows_are_quarantined_not_written(home: Path) -> None:
    result = run([BTC], "2024-03-01", source=DirtySample())

    assert result.success
    assert metadata(result)["rows_written"] == 23
    assert metadata(result)["rows_quarantined"] == 2
    written = pl.read_parquet(home / "lake" / BTC_DIR / "date=2024-03-01" / "part-0.parquet")
    assert written.height == 23
    assert datetime(2024, 3, 1, 5, tzinfo=UTC) not in written["ts"].to_list()
    assert written["ts"].n_unique() == 23
    quarantine = pl.read_parquet(
        home / "lake" / "_quarantine" / BTC_DIR / "date=2024-03-01" / "part-0.parquet"
    )
    assert quarantine.select("ts", "reason").rows() == [
        (datetime(2024, 3, 1, 5, tzinfo=UTC), "high below open/close/low"),
        (datetime(2024, 3, 1, 10, tzinfo=UTC), "duplicate timestamp"),
    ]
    # The lake now lacks the quarantined 05:00 bar: a gap, reported as a warning.
    check = only_check(result)
    assert check.severity == AssetCheckSeverity.WARN
    assert check_counts(check) == {
        "bars": 23,
        "duplicates": 0,
        "missing_bars": 1,
        "invalid_bars": 0,
    }


def test_check_fails_with_error_on_a_corrupt_lake_file(home: Path) -> None:
    bars = SampleOhlcvSource().fetch_day(SeriesKey("binance", "BTC/USDT", "1h"), date(2024, 5, 1))
    corrupt = pl.concat([bars, bars.head(1)]).with_columns(
        volume=pl.when(pl.col("ts").dt.hour() == 12).then(-1.0).otherwise("volume")
    )
    # Written behind write_day's back, on a day the sample source has no bars for.
    keys = {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1h", "date": "2023-05-01"}
    lake.write_partition("ohlcv", keys, corrupt.with_columns(pl.col("ts") - pl.duration(days=366)))

    result = run([BTC], "2023-05-01")

    assert result.success
    assert metadata(result)["files"] == 0  # an empty day writes nothing and is no error
    check = only_check(result)
    assert not check.passed
    assert check.severity == AssetCheckSeverity.ERROR
    assert check_counts(check) == {
        "bars": 25,
        "duplicates": 1,
        "missing_bars": 0,
        "invalid_bars": 1,
    }


def test_default_config_ingests_every_bundled_series_and_skips_empty_ones(home: Path) -> None:
    result = run(None, "2024-10-01")

    assert result.success
    assert metadata(result)["series"] == {
        BTC: {"files": 1, "rows_written": 24, "rows_quarantined": 0, "empty_days": 0},
        ETH: {"files": 0, "rows_written": 0, "rows_quarantined": 0, "empty_days": 1},
        "binance:SOL/USDT:1h": {
            "files": 1,
            "rows_written": 24,
            "rows_quarantined": 0,
            "empty_days": 0,
        },
    }
    files = sorted(
        p.relative_to(home / "lake").as_posix() for p in (home / "lake").rglob("*.parquet")
    )
    assert files == [
        f"{BTC_DIR}/date=2024-10-01/part-0.parquet",
        "ohlcv/exchange=binance/symbol=SOL%2FUSDT/timeframe=1h/date=2024-10-01/part-0.parquet",
    ]
    assert only_check(result).passed
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("SELECT symbol, count(*) FROM ohlcv GROUP BY 1 ORDER BY 1").fetchall() == [
            ("BTC/USDT", 24),
            ("SOL/USDT", 24),
        ]
