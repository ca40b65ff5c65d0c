"""The market-data assets run by real Dagster ``materialize`` into a tmp lake (no network)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from dagster import AssetCheckEvaluation, AssetCheckSeverity, DagsterInstance, materialize
from dagster._core.execution.execute_in_process_result import ExecuteInProcessResult

from drydock import lake, ohlcv
from drydock.adapters.ccxt import DownloadError
from drydock.ohlcv import BAR_SCHEMA, SeriesKey
from pipelines.assets import build_market_data
from pipelines.checks import bar_check_results, series_quality
from pipelines.ingest import RANGE_END_TAG, RANGE_START_TAG
from pipelines.resources import OhlcvSource, SampleOhlcvSource
from pipelines.series import SeriesPlan, catalog_plans, parse_series, plan_for

pytestmark = pytest.mark.integration

BTC = "binance:BTC/USDT:1h"
ETH = "binance:ETH/USDT:1h"
PERP = "binance:BTC/USDT:USDT:1h"
BTC_DIR = "ohlcv/exchange=binance/symbol=BTC%2FUSDT/timeframe=1h"
CHECKS = {"schema", "duplicates", "ohlc_sanity", "gaps", "freshness", "outliers"}


def run(
    specs: list[str],
    first: str,
    last: str | None = None,
    source: OhlcvSource | None = None,
    plans: Mapping[str, SeriesPlan] | None = None,
) -> ExecuteInProcessResult:
    """Materialize every asset for ``specs`` over ``first`` .. ``last`` (one run)."""
    plans = plans or {spec: plan_for(parse_series(spec)) for spec in specs}
    market = build_market_data(plans)
    start, end = f"{first}|{specs[0]}", f"{last or first}|{specs[-1]}"
    single = start == end
    return materialize(
        market.assets(),
        instance=DagsterInstance.ephemeral(),
        resources={"ohlcv_source": source or SampleOhlcvSource()},
        partition_key=start if single else None,
        tags=None if single else {RANGE_START_TAG: start, RANGE_END_TAG: end},
    )


def metadata(result: ExecuteInProcessResult, node: str = "ohlcv") -> dict[str, Any]:
    """Plain values of a node's materialization metadata (the same on every partition)."""
    [*_, event] = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in event.metadata.items()}


def checks(result: ExecuteInProcessResult, asset: str = "ohlcv") -> dict[str, AssetCheckEvaluation]:
    return {
        e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key.path == [asset]
    }


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.parquet"))
    }


def test_spot_year_is_one_run_one_file_with_metadata_checks_and_views(home: Path) -> None:
    result = run([BTC], "2024-01-01", "2024-12-31")

    assert result.success
    partitions = sorted(str(m.partition) for m in result.asset_materializations_for_node("ohlcv"))
    assert len(partitions) == 366
    assert (partitions[0], partitions[-1]) == (f"2024-01-01|{BTC}", f"2024-12-31|{BTC}")
    files = sorted((home / "lake").rglob("*.parquet"))
    assert files == [home / "lake" / BTC_DIR / "period=2024" / "part-0.parquet"]
    bars = pl.read_parquet(files[0])
    assert bars.schema == pl.Schema(BAR_SCHEMA) and bars.height == 8_784

    meta = metadata(result)
    assert (meta["rows_written"], meta["rows_quarantined"], meta["files"]) == (8_784, 0, 1)
    series = meta["series"][BTC]
    assert {k: series[k] for k in ("days", "days_with_bars", "empty_days", "bars")} == {
        "days": 366,
        "days_with_bars": 366,
        "empty_days": 0,
        "bars": 8_784,
    }
    assert (series["first_bar"], series["last_bar"]) == (
        "2024-01-01T00:00:00+00:00",
        "2024-12-31T23:00:00+00:00",
    )
    assert (series["missing"], series["duplicates"], series["invalid"]) == (0, 0, 0)
    assert series["lag_hours"] is None  # 2024 is not the latest partition: freshness not judged

    found = checks(result)
    assert set(found) == CHECKS
    for name in ("schema", "duplicates", "ohlc_sanity", "gaps", "freshness", "outliers"):
        assert found[name].passed, name
    assert found["freshness"].metadata["note"].value.startswith("not evaluated")
    # Real 2024 BTC hours move less than 12 robust sigmas (25 bars exceed 8: genuine moves).
    assert found["outliers"].metadata["count"].value == series["outliers"] == 0
    assert not metadata(result, "mark_prices")["series"]  # spot: no mark prices

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM ohlcv").fetchone() == (8_784,)
        coverage = con.sql(
            "SELECT exchange, symbol, timeframe, bars, days, first_bar, last_bar "
            "FROM ohlcv_coverage"
        ).fetchall()
    assert coverage == [
        (
            "binance",
            "BTC/USDT",
            "1h",
            8_784,
            366,
            datetime(2024, 1, 1, tzinfo=UTC),
            datetime(2024, 12, 31, 23, tzinfo=UTC),
        )
    ]


