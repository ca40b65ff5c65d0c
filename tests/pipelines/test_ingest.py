"""``ingest()``: Dagster runs over partition ranges, per-series reports, clear input errors."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import ccxt
import duckdb
import polars as pl
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterEventType, DagsterInstance

import pipelines.resources
from drydock import ohlcv
from drydock.errors import DrydockError
from drydock.logs import configure_logging, json_lines
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample
from pipelines.ingest import CheckReport, ingest, last_partition_day
from pipelines.resources import CcxtOhlcvSource, SampleOhlcvSource
from tests.pipelines.replay import MARKETS, KlinesReplay

pytestmark = pytest.mark.integration

BTC = SeriesKey("binance", "BTC/USDT", "1h")
ETH = SeriesKey("binance", "ETH/USDT", "1h")
SOL = SeriesKey("binance", "SOL/USDT", "1h")
PERP = SeriesKey("binance", "BTC/USDT:USDT", "1h")


def test_default_ingest_loads_every_catalog_series_over_its_coverage(home: Path) -> None:
    report = ingest(progress=False)

    assert [r.key for r in report.series] == [BTC, ETH, SOL, PERP]
    assert len(report.run_ids) == 4  # one run per date range and kind, not one per day
    summary = {
        r.key.symbol: (r.start, r.end, r.days_with_bars, r.files, r.rows_written)
        for r in report.series
    }
    assert summary == {
        "BTC/USDT": (date(2024, 1, 1), date(2024, 12, 31), 366, 1, 8_784),
        "ETH/USDT": (date(2021, 1, 1), date(2021, 5, 31), 151, 1, 3_617),
        "SOL/USDT": (date(2024, 9, 19), date(2024, 10, 31), 43, 1, 1_000),
        "BTC/USDT:USDT": (date(2024, 1, 1), date(2024, 3, 31), 91, 1, 2_184),
    }
    assert report.rows_quarantined == 0
    assert [r.funding_rows for r in report.series] == [None, None, None, 273]
    assert [r.mark_rows for r in report.series] == [None, None, None, None]  # sample: none
    eth = report.get(ETH).check
    assert eth is not None and eth.severity == "WARN"
    assert (eth.bars, eth.duplicates, eth.missing, eth.invalid) == (3_617, 0, 7, 0)
    assert "2021-02-11 04:00 UTC: 1 missing bar" in eth.first_offenders
    sol = report.get(SOL).check
    assert sol == CheckReport("PASS", 1_000, 0, 0, 0)
    assert report.get(BTC).first_bar == "2024-01-01T00:00:00+00:00"
    assert report.rows_written == 15_585

    assert report.warehouse_path == home / "warehouse.duckdb"
    with duckdb.connect(str(report.warehouse_path), read_only=True) as con:
        rows = con.sql("SELECT symbol, bars, days FROM ohlcv_coverage ORDER BY symbol").fetchall()
        funding = con.sql("SELECT count(*) FROM funding_rates").fetchone()
    assert rows == [
        ("BTC/USDT", 8_784, 366),
        ("BTC/USDT:USDT", 2_184, 91),
        ("ETH/USDT", 3_617, 151),
        ("SOL/USDT", 1_000, 43),
    ]
    assert funding == (273,)


def test_ingest_records_series_day_partitions_and_checks_in_dagster_home(home: Path) -> None:
    report = ingest([BTC, ETH], date(2021, 3, 1), date(2024, 3, 3), progress=False)

    assert report.get(ETH).rows_written == 92 * 24 - 6  # 2021-03-01 .. 05-31: 6 bars missing
    assert report.get(BTC).rows_written == 63 * 24  # 2024-01-01 .. 2024-03-03
    assert "PooledSqliteEventLogStorage" in (home / "dagster" / "dagster.yaml").read_text()
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        assert sorted(run.run_id for run in instance.get_runs()) == sorted(report.run_ids)
        partitions = instance.get_materialized_partitions(AssetKey("ohlcv"))
        assert "2024-01-01|binance:BTC/USDT:1h" in partitions
        assert "2021-05-31|binance:ETH/USDT:1h" in partitions
        assert len(partitions) == 92 + 63  # ETH Mar-May 2021; BTC Jan 1 .. Mar 3 2024
        assert not instance.get_materialized_partitions(AssetKey("funding_rates"))  # spot only
        evaluations = [
            entry.dagster_event.asset_check_evaluation_data
            for run_id in report.run_ids
            for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
            if entry.dagster_event is not None
        ]
        assert len(evaluations) == 2 * 6  # six checks per run
        gaps = [
            e for e in evaluations if e.asset_check_key == AssetCheckKey(AssetKey("ohlcv"), "gaps")
        ]
        assert sorted(e.passed for e in gaps) == [False, True]  # ETH's gaps warn


def test_record_false_leaves_dagster_home_untouched(home: Path) -> None:
    report = ingest([BTC], date(2024, 3, 1), date(2024, 3, 3), record=False, progress=False)

    assert report.get(BTC).rows_written == 72
    assert not (home / "dagster" / "dagster.yaml").exists()
    assert list((home / "dagster").iterdir()) == []


def test_ingest_logs_each_series_run_as_json(home: Path) -> None:
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    try:
        report = ingest([SOL], date(2024, 10, 30), progress=False)
    finally:
        configure_logging("json", "info")
    events = {e["event"]: e for e in json_lines(stream.getvalue())}
    assert events["ingest.series"] == {
        **events["ingest.series"],
        "run_id": report.run_ids[0],
        "series": "binance:SOL/USDT:1h",
        "start": "2024-10-30",
        "end": "2024-10-31",
        "days": 2,
        "rows_written": 39,
        "rows_quarantined": 0,
        "check": "PASS",
        "source": "bundled sample",
        "recorded": True,
    }
    assert events["ohlcv.materialized"]["run_id"] == report.run_ids[0]
    assert events["ohlcv.materialized"]["files"] == 1  # one yearly file
    assert events["ingest.finished"]["rows_written"] == 39


def test_sample_dates_are_clipped_to_each_series_coverage(home: Path) -> None:
    report = ingest([BTC, SOL], start=date(2024, 10, 30), progress=False)

    assert [(r.key, r.start, r.end, r.rows_written) for r in report.series] == [
        (BTC, date(2024, 10, 30), date(2024, 12, 31), 63 * 24),
        (SOL, date(2024, 10, 30), date(2024, 10, 31), 24 + 15),
    ]


def test_ccxt_ingest_end_to_end_on_a_recorded_payload(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay = KlinesReplay()
    monkeypatch.setattr(ccxt.binance, "fetch", lambda self, url, *args: replay(url, *args))
    source = CcxtOhlcvSource(exchange_id="binance", markets_file=str(MARKETS))

    report = ingest([BTC], date(2026, 2, 8), date(2026, 2, 8), source=source, progress=False)

    assert report.source == "ccxt binance"
    assert report.get(BTC).files == 1
    assert report.get(BTC).rows_written == 3
    check = report.get(BTC).check
    assert check is not None and (check.bars, check.duplicates, check.invalid) == (3, 0, 0)
    bars = ohlcv.read(BTC)
    assert bars["ts"].to_list() == [datetime(2026, 2, 8, h, tzinfo=UTC) for h in (4, 5, 6)]
    assert bars["close"].to_list() == [69340.16, 69220.52, 69383.06]
    assert bars.schema == pl.Schema(ohlcv.BAR_SCHEMA)


def test_errors_inside_the_run_surface_as_drydock_errors(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ccxt.binance, "fetch", lambda self, url, *args: KlinesReplay()(url))
    source = CcxtOhlcvSource(exchange_id="binance", markets_file=str(MARKETS))
    doge = SeriesKey("binance", "DOGE/USDT", "1h")
    with pytest.raises(DrydockError, match=r"Unknown symbol 'DOGE/USDT' on binance"):
        ingest([doge], date(2026, 2, 8), source=source, progress=False)

    def refused(self: object, url: str, *args: object) -> object:
        raise ccxt.PermissionDenied("binance 403 Forbidden")

    monkeypatch.setattr(ccxt.binance, "fetch", refused)
    source = CcxtOhlcvSource(markets_file=str(MARKETS))
    with pytest.raises(
        DrydockError, match=r"ccxt binance failed while ingesting .*PermissionDenied"
    ):
        ingest([BTC], date(2026, 2, 8), date(2026, 2, 8), source=source, progress=False)


def test_exhausted_retries_write_nothing_of_the_run(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first page (the recorded klines) downloads; the next keeps timing out: a clear error,
    and the page already downloaded is not written either."""
    waits: list[float] = []
    monkeypatch.setattr(pipelines.resources, "_sleep", waits.append)
    replay = KlinesReplay()
    first_page_ms = 1_770_508_800_000  # 2026-02-08T00:00:00Z

    def fetch(self: object, url: str, *args: object) -> object:
        if "startTime" in url and int(url.split("startTime=")[1].split("&")[0]) > first_page_ms:
            raise ccxt.RequestTimeout("binance GET /api/v3/klines request timed out (10000 ms)")
        return replay(url)

    monkeypatch.setattr(ccxt.binance, "fetch", fetch)
    source = CcxtOhlcvSource(markets_file=str(MARKETS), retries=3, retry_backoff_seconds=1.0)
    with pytest.raises(
        DrydockError,
        match=r"ccxt binance could not fetch BTC/USDT 1h for 2026-02-0[89] after 4 attempt\(s\): "
        r"RequestTimeout",
    ):
        ingest([BTC], date(2026, 2, 8), date(2026, 2, 9), source=source, progress=False)
    assert len(waits) == 3 and all(0 <= w <= 8 for w in waits)
    assert not list((home / "lake").rglob("*.parquet"))  # no partial partition


