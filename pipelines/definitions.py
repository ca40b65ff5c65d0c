"""Dagster entry point (``dagster dev -m pipelines.definitions``): assets, checks, schedule.

The series partitions come from the series catalog (``config/series.toml`` or
``DRYDOCK_SERIES_CATALOG``), read when this module loads: a series added there appears in the UI
after a code-location reload. A bad catalog fails the load with its one-line message.

The source is chosen by the settings: ``DRYDOCK_OHLCV_SOURCE`` ("sample", the default, or "ccxt")
and ``DRYDOCK_CCXT_EXCHANGE`` (default "binance"); when the exchange comes from the environment the
resource takes it as a Dagster ``EnvVar``, so the UI shows where it came from. The daily schedule
(every series' newest day: bars, mark prices, funding, views) starts switched on only for ccxt:
the bundled sample has no new days to fetch.
"""

from __future__ import annotations

import os

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    EnvVar,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from drydock.catalog import load_catalog
from drydock.logs import configure_logging, get_logger
from drydock.settings import get_settings
from pipelines.assets import build_market_data
from pipelines.news import NEWS_ASSETS, NEWS_CHECKS, NewsFeedClient, news_job, news_schedule
from pipelines.onchain import (
    ONCHAIN_ASSETS,
    ONCHAIN_CHECKS,
    ONCHAIN_JOBS,
    ONCHAIN_SENSORS,
    DexSource,
    EvmSource,
    SwapInbox,
)
from pipelines.resources import CcxtOhlcvSource, OhlcvSource, source_from_env
from pipelines.series import catalog_plans

EXCHANGE_ENV = "DRYDOCK_CCXT_EXCHANGE"
#: News feeds: the recorded payloads unless DRYDOCK_NEWS_SOURCE=http (then the configured feeds).
NEWS_MODE = os.environ.get("DRYDOCK_NEWS_SOURCE", "sample")

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
catalog = load_catalog()
market = build_market_data(catalog_plans(catalog))

market_daily_job = define_asset_job(
    "market_data_daily",
    selection=AssetSelection.assets(*market.assets()),
    partitions_def=market.partitions,
    description="One UTC day of every catalog series: bars, mark prices and funding into the "
    "lake, their checks, then the warehouse views.",
)

market_daily_schedule = build_schedule_from_partitioned_job(
    market_daily_job,
    hour_of_day=0,
    minute_of_hour=15,
    name="market_data_daily_schedule",
    default_status=(
        DefaultScheduleStatus.RUNNING
        if isinstance(source, CcxtOhlcvSource)
        else DefaultScheduleStatus.STOPPED
    ),
)

defs = Definitions(
    assets=[*market.assets(), *ONCHAIN_ASSETS, *NEWS_ASSETS],
    asset_checks=[*ONCHAIN_CHECKS, *NEWS_CHECKS],
    resources={
        "ohlcv_source": source,
        "news_feeds": NewsFeedClient(mode=NEWS_MODE),
        "evm": EvmSource(mode=os.environ.get("DRYDOCK_EVM_SOURCE", "sample")),
        "swap_inbox": SwapInbox(),
        "dex": DexSource(mode=os.environ.get("DRYDOCK_DEX_SOURCE", "sample")),
    },
    jobs=[market_daily_job, news_job, *ONCHAIN_JOBS],
    schedules=[market_daily_schedule, news_schedule],
    sensors=ONCHAIN_SENSORS,
)