def test_perp_bars_and_funding_end_to_end_with_views(home: Path) -> None:
    result = run([PERP], "2024-01-01", "2024-03-31")

    assert result.success
    assert metadata(result)["rows_written"] == 2_184
    funding = metadata(result, "funding_rates")
    assert funding["rows_written"] == 273
    assert funding["perps"]["binance:BTC/USDT:USDT"]["first"] == "2024-01-01T00:00:00+00:00"
    assert not metadata(result, "mark_prices")["series"]  # the sample has no mark prices
    assert not (home / "lake" / "mark_prices").exists()
    assert (
        home / "lake/funding_rates/exchange=binance/symbol=BTC%2FUSDT%3AUSDT/period=2024"
    ).is_dir()

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("SELECT symbol, count(*) FROM ohlcv GROUP BY 1").fetchall() == [
            ("BTC/USDT:USDT", 2_184)
        ]
        rows = con.sql(
            "SELECT count(*), min(interval_hours), max(interval_hours), "
            "max(abs(annualized - rate * 3 * 365)) FROM funding_rates "
            "WHERE exchange = 'binance' AND symbol = 'BTC/USDT:USDT'"
        ).fetchone()
        first = con.sql("SELECT ts, rate FROM funding_rates ORDER BY ts LIMIT 1").fetchone()
        assert con.sql("SELECT count(*) FROM mark_prices").fetchone() == (0,)
    assert rows is not None and rows[:3] == (273, 8.0, 8.0) and rows[3] < 1e-12
    assert first is not None and first[0] == datetime(2024, 1, 1, tzinfo=UTC)
    assert math.isfinite(first[1]) and abs(first[1]) < 0.01


def test_rematerializing_is_byte_identical_and_a_new_day_touches_only_its_rows(
    home: Path,
) -> None:
    assert run([BTC, ETH], "2024-03-01", "2024-03-02").success
    before = digest(home / "lake")
    stored = ohlcv.read(SeriesKey("binance", "BTC/USDT", "1h"))
    assert stored.height == 48

    assert run([BTC, ETH], "2024-03-01", "2024-03-02").success
    assert digest(home / "lake") == before

    assert run([BTC], "2024-03-03").success
    after = ohlcv.read(SeriesKey("binance", "BTC/USDT", "1h"))
    assert after.height == 72
    assert after.filter(pl.col("ts") < datetime(2024, 3, 3, tzinfo=UTC)).equals(stored)
    assert after["ts"].max() == datetime(2024, 3, 3, 23, tzinfo=UTC)


class FailingSource(SampleOhlcvSource):
    """The sample, except that one series' download runs out of retries."""

    def fetch_range(
        self, key: SeriesKey, start: datetime, end: datetime, *, dataset: str = "ohlcv"
    ) -> pl.DataFrame:
        if key.symbol == "ETH/USDT":
            raise DownloadError(
                f"ccxt binance could not fetch {key.symbol} {key.timeframe} for {start:%Y-%m-%d}"
            )
        return super().fetch_range(key, start, end, dataset=dataset)


def test_a_download_error_fails_the_run_and_leaves_the_lake_untouched(home: Path) -> None:
    assert run([BTC], "2024-03-01").success
    before = digest(home / "lake")

    with pytest.raises(DownloadError, match="could not fetch ETH/USDT 1h for 2024-03-01"):
        run([BTC, ETH], "2024-03-01", "2024-03-02", source=FailingSource())
    assert digest(home / "lake") == before  # BTC's 03-02 was fetched, but not written


class DirtySample(SampleOhlcvSource):
    """The sample with one impossible bar (high below low) and one duplicated bar per day."""

    def fetch_range(
        self, key: SeriesKey, start: datetime, end: datetime, *, dataset: str = "ohlcv"
    ) -> pl.DataFrame:
        frame = super().fetch_range(key, start, end, dataset=dataset)
        broken = frame.with_columns(
            high=pl.when(pl.col("ts").dt.hour() == 5).then(pl.col("low") - 1).otherwise("high")
        )
        return pl.concat([broken, frame.filter(pl.col("ts").dt.hour() == 10)])


