"""``ingest()``: load OHLCV into the lake through the Dagster assets, from Python or the CLI.

Each group of series sharing a date range is one in-process Dagster run over a partition range
(the asset's single-run backfill policy), recorded by default on the DAGSTER_HOME instance the UI
reads (``record=False`` uses a throwaway instance; see :mod:`pipelines.instance` for why the
recorded path is fast).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import ccxt
from dagster import (
    DagsterExecutionStepExecutionError,
    DagsterInstance,
    ExecuteInProcessResult,
    JsonMetadataValue,
    MetadataValue,
    materialize,
)
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from drydock.errors import DrydockError
from drydock.logs import configure_logging, get_logger
from drydock.ohlcv import SeriesKey
from drydock.sample import sample_days, sample_series
from drydock.settings import get_settings
from pipelines.assets import DAILY, PARTITIONS_START, ohlcv_asset, warehouse_views
from pipelines.checks import bar_integrity
from pipelines.instance import open_instance
from pipelines.resources import OhlcvSource, SampleOhlcvSource, make_source
from pipelines.series import format_series

# Run tags that make one run cover a partition range (Dagster's backfill tags).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Result of the bar_integrity check for one series: PASS, WARN (gaps) or ERROR."""

    severity: str
    bars: int
    duplicates: int
    missing: int
    invalid: int

    @property
    def passed(self) -> bool:
        return self.severity == "PASS"


@dataclass(frozen=True, slots=True)
class SeriesReport:
    """What one series' ingestion wrote, and what the check found in the lake afterwards."""

    key: SeriesKey
    start: date
    end: date
    files: int
    rows_written: int
    rows_quarantined: int
    empty_days: int
    check: CheckReport | None


@dataclass(frozen=True, slots=True)
class IngestReport:
    """Outcome of :func:`ingest`: one entry per series, the Dagster run ids, the warehouse file."""

    source: str
    series: tuple[SeriesReport, ...]
    run_ids: tuple[str, ...]
    warehouse_path: Path

    def get(self, key: SeriesKey) -> SeriesReport:
        """The report of one series."""
        for report in self.series:
            if report.key == key:
                return report
        raise KeyError(key)

    @property
    def rows_written(self) -> int:
        return sum(r.rows_written for r in self.series)

    @property
    def rows_quarantined(self) -> int:
        return sum(r.rows_quarantined for r in self.series)


@dataclass(frozen=True, slots=True)
class _Plan:
    key: SeriesKey
    start: date
    end: date


def last_partition_day() -> date:
    """The newest complete UTC day (the last partition of the daily ``ohlcv`` asset)."""
    last = DAILY.get_last_partition_key()
    assert last is not None
    return date.fromisoformat(last)


def _plan(
    keys: Sequence[SeriesKey], start: date | None, end: date | None, source: OhlcvSource
) -> list[_Plan]:
    """Resolve each series' date range and reject impossible ranges with a clear message."""
    first_day, last_day = date.fromisoformat(PARTITIONS_START), last_partition_day()
    for name, value in (("start", start), ("end", end)):
        if value is not None and not first_day <= value <= last_day:
            raise DrydockError(
                f"The {name} date {value} is outside the ingestible days {first_day} .. {last_day} "
                "(daily partitions start on 2021-01-01 and end with yesterday, UTC)."
            )
    if start is not None and end is not None and start > end:
        raise DrydockError(f"The start date {start} is after the end date {end}; swap them.")
    if not isinstance(source, SampleOhlcvSource):
        if start is None:
            raise DrydockError(
                f"A start date is required with the {source.describe()} source (it has no fixed "
                "coverage): pass --start YYYY-MM-DD (and optionally --end, default yesterday)."
            )
        return [_Plan(key, start, end or last_day) for key in keys]
    plans, coverage = [], []
    for key in keys:
        days = sample_days(key)
        coverage.append(f"{key} {days[0]} .. {days[-1]}")
        lo, hi = max(start or days[0], days[0]), min(end or days[-1], days[-1])
        if lo <= hi:
            plans.append(_Plan(key, lo, hi))
    if not plans:
        raise DrydockError(
            f"No bundled sample data between {start or 'the start'} and {end or 'the end'}. "
            f"The samples cover: {'; '.join(coverage)}. Pick dates inside these ranges."
        )
    return plans


def _run(
    instance: DagsterInstance,
    source: OhlcvSource,
    specs: list[str],
    start: date,
    end: date,
) -> ExecuteInProcessResult:
    """One in-process run materializing ``ohlcv`` (and its check, and the views) over a range."""
    run_config: dict[str, Any] = {
        "ops": {
            "ohlcv": {"config": {"series": specs}},
            "ohlcv_bar_integrity": {"config": {"series": specs}},
        },
        "loggers": {"console": {"config": {"log_level": "ERROR"}}},
    }
    single = start == end
    try:
        return materialize(
            [ohlcv_asset, warehouse_views, bar_integrity],
            instance=instance,
            resources={"ohlcv_source": source},
            run_config=run_config,
            partition_key=start.isoformat() if single else None,
            tags=None
            if single
            else {RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()},
        )
    except (DagsterExecutionStepExecutionError, ccxt.BaseError) as exc:
        # materialize re-raises the user's exception; older Dagster wrapped it.
        cause = exc.user_exception if isinstance(exc, DagsterExecutionStepExecutionError) else exc
        if isinstance(cause, DrydockError):
            raise cause from None
        if isinstance(cause, ccxt.BaseError):
            raise DrydockError(
                f"{source.describe()} failed while ingesting {', '.join(specs)} "
                f"{start} .. {end}: {type(cause).__name__}: {cause}. Check the network, the "
                "symbol and the exchange's status, then rerun (finished days are kept)."
            ) from cause
        raise


