"""``pipelines.definitions`` loads as ``dagster dev -m`` loads it: job, check and schedule."""

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
    EnvVar,
    build_schedule_context,
)

import pipelines.definitions
from drydock.errors import DrydockError
from pipelines.resources import CcxtOhlcvSource, SampleOhlcvSource

pytestmark = pytest.mark.integration


@pytest.fixture
def definitions(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module, re-imported after each test so env-driven choices never leak."""
    yield pipelines.definitions
    monkeypatch.undo()
    importlib.reload(pipelines.definitions)


def test_defs_load_with_assets_check_job_and_schedule(definitions: ModuleType) -> None:
    defs = definitions.defs
    graph = defs.resolve_asset_graph()
    assert set(graph.get_all_asset_keys()) == {AssetKey("ohlcv"), AssetKey("warehouse_views")}
    assert set(graph.asset_check_keys) == {AssetCheckKey(AssetKey("ohlcv"), "bar_integrity")}
    assert isinstance(defs.resources["ohlcv_source"], SampleOhlcvSource)

    schedule = defs.resolve_schedule_def("ohlcv_daily_schedule")
    assert schedule.job_name == "ohlcv_daily"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("15 0 * * *", "UTC")
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    with DagsterInstance.ephemeral() as instance:
        tick = schedule.evaluate_tick(
            build_schedule_context(
                instance=instance, scheduled_execution_time=datetime(2024, 3, 2, 0, 15, tzinfo=UTC)
            )
        )
    assert [request.partition_key for request in tick.run_requests or []] == ["2024-03-01"]


def test_daily_job_runs_one_partition_with_its_check(home: Path, definitions: ModuleType) -> None:
    job = definitions.defs.resolve_job_def("ohlcv_daily")
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(partition_key="2024-03-01", instance=instance)
    assert result.success
    assert [e.check_name for e in result.get_asset_check_evaluations()] == ["bar_integrity"]
    assert result.get_asset_check_evaluations()[0].passed
    assert result.asset_materializations_for_node("warehouse_views")[0].metadata["bars"].value == 24
    assert len(list((home / "lake" / "ohlcv").rglob("*.parquet"))) == 1  # only BTC has that day


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
    schedule = defs.resolve_schedule_def("ohlcv_daily_schedule")
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
