"""The market-data assets, partitioned by series and UTC day, built from the series catalog.

:func:`build_market_data` makes ``ohlcv`` (trade bars), ``mark_prices`` (mark bars of perps whose
venue has them), ``funding_rates`` (perps) and the unpartitioned ``warehouse_views`` over one
``MultiPartitionsDefinition`` (``series`` x ``day``, see docs/architecture.md "Partitions"). Every
asset uses the single-run backfill policy: a range backfill is one run, which fetches each series'
whole day range once and writes it with one ``write_bars`` call. All downloads of a run finish
before anything is written, so a failed download leaves the lake as it was.
"""

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import duckdb
import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    BetaWarning,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
)

from drydock import funding, ohlcv, warehouse
from drydock.logs import get_logger
from drydock.ohlcv import SeriesKey
from drydock.settings import get_settings
from pipelines.checks import bar_check_results, bar_check_specs, series_quality
from pipelines.resources import OhlcvSource
from pipelines.series import SeriesPlan, format_series, parse_series, plan_for

log = get_logger(__name__)

#: First day partition when no catalog start is earlier.
PARTITIONS_START = date(2021, 1, 1)
SERIES_DIM, DAY_DIM = "series", "day"
GROUP = "market_data"


def day_partitions(first_day: date) -> DailyPartitionsDefinition:
    """UTC day partitions from ``first_day`` to yesterday."""
    return DailyPartitionsDefinition(start_date=first_day.isoformat(), timezone="UTC")


def market_partitions(specs: Sequence[str], first_day: date) -> MultiPartitionsDefinition:
    """One partition per series (in the given order) and UTC day."""
    return MultiPartitionsDefinition(
        {SERIES_DIM: StaticPartitionsDefinition(list(specs)), DAY_DIM: day_partitions(first_day)}
    )


def run_days(context: AssetExecutionContext) -> dict[str, list[date]]:
    """The run's UTC days per series spec (a range run covers a rectangle of both)."""
    days: dict[str, set[date]] = {}
    for key in context.partition_keys:
        if isinstance(key, MultiPartitionKey):
            dims = key.keys_by_dimension
            spec, day = dims[SERIES_DIM], dims[DAY_DIM]
        else:
            day, spec = str(key).split("|", 1)
        days.setdefault(spec, set()).add(date.fromisoformat(day))
    return {spec: sorted(values) for spec, values in days.items()}


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def contiguous(days: Sequence[date]) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _wanted_days(
    context: AssetExecutionContext, plan: SeriesPlan, days: list[date], what: str
) -> list[date]:
    """``days`` inside the catalog's range; the others are skipped with a log line."""
    kept = [day for day in days if plan.covers(day)]
    if len(kept) < len(days):
        context.log.info(
            f"{plan.spec}: {len(days) - len(kept)} day(s) of {what} outside the catalog's "
            f"{plan.start or '...'} .. {plan.end or '...'} skipped"
        )
    return kept


def _is_latest(days: Sequence[date]) -> bool:
    last = day_partitions(PARTITIONS_START).get_last_partition_key()
    return last is not None and days[-1] >= date.fromisoformat(last)


@dataclass(frozen=True, slots=True)
class _Work:
    key: SeriesKey
    days: list[date]
    calendar: str = "24/7"


def _fetch_bars(source: OhlcvSource, work: _Work, dataset: str) -> pl.DataFrame:
    """The series' bars over its days, one ``fetch_range`` per run of consecutive days."""
    frames = [
        source.fetch_range(
            work.key, day_start(first), day_start(last + timedelta(days=1)), dataset=dataset
        )
        for first, last in contiguous(work.days)
    ]
    return pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]


def _plan(plans: Mapping[str, SeriesPlan], spec: str) -> SeriesPlan:
    return plans.get(spec) or plan_for(parse_series(spec))