def test_bad_rows_are_quarantined_with_reasons_and_the_gap_is_named(home: Path) -> None:
    result = run([BTC], "2024-03-01", source=DirtySample())

    assert result.success
    meta = metadata(result)
    assert (meta["rows_written"], meta["rows_quarantined"]) == (23, 2)
    assert meta["quarantine_reasons"] == {"high below open/close/low": 1, "duplicate timestamp": 1}
    written = ohlcv.read(SeriesKey("binance", "BTC/USDT", "1h"))
    assert written.height == 23 and datetime(2024, 3, 1, 5, tzinfo=UTC) not in written["ts"]
    quarantine = ohlcv.quarantined(SeriesKey("binance", "BTC/USDT", "1h"))
    assert quarantine.select("ts", "reason").sort("ts").rows() == [
        (datetime(2024, 3, 1, 5, tzinfo=UTC), "high below open/close/low"),
        (datetime(2024, 3, 1, 10, tzinfo=UTC), "duplicate timestamp"),
    ]
    found = checks(result)
    assert found["duplicates"].passed and found["ohlc_sanity"].passed  # the lake is clean
    gaps = found["gaps"]
    assert not gaps.passed and gaps.severity == AssetCheckSeverity.WARN
    assert gaps.metadata["count"].value == 1
    assert gaps.metadata["first_offenders"].value == [f"{BTC} 2024-03-01 05:00 UTC: 1 missing bar"]

    # Re-ingesting the day clean removes its stale quarantine rows.
    assert run([BTC], "2024-03-01").success
    assert ohlcv.quarantined(SeriesKey("binance", "BTC/USDT", "1h")).height == 0


def test_checks_name_duplicates_and_broken_bars_of_a_file_written_behind_the_writer(
    home: Path,
) -> None:
    key = SeriesKey("binance", "BTC/USDT", "1h")
    bars = SampleOhlcvSource().fetch_day(key, date(2024, 5, 1))
    corrupt = pl.concat([bars, bars.head(1)]).with_columns(
        volume=pl.when(pl.col("ts").dt.hour() == 12).then(-1.0).otherwise("volume")
    )
    lake.write_partition("ohlcv", {**key.keys(), "period": "2024"}, corrupt)

    quality = series_quality(
        key, "ohlcv", datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)
    )
    assert quality.bars == 25
    assert (quality.counts["duplicates"], quality.counts["invalid"]) == (1, 1)
    results = {r.check_name: r for r in bar_check_results("ohlcv", [quality])}
    assert results["duplicates"].severity == AssetCheckSeverity.ERROR
    assert not results["duplicates"].passed and not results["ohlc_sanity"].passed
    assert results["duplicates"].metadata["first_offenders"].value == [
        f"{BTC} 2024-05-01 00:00 UTC: duplicate timestamp"
    ]
    assert results["ohlc_sanity"].metadata["first_offenders"].value == [
        f"{BTC} 2024-05-01 12:00 UTC: negative volume"
    ]
    # The broken bar does not count as present: its hour is a gap, a warning.
    assert results["gaps"].severity == AssetCheckSeverity.WARN
    assert results["gaps"].metadata["first_offenders"].value == [
        f"{BTC} 2024-05-01 12:00 UTC: 1 missing bar"
    ]
    assert results["schema"].passed and results["outliers"].passed


class Synthetic(OhlcvSource):
    """Deterministic hourly bars for any series and range, a spike at ``spike`` (if set), none
    after ``stop`` (if set)."""

    spike: str | None = None
    stop: str | None = None

    def fetch_range(
        self, key: SeriesKey, start: datetime, end: datetime, *, dataset: str = "ohlcv"
    ) -> pl.DataFrame:
        last = min(end, datetime.fromisoformat(self.stop)) if self.stop else end
        ts = pl.datetime_range(
            start,
            last,
            timedelta(hours=1),
            closed="left",
            time_unit="us",
            time_zone="UTC",
            eager=True,
        )
        wave = pl.Series([100 + math.sin(i / 5) for i in range(ts.len())])
        frame = pl.DataFrame({"ts": ts, "close": wave})
        if self.spike:
            spike = datetime.fromisoformat(self.spike)
            frame = frame.with_columns(
                close=pl.when(pl.col("ts") == spike).then(pl.col("close") * 1.5).otherwise("close")
            )
        return frame.select(
            "ts",
            open=pl.col("close").shift(1).fill_null(100.0),
            high=pl.max_horizontal(pl.col("close"), pl.col("close").shift(1).fill_null(100.0)),
            low=pl.min_horizontal(pl.col("close"), pl.col("close").shift(1).fill_null(100.0)),
            close="close",
            volume=pl.lit(1.0),
        )

    def supports(self, dataset: str, key: SeriesKey) -> bool:
        return dataset == "ohlcv"

    def describe(self) -> str:
        return "synthetic"


