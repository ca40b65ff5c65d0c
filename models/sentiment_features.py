"""Per-asset hourly sentiment features from scored news items, with exponential decay.

For each asset and UTC hour bucket ``[ts, ts + 1h)`` (a row's ``ts`` is the bucket start):
``count`` items published in it, their ``mean_score``, and ``decayed``: the impact-weighted mean
score of every item published before the bucket's end, each weighted by
``impact * 0.5 ** (age / half_life)`` where ``age`` is measured from the bucket's end; ``weight``
is that denominator (the decayed mass of news, 0 when there is none). A row uses only items
published before ``ts + 1h``: a 1h bar opening at ``ts`` may read it at its close, never earlier.
Hours without news between an asset's first item and ``end`` carry the decayed value on.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from drydock.errors import ConfigError

HOUR = timedelta(hours=1)
COLUMNS = ("ts", "asset", "count", "mean_score", "decayed", "weight")


def _check(items: pl.DataFrame, half_life_hours: float) -> None:
    if not (math.isfinite(half_life_hours) and half_life_hours > 0):
        raise ConfigError(f"half_life_hours={half_life_hours!r} must be > 0, e.g. 6.")
    missing = [c for c in ("ts", "asset", "score", "impact") if c not in items.columns]
    if missing:
        raise ConfigError(f"Scored items lack {', '.join(missing)}; pass ts, asset, score, impact.")
    bad = items.with_row_index("row").filter(
        ~pl.col("score").is_between(-1, 1)
        | ~pl.col("impact").is_between(0, 1)
        | pl.col("score").is_null()
        | pl.col("impact").is_null()
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise ConfigError(
            f"Scored item {row['row']} ({row['asset']}, {row['ts']}) has score {row['score']!r} "
            f"and impact {row['impact']!r}: scores must be in [-1, 1] and impacts in [0, 1] "
            "(NaN is neither); fix the scorer's output before building features."
        )


def _hour(moment: Any) -> datetime:
    if not isinstance(moment, datetime):
        raise ConfigError(f"Expected a UTC datetime, got {moment!r}.")
    return moment.replace(minute=0, second=0, microsecond=0)


def sentiment_features(
    items: pl.DataFrame, half_life_hours: float = 6.0, end: datetime | None = None
) -> pl.DataFrame:
    """Hourly features (:data:`COLUMNS`) per asset from ``items`` (ts, asset, score, impact)."""
    _check(items, half_life_hours)
    if items.height == 0:
        return pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), "asset": pl.String,
                                    "count": pl.UInt32, "mean_score": pl.Float64,
                                    "decayed": pl.Float64, "weight": pl.Float64})  # fmt: skip
    items = items.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    rate = math.log(2) / (half_life_hours * 3600.0)
    frames = []
    for (asset,), group in items.sort("ts").group_by("asset", maintain_order=True):
        first = _hour(group["ts"].min())
        last = _hour(end or group["ts"].max())
        hours = pl.datetime_range(first, last, HOUR, time_unit="us", time_zone="UTC", eager=True)
        n = hours.len()
        bucket = ((group["ts"] - first).dt.total_microseconds() // 3_600_000_000).to_numpy()
        keep = bucket < n
        bucket = bucket[keep]
        ends = (bucket + 1) * 3600.0
        age = ends - (group["ts"] - first).dt.total_microseconds().to_numpy()[keep] / 1e6
        w = group["impact"].to_numpy()[keep] * np.exp(-rate * age)
        num = np.bincount(bucket, w * group["score"].to_numpy()[keep], minlength=n)
        den = np.bincount(bucket, w, minlength=n)
        count = np.bincount(bucket, minlength=n)
        sums = np.bincount(bucket, group["score"].to_numpy()[keep], minlength=n)
        step = math.exp(-rate * 3600.0)
        acc_num, acc_den = np.empty(n), np.empty(n)
        a = b = 0.0
        for t in range(n):
            a, b = a * step + num[t], b * step + den[t]
            acc_num[t], acc_den[t] = a, b
        with np.errstate(invalid="ignore", divide="ignore"):
            decayed = np.where(acc_den > 0, acc_num / acc_den, np.nan)
            mean = np.where(count > 0, sums / np.maximum(count, 1), np.nan)
        frames.append(
            pl.DataFrame(
                {
                    "ts": hours,
                    "asset": asset,
                    "count": count.astype(np.uint32),
                    "mean_score": mean,
                    "decayed": decayed,
                    "weight": acc_den,
                }
            )
        )
    out = pl.concat(frames).sort("asset", "ts")
    return out.with_columns(pl.col("mean_score", "decayed").fill_nan(None))
