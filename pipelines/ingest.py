"""``ingest()``: load market data into the lake through the Dagster assets, from Python or the CLI.

Each group of series sharing a source, a date range and a kind is one in-process Dagster run over
a series x day partition range (the assets' single-run backfill policy), recorded by default on
the DAGSTER_HOME instance the UI reads (``record=False`` uses a throwaway instance; see
:mod:`pipelines.instance` for why the recorded path is fast).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import polars as pl
from dagster import (
    AssetsDefinition,
    DagsterExecutionStepExecutionError,
    DagsterInstance,
    ExecuteInProcessResult,
    JsonMetadataValue,
    MultiPartitionKey,
    materialize,
)
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from drydock import ohlcv
from drydock.adapters.ccxt import CcxtError
from drydock.catalog import load_catalog
from drydock.errors import DrydockError
from drydock.logs import configure_logging, get_logger
from drydock.ohlcv import SeriesKey
from drydock.sample import sample_days
from drydock.settings import get_settings
from pipelines.assets import (
    DAY_DIM,
    PARTITIONS_START,
    SERIES_DIM,
    MarketData,
    build_market_data,
    day_partitions,
)
from pipelines.instance import open_instance
from pipelines.resources import OhlcvSource, SampleOhlcvSource, make_source
from pipelines.series import SeriesPlan, format_series, plan_for

# Run tags that make one run cover a partition range (Dagster's backfill tags).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The bar checks of one series: PASS, WARN (gaps, outliers, stale) or ERROR (bad rows)."""

    severity: str
    bars: int
    duplicates: int
    missing: int
    invalid: int
    outliers: int = 0
    stale: bool = False
    first_offenders: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.severity == "PASS"


@dataclass(frozen=True, slots=True)
class SeriesReport:
    """What one series' ingestion wrote, and what the checks found in the lake afterwards.

    ``files`` counts the period files written (a year of 1h bars is one file), ``days_with_bars``
    the UTC days that hold bars now; ``funding_rows`` and ``mark_rows`` are None for spot series.
    """

    key: SeriesKey
    start: date
    end: date
    files: int
    rows_written: int
    rows_quarantined: int
    empty_days: int
    check: CheckReport | None
    days_with_bars: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    first_bar: str | None = None
    last_bar: str | None = None
    funding_rows: int | None = None
    mark_rows: int | None = None


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
    plan: SeriesPlan
    start: date
    end: date
    source: OhlcvSource

    @property
    def key(self) -> SeriesKey:
        return self.plan.key


def last_partition_day() -> date:
    """The newest complete UTC day (the last day partition of the market-data assets)."""
    last = day_partitions(PARTITIONS_START).get_last_partition_key()
    assert last is not None
    return date.fromisoformat(last)


def _last_stored_day(key: SeriesKey) -> date | None:
    """The UTC day of the newest stored bar (keeping up to date re-fetches it: it may be partial)."""
    files = ohlcv.series_files(key)
    if not files:
        return None
    last = pl.read_parquet(files[-1], columns=["ts"])["ts"].max()
    return last.date() if isinstance(last, datetime) else None


def _sources(
    keys: Sequence[SeriesKey], source: str | OhlcvSource, exchange_id: str | None
) -> dict[SeriesKey, OhlcvSource]:
    """The source of each series: the given one, or one ccxt source per exchange."""
    if isinstance(source, OhlcvSource):
        return dict.fromkeys(keys, source)
    if source != "ccxt":
        shared = make_source(source, exchange_id)
        return dict.fromkeys(keys, shared)
    made: dict[str, OhlcvSource] = {}
    out: dict[SeriesKey, OhlcvSource] = {}
    for key in keys:
        venue = exchange_id or key.exchange
        if venue not in made:
            made[venue] = make_source("ccxt", venue)
        out[key] = made[venue]
    return out


