"""Partitioned integrity check of the ``ohlcv`` lake asset.

The check reads only the lake files of the partitions it runs for (``partitions_def`` is set, so
a one-day run checks one day, a backfill run checks its range). Duplicates and OHLC sanity
violations (including a null, NaN or inf value in any column) are errors; bars missing inside the
series' covered span are a warning, because real exchange exports do have gaps (the bundled
ETH/USDT sample misses 7 hourly bars).
"""

import warnings
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

import polars as pl
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    Config,
    MetadataValue,
    PreviewWarning,
    asset_check,
)
from pydantic import Field

from drydock import lake, ohlcv
from drydock.ohlcv import BarQuality, SeriesKey, bar_quality
from drydock.timeframes import timeframe_delta
from drydock.types import BAR_SCHEMA
from pipelines.assets import DAILY, ohlcv_asset
from pipelines.series import format_series, parse_series


class IntegrityConfig(Config):
    """Which series the check inspects."""

    series: list[str] | None = Field(
        default=None,
        description="Series as 'exchange:symbol:timeframe'; empty for every series in the lake.",
    )


def _file_date(path: Path) -> date:
    return date.fromisoformat(lake.partition_values(path)["date"])


def series_quality(key: SeriesKey, start: datetime, end: datetime) -> BarQuality | None:
    """Integrity of ``key``'s lake bars with ``start <= ts < end``; None when it has none there.

    Missing bars are counted inside the series' covered span: the window clipped to the first
    and last bar the lake holds for the series, so a series starting mid-window is not "missing".
    """
    files = lake.partition_files(ohlcv.DATASET, key.keys())
    if not files:
        return None
    first = pl.read_parquet(files[0], columns=["ts"])["ts"].min()
    last = pl.read_parquet(files[-1], columns=["ts"])["ts"].max()
    inside = [f for f in files if start.date() <= _file_date(f) < end.date()]
    frame = (
        pl.read_parquet(inside, columns=list(BAR_SCHEMA), hive_partitioning=False)
        if inside
        else pl.DataFrame(schema=BAR_SCHEMA)
    )
    assert isinstance(first, datetime) and isinstance(last, datetime)
    span_start = max(start, first)
    span_end = min(end - timeframe_delta(key.timeframe), last)
    if span_start > span_end:
        return None
    return bar_quality(frame, key.timeframe, span_start, span_end)


# partitions_def on a check is flagged preview; without it the check would read the whole lake.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", PreviewWarning)

    @asset_check(
        asset=ohlcv_asset,
        name="bar_integrity",
        partitions_def=DAILY,
        description="No duplicate bars or OHLC violations (error); no missing bars (warning).",
    )
    def bar_integrity(
        context: AssetCheckExecutionContext, config: IntegrityConfig
    ) -> AssetCheckResult:
        """Check the run's partition window of each series for duplicates, gaps and bad OHLC."""
        window = context.partition_time_window
        keys = (
            [parse_series(spec) for spec in config.series]
            if config.series is not None
            else ohlcv.available_series()
        )
        results = {format_series(k): series_quality(k, window.start, window.end) for k in keys}
        found = {spec: quality for spec, quality in results.items() if quality is not None}
        duplicates = sum(q.duplicates for q in found.values())
        invalid = sum(q.invalid for q in found.values())
        missing = sum(q.missing for q in found.values())
        severity = AssetCheckSeverity.ERROR if duplicates or invalid else AssetCheckSeverity.WARN
        for spec, quality in found.items():
            if not quality.clean:
                context.log.warning(f"{spec}: {quality}")
        return AssetCheckResult(
            passed=not (duplicates or invalid or missing),
            severity=severity,
            metadata={
                "bars": sum(q.bars for q in found.values()),
                "duplicates": duplicates,
                "missing_bars": missing,
                "invalid_bars": invalid,
                "series_checked": len(found),
                "series": MetadataValue.json({spec: asdict(q) for spec, q in found.items()}),
            },
        )