def test_freshness_is_judged_on_the_latest_partition_and_outliers_are_kept(home: Path) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    spec = "kraken:XRP/USD:1h"
    plans = {spec: SeriesPlan(parse_series(spec))}
    spike = f"{yesterday}T12:00:00+00:00"
    result = run(
        [spec], str(yesterday - timedelta(days=2)), str(yesterday), Synthetic(spike=spike), plans
    )
    found = checks(result)
    assert found["freshness"].passed
    assert metadata(result)["series"][spec]["lag_hours"] == 0  # bars up to the day's end
    assert not found["outliers"].passed
    assert (
        found["outliers"]
        .metadata["first_offenders"]
        .value[0]
        .startswith(f"{spec} {yesterday} 12:00 UTC: return +")
    )
    assert metadata(result)["rows_written"] == 72  # the spike is flagged, not dropped

    stop = f"{yesterday}T06:00:00+00:00"
    stale = checks(run([spec], str(yesterday), source=Synthetic(stop=stop), plans=plans))
    assert not stale["freshness"].passed
    assert stale["freshness"].severity == AssetCheckSeverity.WARN
    [offender] = stale["freshness"].metadata["first_offenders"].value
    assert offender == (
        f"{spec} last bar {yesterday} 05:00 UTC, 18:00:00 behind {yesterday + timedelta(days=1)} "
        "00:00 UTC"
    )


def test_days_before_the_catalog_start_are_skipped_not_errors(home: Path) -> None:
    plans = catalog_plans()
    sol = "binance:SOL/USDT:1h"
    result = run([sol], "2024-09-17", "2024-09-20", plans={sol: plans[sol]})

    assert result.success
    assert metadata(result)["series"][sol]["days"] == 2  # 09-19 and 09-20
    assert ohlcv.read(SeriesKey("binance", "SOL/USDT", "1h"))["ts"].min() == datetime(
        2024, 9, 19, 23, tzinfo=UTC
    )


class SyntheticPerp(Synthetic):
    """Synthetic bars for trade and mark prices (marks 0.1% above), no funding."""

    def fetch_range(
        self, key: SeriesKey, start: datetime, end: datetime, *, dataset: str = "ohlcv"
    ) -> pl.DataFrame:
        bars = super().fetch_range(key, start, end)
        if dataset == "ohlcv":
            return bars
        return bars.with_columns(pl.col(c) * 1.001 for c in ("open", "high", "low", "close"))

    def supports(self, dataset: str, key: SeriesKey) -> bool:
        return dataset in ("ohlcv", "mark_prices")


def test_mark_prices_of_a_perp_land_in_their_own_dataset_and_view(home: Path) -> None:
    spec = "bybit:ETH/USDT:USDT:1h"
    plans = {spec: SeriesPlan(parse_series(spec), funding=True, mark_prices=True)}
    result = run([spec], "2024-06-01", "2024-06-02", SyntheticPerp(), plans)

    assert result.success
    assert metadata(result, "mark_prices")["series"][spec]["rows_written"] == 48
    assert set(checks(result, "mark_prices")) == CHECKS
    assert metadata(result, "funding_rates")["rows_written"] == 0  # the source has none
    key = SeriesKey("bybit", "ETH/USDT:USDT", "1h")
    marks = ohlcv.read(key, dataset="mark_prices")
    trades = ohlcv.read(key)
    assert marks["ts"].equals(trades["ts"])
    assert (marks["close"] / trades["close"] - 1.001).abs().max() < 1e-12  # type: ignore[operator]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql(
            "SELECT exchange, symbol, count(*) FROM mark_prices GROUP BY ALL"
        ).fetchall() == [("bybit", "ETH/USDT:USDT", 48)]