def load_bars(
    context: AssetExecutionContext,
    source: OhlcvSource,
    plans: Mapping[str, SeriesPlan],
    dataset: str,
) -> MaterializeResult[None]:
    """Fetch every series of the run, then write each with one ``write_bars`` call and check it."""
    work: list[_Work] = []
    for spec, days in run_days(context).items():
        plan = _plan(plans, spec)
        if dataset == "mark_prices" and not plan.mark_prices:
            context.log.debug(f"{spec}: no mark prices wanted (spot, or mark_prices = false)")
            continue
        kept = _wanted_days(context, plan, days, dataset)
        if not kept:
            continue
        if dataset != "ohlcv" and not source.supports(dataset, plan.key):
            context.log.info(f"{spec}: {source.describe()} has no {dataset}; skipped")
            continue
        work.append(_Work(plan.key, kept, plan.calendar))
    context.log.info(
        f"{dataset}: {len(work)} series, {sum(len(w.days) for w in work)} series-day(s) from "
        f"{source.describe()}"
    )
    fetched = [(w, _fetch_bars(source, w, dataset)) for w in work]  # all before any write
    now = datetime.now(UTC)
    series: dict[str, dict[str, Any]] = {}
    qualities = []
    files: set[str] = set()
    reasons: dict[str, int] = {}
    for w, frame in fetched:
        spec = format_series(w.key)
        report = ohlcv.write_bars(w.key, frame, days=w.days, dataset=dataset)
        start, end = day_start(w.days[0]), day_start(w.days[-1] + timedelta(days=1))
        # Freshness: the latest day partition should hold bars up to its end (or up to now).
        quality = series_quality(
            w.key, dataset, start, end, now=min(now, end) if _is_latest(w.days) else None,
            calendar=w.calendar,
        )  # fmt: skip
        qualities.append(quality)
        files.update(str(p) for p in report.files)
        for reason, count in report.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
        with_bars = frame.filter(pl.col("ts").is_not_null())["ts"].dt.date().unique().len()
        series[spec] = {
            "days": len(w.days),
            "days_with_bars": min(with_bars, len(w.days)),
            "empty_days": len(w.days) - min(with_bars, len(w.days)),
            "files": len(report.files),
            "rows_written": report.rows_written,
            "rows_quarantined": report.rows_quarantined,
            "reasons": report.reasons,
            **quality.as_json(),
        }
        if report.rows_quarantined:
            context.log.warning(f"{spec}: {report.rows_quarantined} row(s) quarantined {reasons}")
        log.info(
            f"{dataset}.materialized",
            run_id=context.run_id,
            series=spec,
            first_day=w.days[0].isoformat(),
            last_day=w.days[-1].isoformat(),
            days=len(w.days),
            files=len(report.files),
            rows_written=report.rows_written,
            rows_quarantined=report.rows_quarantined,
            source=source.describe(),
        )
    return MaterializeResult(
        metadata={
            "rows_written": sum(s["rows_written"] for s in series.values()),
            "rows_quarantined": sum(s["rows_quarantined"] for s in series.values()),
            "quarantine_reasons": MetadataValue.json(reasons),
            "files": len(files),
            "series_count": len(series),
            "source": source.describe(),
            "series": MetadataValue.json(series),
        },
        check_results=bar_check_results(dataset, qualities),
    )


def load_funding(
    context: AssetExecutionContext, source: OhlcvSource, plans: Mapping[str, SeriesPlan]
) -> MaterializeResult[None]:
    """Funding of the run's perps (one fetch per perp and run of days, then one write each)."""
    perps: dict[tuple[str, str], set[date]] = {}
    for spec, days in run_days(context).items():
        plan = _plan(plans, spec)
        if not plan.funding:
            continue
        kept = _wanted_days(context, plan, days, "funding")
        if kept and source.supports("funding_rates", plan.key):
            perps.setdefault((plan.key.exchange, plan.key.symbol), set()).update(kept)
        elif kept:
            context.log.info(f"{spec}: {source.describe()} has no funding rates; skipped")
    fetched = []
    for (exchange, symbol), day_set in perps.items():
        days = sorted(day_set)
        frames = [
            source.fetch_funding(
                exchange, symbol, day_start(first), day_start(last + timedelta(days=1))
            )
            for first, last in contiguous(days)
        ]
        fetched.append((exchange, symbol, days, pl.concat(frames)))
    summary: dict[str, dict[str, Any]] = {}
    for exchange, symbol, days, frame in fetched:
        report = funding.write_funding(exchange, symbol, frame, days=days)
        written = frame.filter(pl.col("ts").dt.date().is_in(days))["ts"]
        summary[f"{exchange}:{symbol}"] = {
            "days": len(days),
            "rows_written": report.rows_written,
            "rows_quarantined": report.rows_quarantined,
            "reasons": report.reasons,
            "first": written.min().isoformat() if written.len() else None,  # type: ignore[union-attr]
            "last": written.max().isoformat() if written.len() else None,  # type: ignore[union-attr]
        }
        if report.rows_quarantined:
            context.log.warning(f"{exchange} {symbol}: {report.reasons} funding row(s) quarantined")
    return MaterializeResult(
        metadata={
            "rows_written": sum(s["rows_written"] for s in summary.values()),
            "rows_quarantined": sum(s["rows_quarantined"] for s in summary.values()),
            "source": source.describe(),
            "perps": MetadataValue.json(summary),
        }
    )


