"""Quality checks of the bar assets (``ohlcv``, ``mark_prices``), emitted by the asset per run.

The asset declares :func:`bar_check_specs` and yields :func:`bar_check_results` with its
materialization, so each check sees exactly the series and days the run wrote, read back from the
lake (not the downloaded frame): a file damaged behind the writer's back is caught too. Checks:
``schema``, ``duplicates``, ``ohlc_sanity`` (errors); ``gaps`` (missing bars inside the span the
lake covers), ``freshness`` (only when the run includes the latest day) and ``outliers`` (a log
return beyond N sigma; flagged, never dropped) are warnings, because real venues do have gaps and
violent bars. Every result names its count and the first offenders.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from drydock import lake, ohlcv
from drydock.ohlcv import BAR_SCHEMA, SeriesKey
from drydock.quality import MAX_OFFENDERS, OUTLIER_SIGMA, check_bars, freshness
from drydock.timeframes import timeframe_delta
from pipelines.series import format_series

#: Check name -> (severity when it fails, description).
BAR_CHECKS: dict[str, tuple[AssetCheckSeverity, str]] = {
    "schema": (AssetCheckSeverity.ERROR, "Every lake file has the bar schema (ts, OHLCV)."),
    "duplicates": (AssetCheckSeverity.ERROR, "No two bars share a timestamp."),
    "ohlc_sanity": (
        AssetCheckSeverity.ERROR,
        "Finite positive prices, high >= max(open, close), low <= min(open, close), volume >= 0, "
        "timestamps aligned to the timeframe.",
    ),
    "gaps": (AssetCheckSeverity.WARN, "No bar missing inside the span the lake covers."),
    "freshness": (
        AssetCheckSeverity.WARN,
        "On the latest day partition: at most two bars missing between the newest bar and the "
        "end of that day (or now, if earlier).",
    ),
    "outliers": (
        AssetCheckSeverity.WARN,
        "No log return beyond 8 robust sigma (drydock.quality; flagged, never dropped).",
    ),
}


@dataclass(frozen=True, slots=True)
class SeriesQuality:
    """What the checks found in one series' lake bars of one run's window."""

    spec: str
    bars: int
    first_bar: datetime | None
    last_bar: datetime | None
    counts: dict[str, int]
    offenders: dict[str, list[str]] = field(default_factory=dict)
    lag: timedelta | None = None

    def as_json(self) -> dict[str, Any]:
        """Plain values for Dagster metadata and ``ingest`` reports."""
        return {
            "bars": self.bars,
            "first_bar": self.first_bar.isoformat() if self.first_bar else None,
            "last_bar": self.last_bar.isoformat() if self.last_bar else None,
            **self.counts,
            "lag_hours": None if self.lag is None else round(self.lag.total_seconds() / 3600, 2),
            "offenders": self.offenders,
        }


def bar_check_specs(asset: str) -> list[AssetCheckSpec]:
    """The checks a bar asset declares (and always yields)."""
    return [
        AssetCheckSpec(name, asset=AssetKey(asset), description=description)
        for name, (_, description) in BAR_CHECKS.items()
    ]


def _when(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def _lake_window(
    key: SeriesKey, dataset: str, start: datetime, end: datetime
) -> tuple[pl.DataFrame, list[str], datetime | None, datetime | None]:
    """Raw lake rows of ``[start, end)`` (no validation), schema problems, series' first/last bar."""
    files = ohlcv.series_files(key, dataset)
    if not files:
        return pl.DataFrame(schema=BAR_SCHEMA), [], None, None
    problems: list[str] = []
    frames: list[pl.DataFrame] = []
    for path in files:
        first, stop = ohlcv.period_span(lake.partition_values(path)[ohlcv.PERIOD])
        if stop <= start.date() or first > end.date():
            continue
        frame = pl.read_parquet(path, hive_partitioning=False)
        if frame.schema != pl.Schema(BAR_SCHEMA):
            problems.append(f"{path.name} in {path.parent.name}: {dict(frame.schema)}")
            frame = ohlcv.conform(frame, sort=False)
        frames.append(ohlcv.window(frame, start, end))
    first_bar = pl.read_parquet(files[0], columns=["ts"])["ts"].min()
    last_bar = pl.read_parquet(files[-1], columns=["ts"])["ts"].max()
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=BAR_SCHEMA)
    lo = first_bar if isinstance(first_bar, datetime) else None
    hi = last_bar if isinstance(last_bar, datetime) else None
    return frame, problems, lo, hi