def _plan(
    plans: Sequence[SeriesPlan],
    start: date | None,
    end: date | None,
    sources: Mapping[SeriesKey, OhlcvSource],
) -> list[_Plan]:
    """Resolve each series' date range and reject impossible ranges with a clear message.

    The catalog's start and end bound every range. Sample: the bundled coverage (in the
    source's ``sample_dir``). Other sources: from ``start``, else from the newest stored bar's
    day (keep up to date), else from the catalog start; up to ``end`` or yesterday.
    """
    last_day = last_partition_day()
    if end is not None and end > last_day:
        raise DrydockError(
            f"The end date {end} is after {last_day}, the newest complete UTC day; day "
            "partitions end with yesterday. Pass an earlier --end or leave it out."
        )
    if start is not None and end is not None and start > end:
        raise DrydockError(f"The start date {start} is after the end date {end}; swap them.")
    out, coverage = [], []
    for plan in plans:
        source = sources[plan.key]
        bounds = [d for d in (start, plan.start) if d is not None]
        if isinstance(source, SampleOhlcvSource):
            sample_dir = Path(source.sample_dir) if source.sample_dir else None
            days = sample_days(plan.key, sample_dir)
            coverage.append(f"{plan.key} {days[0]} .. {days[-1]}")
            lo = max([days[0], *bounds])
            hi = min(d for d in (end, days[-1], plan.end) if d is not None)
        else:
            first = start or _last_stored_day(plan.key) or plan.start
            if first is None:
                raise DrydockError(
                    f"A start date is required for {plan.key} with the {source.describe()} "
                    "source: it is not in the series catalog and the lake holds none of its bars. "
                    "Pass --start YYYY-MM-DD (and optionally --end, default yesterday) or add "
                    "it to the catalog with a start date."
                )
            lo = max([first, *bounds])
            hi = min(d for d in (end, last_day, plan.end) if d is not None)
            coverage.append(f"{plan.key} {plan.start or first} .. {plan.end or last_day}")
        if lo <= hi:
            out.append(_Plan(plan, lo, hi, source))
    if not out:
        raise DrydockError(
            f"Nothing to ingest between {start or 'the start'} and {end or 'the end'}. "
            f"The series cover: {'; '.join(coverage)}. Pick dates inside these ranges."
        )
    return out


def _selection(market: MarketData, plans: Sequence[_Plan]) -> list[AssetsDefinition]:
    """The assets a run needs: bars and views always, mark prices and funding for perps."""
    chosen = [market.ohlcv]
    if any(p.plan.mark_prices for p in plans):
        chosen.append(market.mark_prices)
    if any(p.plan.funding for p in plans):
        chosen.append(market.funding_rates)
    return [*chosen, market.warehouse_views]


def _run(
    instance: DagsterInstance, source: OhlcvSource, group: list[_Plan]
) -> ExecuteInProcessResult:
    """One in-process run over the group's series x days rectangle (one partition range)."""
    start, end = group[0].start, group[0].end
    market = build_market_data({p.plan.spec: p.plan for p in group}, first_day=start)
    first = MultiPartitionKey({DAY_DIM: start.isoformat(), SERIES_DIM: group[0].plan.spec})
    last = MultiPartitionKey({DAY_DIM: end.isoformat(), SERIES_DIM: group[-1].plan.spec})
    single = first == last
    specs = [p.plan.spec for p in group]
    try:
        return materialize(
            market.assets(),
            selection=_selection(market, group),
            instance=instance,
            resources={"ohlcv_source": source},
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            partition_key=first if single else None,
            tags=None if single else {RANGE_START_TAG: first, RANGE_END_TAG: last},
        )
    except (DagsterExecutionStepExecutionError, CcxtError) as exc:
        # materialize re-raises the user's exception; older Dagster wrapped it.
        cause = exc.user_exception if isinstance(exc, DagsterExecutionStepExecutionError) else exc
        if isinstance(cause, DrydockError):
            raise cause from None
        if isinstance(cause, CcxtError):
            raise DrydockError(
                f"{source.describe()} failed while ingesting {', '.join(specs)} "
                f"{start} .. {end}: {type(cause).__name__}: {cause}. Check the network, the "
                "symbol and the exchange's status, then rerun (nothing of this run was written)."
            ) from cause
        raise