def _check_report(counts: dict[str, int] | None) -> CheckReport | None:
    if counts is None:
        return None
    severity = (
        "ERROR"
        if counts["duplicates"] or counts["invalid"]
        else ("WARN" if counts["missing"] else "PASS")
    )
    return CheckReport(
        severity, counts["bars"], counts["duplicates"], counts["missing"], counts["invalid"]
    )


def _series_counts(metadata: Mapping[str, MetadataValue]) -> dict[str, dict[str, int]]:
    """The per-series ``series`` JSON the asset and the check attach to their results."""
    value = metadata["series"]
    assert isinstance(value, JsonMetadataValue) and isinstance(value.data, dict)
    return cast(dict[str, dict[str, int]], value.data)


def _reports(result: ExecuteInProcessResult, plans: list[_Plan]) -> list[SeriesReport]:
    loads = _series_counts(result.asset_materializations_for_node("ohlcv")[0].metadata)
    checks: dict[str, dict[str, int]] = {}
    for evaluation in result.get_asset_check_evaluations():
        checks.update(_series_counts(evaluation.metadata))
    reports = []
    for plan in plans:
        spec = format_series(plan.key)
        load = loads[spec]
        reports.append(
            SeriesReport(
                key=plan.key,
                start=plan.start,
                end=plan.end,
                files=load["files"],
                rows_written=load["rows_written"],
                rows_quarantined=load["rows_quarantined"],
                empty_days=load["empty_days"],
                check=_check_report(checks.get(spec)),
            )
        )
    return reports


def _log_series(run_id: str, report: SeriesReport, source: str, recorded: bool) -> None:
    """One structured line per series and run: what was written and what the check found."""
    check = report.check
    log.info(
        "ingest.series",
        run_id=run_id,
        series=format_series(report.key),
        start=report.start.isoformat(),
        end=report.end.isoformat(),
        days=(report.end - report.start).days + 1,
        files=report.files,
        rows_written=report.rows_written,
        rows_quarantined=report.rows_quarantined,
        empty_days=report.empty_days,
        check=check.severity if check else None,
        missing=check.missing if check else None,
        duplicates=check.duplicates if check else None,
        invalid=check.invalid if check else None,
        source=source,
        recorded=recorded,
    )


def ingest(
    series: list[SeriesKey] | None = None,
    start: date | None = None,
    end: date | None = None,
    source: str | OhlcvSource = "sample",
    *,
    exchange_id: str | None = None,
    record: bool = True,
    progress: bool = True,
) -> IngestReport:
    """Ingest ``series`` (default: every bundled sample series) for ``start`` .. ``end`` inclusive.

    With the sample source the dates default to, and are clipped to, each series' coverage. Each
    group of series with the same range is one Dagster run over that partition range, recorded
    on the DAGSTER_HOME instance so the Dagster UI shows the runs, per-partition materializations
    and check results; ``record=False`` runs on a throwaway instance instead.
    """
    configure_logging()
    resource = source if isinstance(source, OhlcvSource) else make_source(source, exchange_id)
    keys = list(series) if series is not None else sample_series()
    if not keys:
        raise DrydockError("No series to ingest: pass at least one series (none are bundled).")
    plans = _plan(keys, start, end, resource)
    groups: dict[tuple[date, date], list[_Plan]] = {}
    for plan in plans:
        groups.setdefault((plan.start, plan.end), []).append(plan)
    reports: list[SeriesReport] = []
    run_ids: list[str] = []
    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(),
    )
    with (
        open_instance(ephemeral=not record) as instance,
        Progress(*columns, console=console, disable=not progress, transient=False) as bar,
    ):
        tasks = {
            span: bar.add_task(
                ", ".join(str(p.key) for p in group) + f"  {span[0]} .. {span[1]}",
                total=(span[1] - span[0]).days + 1,
                start=False,
            )
            for span, group in groups.items()
        }
        for span, group in groups.items():
            specs = [format_series(p.key) for p in group]
            bar.start_task(tasks[span])
            result = _run(instance, resource, specs, *span)
            run_ids.append(result.run_id)
            group_reports = _reports(result, group)
            reports.extend(group_reports)
            for report in group_reports:
                _log_series(result.run_id, report, resource.describe(), record)
            bar.update(tasks[span], completed=(span[1] - span[0]).days + 1)
    order = {plan.key: i for i, plan in enumerate(plans)}
    reports.sort(key=lambda r: order[r.key])
    outcome = IngestReport(
        source=resource.describe(),
        series=tuple(reports),
        run_ids=tuple(run_ids),
        warehouse_path=get_settings().warehouse_path,
    )
    log.info(
        "ingest.finished",
        run_ids=list(run_ids),
        series=len(reports),
        rows_written=outcome.rows_written,
        rows_quarantined=outcome.rows_quarantined,
        source=outcome.source,
        recorded=record,
    )
    return outcome
