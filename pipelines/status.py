"""What ``drydock data status`` shows: per series coverage, gaps, quarantine, runs and freshness.

A pure computation over the lake (and, when given, the Dagster materializations and the series
catalog) returning dataclasses; the CLI only renders them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drydock import ohlcv
from drydock.errors import CorruptDataError, DrydockError
from drydock.importers import import_parse_errors
from drydock.quality import check_bars, freshness
from drydock.series import SeriesKey

#: Materialization records read at most (newest first) when looking for each series' last run.
MAX_RECORDS = 50_000


@dataclass(frozen=True, slots=True)
class SeriesStatus:
    """One series (of one bar dataset) as the status command reports it."""

    exchange: str
    symbol: str
    timeframe: str
    dataset: str
    rows: int
    first_bar: datetime | None
    last_bar: datetime | None
    gaps: int
    outliers: int
    quarantined: int
    last_materialization: datetime | None
    lag: timedelta | None
    stale: bool
    in_lake: bool
    error: str | None = None

    @property
    def key(self) -> SeriesKey:
        return SeriesKey(self.exchange, self.symbol, self.timeframe)

    def to_json(self) -> dict[str, Any]:
        """Stable keys; times as ISO strings (UTC), the lag in seconds, absent values null."""

        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "dataset": self.dataset,
            "rows": self.rows,
            "first_bar": iso(self.first_bar),
            "last_bar": iso(self.last_bar),
            "gaps": self.gaps,
            "outliers": self.outliers,
            "quarantined": self.quarantined,
            "last_materialization": iso(self.last_materialization),
            "lag_seconds": None if self.lag is None else int(self.lag.total_seconds()),
            "stale": self.stale,
            "in_lake": self.in_lake,
            "error": self.error,
        }


def _wanted(key: SeriesKey, exchange: str | None, symbol: str | None, tf: str | None) -> bool:
    return (
        (exchange is None or key.exchange == exchange)
        and (symbol is None or key.symbol == symbol)
        and (tf is None or key.timeframe == tf)
    )


def _quarantined(key: SeriesKey, dataset: str, lake_dir: Path | None) -> int:
    return ohlcv.quarantined(key, lake_dir, dataset).height + import_parse_errors(
        key, lake_dir, dataset
    )


def series_status(
    key: SeriesKey,
    dataset: str,
    now: datetime,
    *,
    lake_dir: Path | None = None,
    materialized: datetime | None = None,
) -> SeriesStatus:
    """Status of one series; a damaged lake file is reported in ``error``, not raised."""
    quarantined = _quarantined(key, dataset, lake_dir)
    try:
        frame = ohlcv.read(key, lake_dir=lake_dir, dataset=dataset)
    except CorruptDataError as exc:
        fresh = freshness(None, key.timeframe, now)
        return SeriesStatus(
            *(key.exchange, key.symbol, key.timeframe, dataset, 0, None, None, 0, 0),
            quarantined,
            materialized,
            fresh.lag,
            fresh.stale,
            True,
            str(exc),
        )
    except DrydockError:  # no bars (e.g. a catalog series not downloaded yet)
        frame = None
    quality = None if frame is None else check_bars(frame, key.timeframe)
    last = None if quality is None else quality.last_bar
    fresh = freshness(last, key.timeframe, now)
    return SeriesStatus(
        exchange=key.exchange,
        symbol=key.symbol,
        timeframe=key.timeframe,
        dataset=dataset,
        rows=0 if quality is None else quality.bars,
        first_bar=None if quality is None else quality.first_bar,
        last_bar=last,
        gaps=0 if quality is None else quality.missing,
        outliers=0 if quality is None else quality.outliers,
        quarantined=quarantined,
        last_materialization=materialized,
        lag=fresh.lag,
        stale=fresh.stale,
        in_lake=quality is not None,
    )


def collect_status(
    now: datetime,
    *,
    lake_dir: Path | None = None,
    exchange: str | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    materialized: Mapping[str, Mapping[SeriesKey, datetime]] | None = None,
    catalog: Iterable[SeriesKey] = (),
) -> list[SeriesStatus]:
    """Every series in the lake (both bar datasets) plus catalog series with no data yet.

    ``materialized`` maps a dataset (the Dagster asset of the same name) to each series' last
    materialization, see :func:`dagster_materializations`.
    """
    runs = materialized or {}
    rows: list[SeriesStatus] = []
    seen: set[SeriesKey] = set()
    for dataset in ohlcv.DATASETS:
        for key in ohlcv.available_series(lake_dir, dataset):
            if not _wanted(key, exchange, symbol, timeframe):
                continue
            when = runs.get(dataset, {}).get(key)
            rows.append(series_status(key, dataset, now, lake_dir=lake_dir, materialized=when))
            if dataset == ohlcv.DATASET:
                seen.add(key)
    for key in catalog:
        if key not in seen and _wanted(key, exchange, symbol, timeframe):
            seen.add(key)
            rows.append(
                series_status(
                    key,
                    ohlcv.DATASET,
                    now,
                    lake_dir=lake_dir,
                    materialized=runs.get(ohlcv.DATASET, {}).get(key),
                )
            )
    return sorted(rows, key=lambda r: (r.exchange, r.symbol, r.timeframe, r.dataset))


def _series_of_partition(partition: str | None) -> SeriesKey | None:
    """The series dimension of a multi-partition key like '2024-01-01|binance:BTC/USDT:1h'."""
    from pipelines.series import parse_series

    if not partition or "|" not in partition:
        return None
    for part in partition.split("|"):
        if ":" in part:
            try:
                return parse_series(part)
            except DrydockError:
                return None
    return None


def _series_of_metadata(record: Any) -> list[SeriesKey]:
    """Series named in a run's ``series`` metadata (the single-dimension daily asset)."""
    from pipelines.series import parse_series

    materialization = record.asset_materialization
    value = (
        getattr(materialization.metadata.get("series"), "value", None) if materialization else None
    )
    keys = []
    for spec in value if isinstance(value, dict) else {}:
        try:
            keys.append(parse_series(spec))
        except DrydockError:
            continue
    return keys


