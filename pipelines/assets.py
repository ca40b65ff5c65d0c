"""The ``ohlcv`` lake asset (daily partitions, one file per series and day) and the warehouse views.

``ohlcv`` uses a single-run backfill policy: a backfill of a partition range is one run that loops
over the days, so loading a year of hourly bars takes seconds rather than 366 runs.
"""

import warnings
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import duckdb
from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    BetaWarning,
    Config,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from drydock import ohlcv, warehouse
from drydock.logs import get_logger
from drydock.ohlcv import SeriesKey
from drydock.settings import get_settings
from pipelines.resources import OhlcvSource
from pipelines.series import format_series, resolve_series

log = get_logger(__name__)

PARTITIONS_START = "2021-01-01"
DAILY = DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")


class OhlcvConfig(Config):
    """Which series the ``ohlcv`` asset ingests."""

    series: list[str] | None = Field(
        default=None,
        description="Series as 'exchange:symbol:timeframe', e.g. 'binance:BTC/USDT:1h'. "
        "Leave empty for every bundled sample series.",
    )


@dataclass
class SeriesLoad:
    """What one run wrote for one series."""

    files: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    empty_days: int = 0


def partition_days(context: AssetExecutionContext) -> list[date]:
    """UTC days covered by the run's partition or partition range."""
    window = context.partition_time_window
    first, stop = window.start.date(), window.end.date()
    return [first + timedelta(days=i) for i in range((stop - first).days)]


def load_series(
    context: AssetExecutionContext, source: OhlcvSource, key: SeriesKey, days: list[date]
) -> SeriesLoad:
    """Fetch, validate and atomically write each day of one series; empty days write nothing."""
    load = SeriesLoad()
    for day in days:
        frame = source.fetch_day(key, day)
        if frame.height == 0:
            load.empty_days += 1
            context.log.debug(f"{key} {day}: no bars from {source.describe()}, nothing written")
            continue
        path, quarantined = ohlcv.write_day(key, day, frame)
        load.rows_quarantined += quarantined
        if quarantined:
            context.log.warning(f"{key} {day}: {quarantined} bad row(s) quarantined")
            log.warning(
                "ohlcv.quarantined",
                run_id=context.run_id,
                series=format_series(key),
                day=day.isoformat(),
                rows=quarantined,
            )
        if path is not None:
            load.files += 1
            load.rows_written += frame.height - quarantined
    return load


# single_run() is flagged beta; it is the documented way to backfill a range in one run.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", BetaWarning)

    @asset(
        name="ohlcv",
        partitions_def=DAILY,
        backfill_policy=BackfillPolicy.single_run(),
        group_name="market_data",
        kinds={"parquet"},
    )
    def ohlcv_asset(
        context: AssetExecutionContext, config: OhlcvConfig, ohlcv_source: OhlcvSource
    ) -> MaterializeResult[None]:
        """OHLCV bars in the Parquet lake: one file per series and UTC day, bad rows quarantined."""
        keys = resolve_series(config.series)
        days = partition_days(context)
        context.log.info(
            f"ingesting {len(keys)} series x {len(days)} day(s) from {ohlcv_source.describe()}"
        )
        loads = {format_series(key): load_series(context, ohlcv_source, key, days) for key in keys}
        for spec, load in loads.items():
            if load.files == 0:
                context.log.info(f"{spec}: no bars in {days[0]}..{days[-1]}; nothing written")
            log.info(
                "ohlcv.materialized",
                run_id=context.run_id,
                series=spec,
                first_day=days[0].isoformat(),
                last_day=days[-1].isoformat(),
                days=len(days),
                source=ohlcv_source.describe(),
                **asdict(load),
            )
        return MaterializeResult(
            metadata={
                "rows_written": sum(load.rows_written for load in loads.values()),
                "rows_quarantined": sum(load.rows_quarantined for load in loads.values()),
                "files": sum(load.files for load in loads.values()),
                "days": len(days),
                "source": ohlcv_source.describe(),
                "series": MetadataValue.json({spec: asdict(load) for spec, load in loads.items()}),
            }
        )


@asset(deps=[ohlcv_asset], group_name="market_data", kinds={"duckdb"})
def warehouse_views() -> MaterializeResult[None]:
    """DuckDB views over the whole lake, rebuilt after every ``ohlcv`` run.

    A separate unpartitioned asset because the views span every partition: refreshing them once
    per run (not per day) keeps the only DuckDB write short, out of the partitioned writers' way.
    """
    settings = get_settings()
    try:
        path = warehouse.refresh_views(settings)
    except duckdb.IOException as exc:
        raise Failure(
            f"Could not open the warehouse {settings.warehouse_path} for writing ({exc}). Another "
            "process (the app, a notebook) holds it open; close it and re-materialize "
            "warehouse_views."
        ) from exc
    coverage = warehouse.coverage(settings)
    return MaterializeResult(
        metadata={
            "path": str(path),
            "series": coverage.height,
            "bars": int(coverage["bars"].sum()) if coverage.height else 0,
        }
    )
