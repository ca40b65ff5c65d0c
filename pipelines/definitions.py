"""Dagster entry point (``dagster dev -m pipelines.definitions``): assets, check, schedule.

The OHLCV source is chosen by the settings: ``DRYDOCK_OHLCV_SOURCE`` ("sample", the default, or
"ccxt") and ``DRYDOCK_CCXT_EXCHANGE`` (default "binance"); when the exchange comes from the
environment the resource takes it as a Dagster ``EnvVar``, so the UI shows where it came from.
The daily schedule starts switched on only for ccxt: the bundled sample has no new days to fetch.
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    EnvVar,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from drydock.logs import configure_logging, get_logger
from drydock.settings import get_settings
from pipelines.assets import ohlcv_asset, warehouse_views
from pipelines.checks import bar_integrity
from pipelines.resources import CcxtOhlcvSource, OhlcvSource, source_from_env

EXCHANGE_ENV = "DRYDOCK_CCXT_EXCHANGE"

configure_logging()
log = get_logger(__name__)


def configured_source() -> OhlcvSource:
    """The settings' source (validated now, not mid-run); an env-given exchange as an EnvVar."""
    source = source_from_env()
    log.info("dagster.definitions.loaded", source=source.describe())
    if isinstance(source, CcxtOhlcvSource) and "ccxt_exchange" in get_settings().given:
        return CcxtOhlcvSource(exchange_id=EnvVar(EXCHANGE_ENV))
    return source


source = configured_source()

ohlcv_daily_job = define_asset_job(
    "ohlcv_daily",
    selection=AssetSelection.assets(ohlcv_asset, warehouse_views),
    description="Ingest one UTC day of OHLCV into the lake, check it, refresh the warehouse views.",
)

ohlcv_daily_schedule = build_schedule_from_partitioned_job(
    ohlcv_daily_job,
    hour_of_day=0,
    minute_of_hour=15,
    name="ohlcv_daily_schedule",
    default_status=(
        DefaultScheduleStatus.RUNNING
        if isinstance(source, CcxtOhlcvSource)
        else DefaultScheduleStatus.STOPPED
    ),
)

defs = Definitions(
    assets=[ohlcv_asset, warehouse_views],
    asset_checks=[bar_integrity],
    resources={"ohlcv_source": source},
    jobs=[ohlcv_daily_job],
    schedules=[ohlcv_daily_schedule],
)