def refresh_warehouse() -> MaterializeResult[None]:
    """Rebuild the DuckDB views over the whole lake (a clear failure when the file is held)."""
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


@dataclass(frozen=True, slots=True)
class MarketData:
    """The market-data assets over one partitions definition."""

    partitions: MultiPartitionsDefinition
    ohlcv: AssetsDefinition
    mark_prices: AssetsDefinition
    funding_rates: AssetsDefinition
    warehouse_views: AssetsDefinition

    def assets(self) -> list[AssetsDefinition]:
        return [self.ohlcv, self.mark_prices, self.funding_rates, self.warehouse_views]


def build_market_data(plans: Mapping[str, SeriesPlan], first_day: date | None = None) -> MarketData:
    """The assets for ``plans`` (series partitions in their order); days from ``first_day``
    (default: the earliest catalog start, at most :data:`PARTITIONS_START`)."""
    starts = [p.start for p in plans.values() if p.start is not None]
    first = first_day or min([PARTITIONS_START, *starts])
    partitions = market_partitions(list(plans), first)
    plans = dict(plans)
    # single_run() is flagged beta; it is the documented way to backfill a range in one run.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        single_run = BackfillPolicy.single_run()

        @asset(
            name="ohlcv",
            kinds={"parquet"},
            check_specs=bar_check_specs("ohlcv"),
            partitions_def=partitions,
            backfill_policy=single_run,
            group_name=GROUP,
        )
        def ohlcv_asset(
            context: AssetExecutionContext, ohlcv_source: OhlcvSource
        ) -> MaterializeResult:  # type: ignore[type-arg]
            """Trade bars in the Parquet lake, per series and UTC day; bad rows quarantined."""
            return load_bars(context, ohlcv_source, plans, "ohlcv")

        @asset(
            name="mark_prices",
            kinds={"parquet"},
            check_specs=bar_check_specs("mark_prices"),
            partitions_def=partitions,
            backfill_policy=single_run,
            group_name=GROUP,
        )
        def mark_prices_asset(
            context: AssetExecutionContext, ohlcv_source: OhlcvSource
        ) -> MaterializeResult:  # type: ignore[type-arg]
            """Mark-price bars of perps whose venue publishes them (other series: nothing)."""
            return load_bars(context, ohlcv_source, plans, "mark_prices")

        @asset(
            name="funding_rates",
            kinds={"parquet"},
            partitions_def=partitions,
            backfill_policy=single_run,
            group_name=GROUP,
        )
        def funding_asset(
            context: AssetExecutionContext, ohlcv_source: OhlcvSource
        ) -> MaterializeResult[None]:
            """Funding rates of perps (rate per interval; the views add ``annualized``)."""
            return load_funding(context, ohlcv_source, plans)

    @asset(
        name="warehouse_views",
        deps=[ohlcv_asset, mark_prices_asset, funding_asset],
        group_name=GROUP,
        kinds={"duckdb"},
    )
    def views_asset() -> MaterializeResult[None]:
        """DuckDB views over the whole lake, rebuilt once per run (not per partition)."""
        return refresh_warehouse()

    return MarketData(partitions, ohlcv_asset, mark_prices_asset, funding_asset, views_asset)