def _json(result: ExecuteInProcessResult, node: str, name: str) -> dict[str, dict[str, Any]]:
    """A JSON metadata entry of ``node``'s materialization ({} when the node did not run)."""
    events = result.asset_materializations_for_node(node)
    if not events:
        return {}
    value = events[0].metadata[name]
    assert isinstance(value, JsonMetadataValue) and isinstance(value.data, dict)
    return cast(dict[str, dict[str, Any]], value.data)


def _check_report(load: Mapping[str, Any]) -> CheckReport | None:
    if not load.get("bars") and not load.get("first_bar"):
        return None
    errors = load["duplicates"] or load["invalid"] or load["schema_problems"]
    warnings = load["missing"] or load["outliers"] or load.get("stale")
    offenders = tuple(text for texts in load.get("offenders", {}).values() for text in texts)
    return CheckReport(
        "ERROR" if errors else ("WARN" if warnings else "PASS"),
        load["bars"],
        load["duplicates"],
        load["missing"],
        load["invalid"],
        load["outliers"],
        bool(load.get("stale")),
        offenders,
    )


def _reports(result: ExecuteInProcessResult, plans: list[_Plan]) -> list[SeriesReport]:
    loads = _json(result, "ohlcv", "series")
    marks = _json(result, "mark_prices", "series")
    funding = _json(result, "funding_rates", "perps")
    reports = []
    for plan in plans:
        spec = plan.plan.spec
        load = loads.get(spec, {})
        perp = f"{plan.key.exchange}:{plan.key.symbol}"
        reports.append(
            SeriesReport(
                key=plan.key,
                start=plan.start,
                end=plan.end,
                files=load.get("files", 0),
                rows_written=load.get("rows_written", 0),
                rows_quarantined=load.get("rows_quarantined", 0),
                empty_days=load.get("empty_days", 0),
                check=_check_report(load) if load else None,
                days_with_bars=load.get("days_with_bars", 0),
                reasons=dict(load.get("reasons", {})),
                first_bar=load.get("first_bar"),
                last_bar=load.get("last_bar"),
                funding_rows=funding[perp]["rows_written"] if perp in funding else None,
                mark_rows=marks[spec]["rows_written"] if spec in marks else None,
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
        outliers=check.outliers if check else None,
        funding_rows=report.funding_rows,
        mark_rows=report.mark_rows,
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
    """Ingest ``series`` (default: every enabled catalog series) for ``start`` .. ``end`` inclusive.

    The catalog's start and end bound each series; the sample source clips to its coverage; other
    sources default to keeping up to date (from the newest stored bar, else the catalog start, to
    yesterday). Series sharing a source, a range and a kind (spot/perp) are one Dagster run over
    that partition range, recorded on the DAGSTER_HOME instance so the Dagster UI shows the runs,
    per-partition materializations and check results; ``record=False`` uses a throwaway instance.
    """
    configure_logging()
    catalog = load_catalog()
    keys = list(series) if series is not None else catalog.series()
    if not keys:
        raise DrydockError(
            f"No series to ingest: the catalog {catalog.path} enables none; set enabled = true "
            "on an entry or pass series explicitly."
        )
    sources = _sources(keys, source, exchange_id)
    plans = _plan([plan_for(k, catalog) for k in keys], start, end, sources)
    groups: dict[tuple[int, date, date, bool], list[_Plan]] = {}
    for plan in plans:
        group_key = (id(plan.source), plan.start, plan.end, plan.plan.perp)
        groups.setdefault(group_key, []).append(plan)
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
                ", ".join(str(p.key) for p in group) + f"  {span[1]} .. {span[2]}",
                total=(span[2] - span[1]).days + 1,
                start=False,
            )
            for span, group in groups.items()
        }
        for span, group in groups.items():
            bar.start_task(tasks[span])
            resource = group[0].source
            result = _run(instance, resource, group)
            run_ids.append(result.run_id)
            group_reports = _reports(result, group)
            reports.extend(group_reports)
            for report in group_reports:
                _log_series(result.run_id, report, resource.describe(), record)
            bar.update(tasks[span], completed=(span[2] - span[1]).days + 1)
    order = {plan.key: i for i, plan in enumerate(plans)}
    reports.sort(key=lambda r: order[r.key])
    described = sorted({p.source.describe() for p in plans})
    outcome = IngestReport(
        source=", ".join(described),
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