def _category(offender: str) -> str:
    if offender.endswith(("missing bar", "missing bars")):
        return "gaps"
    if offender.endswith("(outlier)"):
        return "outliers"
    if offender.endswith("duplicate timestamp"):
        return "duplicates"
    return "ohlc_sanity"


def series_quality(
    key: SeriesKey,
    dataset: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    outlier_sigma: float = OUTLIER_SIGMA,
    calendar: str = "24/7",
) -> SeriesQuality:
    """Check the lake's bars of ``key`` in ``[start, end)``; ``now`` set = judge freshness too.

    Gaps are counted inside the window clipped to the first and last bar the lake holds for the
    series, so a series starting mid-window is not "missing" its first days.
    """
    frame, schema_problems, series_first, series_last = _lake_window(key, dataset, start, end)
    step = timeframe_delta(key.timeframe)
    span_start = max(start, series_first) if series_first is not None else None
    span_end = min(end - step, series_last) if series_last is not None else None
    if span_start is None or span_end is None or span_start > span_end:
        span_start = span_end = None
    report = check_bars(frame, key.timeframe, span_start, span_end, outlier_sigma=outlier_sigma,
                        calendar=calendar)  # fmt: skip
    if span_start is None:  # nothing stored in this window: no gap to speak of
        report = replace(report, missing=0)
    offenders: dict[str, list[str]] = {}
    for text in report.first_offenders:
        if report.missing or _category(text) != "gaps":
            offenders.setdefault(_category(text), []).append(text)
    if schema_problems:
        offenders["schema"] = schema_problems[:MAX_OFFENDERS]
    counts = {
        "schema_problems": len(schema_problems),
        "duplicates": report.duplicates,
        "invalid": report.invalid + report.misaligned,
        "missing": report.missing,
        "outliers": report.outliers,
    }
    lag = None
    if now is not None:
        fresh = freshness(series_last, key.timeframe, now)
        lag = fresh.lag
        counts["stale"] = int(fresh.stale)
        if fresh.stale:
            last = "no bar at all" if series_last is None else f"last bar {_when(series_last)}"
            offenders["freshness"] = [f"{last}, {lag or 'never'} behind {_when(now)}"]
    return SeriesQuality(
        spec=format_series(key),
        bars=report.bars,
        first_bar=report.first_bar,
        last_bar=report.last_bar,
        counts=counts,
        offenders=offenders,
        lag=lag,
    )


_COUNT_OF = {
    "schema": "schema_problems",
    "duplicates": "duplicates",
    "ohlc_sanity": "invalid",
    "gaps": "missing",
    "freshness": "stale",
    "outliers": "outliers",
}


def bar_check_results(asset: str, qualities: list[SeriesQuality]) -> list[AssetCheckResult]:
    """One result per check over every series of the run: count, per-series counts, offenders."""
    results = []
    for name, (severity, _) in BAR_CHECKS.items():
        count_key = _COUNT_OF[name]
        per_series = {q.spec: q.counts[count_key] for q in qualities if count_key in q.counts}
        total = sum(per_series.values())
        offenders = [f"{q.spec} {text}" for q in qualities for text in q.offenders.get(name, [])][
            :MAX_OFFENDERS
        ]
        metadata: dict[str, Any] = {
            "count": total,
            "series_checked": len(per_series),
            "bars": sum(q.bars for q in qualities),
            "first_offenders": MetadataValue.json(offenders),
            "per_series": MetadataValue.json(per_series),
        }
        if name == "freshness" and not per_series:
            metadata["note"] = "not evaluated: the run does not include the latest day"
        results.append(
            AssetCheckResult(
                asset_key=AssetKey(asset),
                check_name=name,
                passed=total == 0,
                severity=severity,
                metadata=metadata,
                description=None if total == 0 else f"{total} {name}: {'; '.join(offenders)}",
            )
        )
    return results
