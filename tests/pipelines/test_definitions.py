"""``pipelines.definitions`` loads as ``dagster dev -m`` loads it: catalog partitions, job, schedule."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterInstance,
    DefaultScheduleStatus,
    Definitions,
    EnvVar,
    MultiPartitionsDefinition,
    build_schedule_context,
)

import pipelines.definitions
from drydock.errors import ConfigError, DrydockError
from drydock.settings import REPO_ROOT
from pipelines.resources import CcxtOhlcvSource, SampleOhlcvSource

pytestmark = pytest.mark.integration


@pytest.fixture
def definitions(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module, re-imported after each test so env-driven choices never leak."""
    yield pipelines.definitions
    monkeypatch.undo()
    importlib.reload(pipelines.definitions)


CATALOG_SPECS = [
    "binance:BTC/USDT:1h",
    "binance:ETH/USDT:1h",
    "binance:SOL/USDT:1h",
    "binance:BTC/USDT:USDT:1h",
]


def series_keys(defs: Definitions) -> list[str]:
    partitions = defs.resolve_asset_graph().get(AssetKey("ohlcv")).partitions_def
    assert isinstance(partitions, MultiPartitionsDefinition)
    return list(partitions.get_partitions_def_for_dimension("series").get_partition_keys())


def test_defs_load_with_assets_checks_job_and_schedule(definitions: ModuleType) -> None:
    defs = definitions.defs
    graph = defs.resolve_asset_graph()
    assets = {"ohlcv", "mark_prices", "funding_rates", "warehouse_views", "address_labels",
              "whale_transfers", "wallet_swaps", "token_safety",
              "news", "sentiment_model", "news_sentiment", "sentiment_features"}  # fmt: skip
    assert set(graph.get_all_asset_keys()) == {AssetKey(name) for name in assets}
    checks = {"schema", "duplicates", "ohlc_sanity", "gaps", "freshness", "outliers"}
    assert set(graph.asset_check_keys) == {
        AssetCheckKey(AssetKey(asset), name)
        for asset in ("ohlcv", "mark_prices")
        for name in checks
    } | {
        AssetCheckKey(AssetKey("address_labels"), "address_labels_unique"),
        AssetCheckKey(AssetKey("whale_transfers"), "whale_transfers_sane"),
        AssetCheckKey(AssetKey("news"), "news_sane"),
        AssetCheckKey(AssetKey("news_sentiment"), "news_sentiment_in_range"),
    }
    assert isinstance(defs.resources["ohlcv_source"], SampleOhlcvSource)
    assert series_keys(defs) == CATALOG_SPECS

    schedule = defs.resolve_schedule_def("market_data_daily_schedule")
    assert schedule.job_name == "market_data_daily"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("15 0 * * *", "UTC")
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    assert {s.name for s in defs.sensors} == {"helius_inbox_sensor", "new_token_sensor"}  # type: ignore[union-attr]
    news = defs.resolve_schedule_def("news_every_15_minutes_schedule")
    assert (news.cron_schedule, news.default_status) == (
        "*/15 * * * *",
        DefaultScheduleStatus.STOPPED,
    )
    with DagsterInstance.ephemeral() as instance:
        tick = schedule.evaluate_tick(
            build_schedule_context(
                instance=instance, scheduled_execution_time=datetime(2024, 3, 2, 0, 15, tzinfo=UTC)
            )
        )
    assert [request.partition_key for request in tick.run_requests or []] == [
        f"2024-03-01|{spec}" for spec in CATALOG_SPECS
    ]


def test_a_series_added_to_the_catalog_appears_after_a_reload(
    definitions: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    catalog = tmp_path / "series.toml"
    shipped = (REPO_ROOT / "config" / "series.toml").read_text()
    catalog.write_text(
        shipped
        + '\n[[series]]\nexchange = "kraken"\nsymbol = "XRP/USD"\ntimeframes = ["1h", "5m"]\n'
        "start = 2019-06-01\n"
    )
    monkeypatch.setenv("DRYDOCK_SERIES_CATALOG", str(catalog))
    defs = importlib.reload(definitions).defs
    assert series_keys(defs) == [*CATALOG_SPECS, "kraken:XRP/USD:1h", "kraken:XRP/USD:5m"]
    partitions = defs.resolve_asset_graph().get(AssetKey("ohlcv")).partitions_def
    assert isinstance(partitions, MultiPartitionsDefinition)
    days = partitions.get_partitions_def_for_dimension("day")
    assert days.get_first_partition_key() == "2019-06-01"  # the earliest catalog start


def test_a_bad_catalog_fails_the_load_with_its_one_line_message(
    definitions: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    catalog = tmp_path / "series.toml"
    catalog.write_text('[[series]]\nexchange = "binance"\nsymbol = "BTC/USDT"\n')
    monkeypatch.setenv("DRYDOCK_SERIES_CATALOG", str(catalog))
    with pytest.raises(ConfigError, match=r"entry 1 \(BTC/USDT\), field 'timeframes': Field req"):
        importlib.reload(definitions)


def test_daily_job_runs_one_series_day_with_its_checks(home: Path, definitions: ModuleType) -> None:
    job = definitions.defs.resolve_job_def("market_data_daily")
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            partition_key="2024-03-01|binance:BTC/USDT:USDT:1h", instance=instance
        )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 12 and all(e.passed for e in evaluations)
    assert result.asset_materializations_for_node("warehouse_views")[0].metadata["bars"].value == 24
    funding = result.asset_materializations_for_node("funding_rates")[0].metadata
    assert funding["rows_written"].value == 3  # 00:00, 08:00, 16:00
    assert len(list((home / "lake" / "ohlcv").rglob("*.parquet"))) == 1


def test_env_selects_the_ccxt_source_and_switches_the_schedule_on(
    definitions: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRYDOCK_OHLCV_SOURCE", "ccxt")
    monkeypatch.setenv("DRYDOCK_CCXT_EXCHANGE", "bybit")
    defs = importlib.reload(definitions).defs
    source = defs.resources["ohlcv_source"]
    assert isinstance(source, CcxtOhlcvSource)
    assert source.exchange_id == EnvVar("DRYDOCK_CCXT_EXCHANGE")  # resolved by Dagster at run time
    assert source.process_config_and_initialize().exchange_id == "bybit"
    schedule = defs.resolve_schedule_def("market_data_daily_schedule")
    assert schedule.default_status == DefaultScheduleStatus.RUNNING


def test_ccxt_without_an_exchange_in_the_env_uses_the_settings_default(
    definitions: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRYDOCK_OHLCV_SOURCE", "ccxt")
    monkeypatch.delenv("DRYDOCK_CCXT_EXCHANGE", raising=False)
    source = importlib.reload(definitions).defs.resources["ohlcv_source"]
    assert isinstance(source, CcxtOhlcvSource) and source.exchange_id == "binance"


def test_a_bad_exchange_in_the_env_fails_at_load(
    definitions: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRYDOCK_OHLCV_SOURCE", "ccxt")
    monkeypatch.setenv("DRYDOCK_CCXT_EXCHANGE", "binanse")
    with pytest.raises(DrydockError, match=r"Unknown ccxt exchange 'binanse'.*binance"):
        importlib.reload(definitions)