def test_without_a_start_ccxt_keeps_up_from_the_newest_stored_bar(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay = KlinesReplay()
    monkeypatch.setattr(ccxt.binance, "fetch", lambda self, url, *args: replay(url, *args))
    source = CcxtOhlcvSource(exchange_id="binance", markets_file=str(MARKETS))
    ingest([BTC], date(2026, 2, 8), date(2026, 2, 8), source=source, progress=False)

    report = ingest([BTC], end=date(2026, 2, 10), source=source, progress=False)
    assert (report.get(BTC).start, report.get(BTC).end) == (date(2026, 2, 8), date(2026, 2, 10))
    assert ohlcv.read(BTC).height == 3

    outside = SeriesKey("binance", "ETH/USDT", "4h")  # not in the catalog, nothing stored
    with pytest.raises(DrydockError, match=r"A start date is required for binance ETH/USDT 4h"):
        ingest([outside], source=source, progress=False)


def test_the_sample_source_reads_its_own_sample_dir(home: Path, tmp_path: Path) -> None:
    """A source pointed at another folder plans from that folder's coverage."""
    folder = tmp_path / "sample" / "ohlcv" / "exchange=binance" / "symbol=SOL%2FUSDT"
    folder.mkdir(parents=True)
    read_sample(SOL).filter(pl.col("ts") >= datetime(2024, 10, 20, tzinfo=UTC)).write_parquet(
        folder / "1h.parquet"
    )
    source = SampleOhlcvSource(sample_dir=str(tmp_path / "sample"))
    report = ingest([SOL], source=source, progress=False)
    assert (report.get(SOL).start, report.get(SOL).end) == (date(2024, 10, 20), date(2024, 10, 31))
    assert report.get(SOL).rows_written == 11 * 24 + 15


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"series": [SeriesKey("binance", "DOGE/USDT", "1h")]}, r"No bundled sample for .*DOGE"),
        ({"end": date(2999, 1, 1)}, r"end date 2999-01-01 is after .* newest complete UTC day"),
        ({"start": date(2024, 2, 1), "end": date(2024, 1, 1)}, r"after the end date"),
        ({"series": [BTC], "start": date(2023, 1, 1), "end": date(2023, 1, 31)}, r"2024-12-31"),
        (
            {"series": [SeriesKey("binance", "BTC/USDT", "4h")], "source": "ccxt"},
            r"start date is required for binance BTC/USDT 4h with the ccxt binance",
        ),
        ({"source": "parquet"}, r"Unknown OHLCV source 'parquet'. Valid choices: ccxt, sample"),
    ],
)
def test_bad_inputs_fail_before_any_run(
    home: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(DrydockError, match=message):
        ingest(progress=False, **kwargs)  # type: ignore[arg-type]
    assert not (home / "lake").exists()


def test_last_partition_is_yesterday_utc() -> None:
    today = datetime.now(UTC).date()
    assert (today - last_partition_day()).days == 1