def last_materializations(instance: Any, asset: str = "ohlcv") -> dict[SeriesKey, datetime]:
    """Newest materialization time of ``asset`` per series recorded on a Dagster instance.

    The series comes from the multi-partition key's series dimension, or else from the run's
    ``series`` metadata. At most :data:`MAX_RECORDS` records are read, newest first.
    """
    from datetime import UTC

    from dagster import AssetKey

    found: dict[SeriesKey, datetime] = {}
    cursor = None
    read = 0
    while read < MAX_RECORDS:
        page = instance.fetch_materializations(AssetKey(asset), limit=1000, cursor=cursor)
        for record in page.records:
            key = _series_of_partition(record.partition_key)
            keys = [key] if key is not None else _series_of_metadata(record)
            when = datetime.fromtimestamp(record.timestamp, UTC)
            for each in keys:
                found.setdefault(each, when)
        read += len(page.records)
        if not page.has_more or not page.records:
            break
        cursor = page.cursor
    return found


def dagster_materializations() -> dict[str, dict[SeriesKey, datetime]]:
    """Per bar dataset, :func:`last_materializations` of its asset on the instance ``drydock
    ingest`` records on (the settings' ``dagster/`` folder, what ``make dagster`` opens).

    {} when that folder is missing or empty (nothing was ever recorded); it is never created here.
    """
    from drydock.settings import get_settings

    home = get_settings().dagster_home
    if not home.is_dir() or not any(home.iterdir()):
        return {}
    from pipelines.instance import open_instance

    with open_instance(ephemeral=False) as instance:
        return {dataset: last_materializations(instance, dataset) for dataset in ohlcv.DATASETS}


def catalog_series() -> list[SeriesKey]:
    """Enabled series of the catalog; none when the catalog file does not exist.

    A malformed catalog raises its one-line :class:`~drydock.errors.ConfigError`.
    """
    from drydock.catalog import load_catalog
    from drydock.settings import get_settings

    path = get_settings().series_catalog
    return load_catalog(path).series() if path.exists() else []
