"""Bar quality on hand-built frames: duplicates, gaps, invalid and misaligned rows, outliers, freshness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from drydock.quality import OUTLIER_WINDOW, Freshness, check_bars, freshness


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def bars(
    closes: list[float], start: datetime = utc(2024, 3, 1), step: timedelta = timedelta(hours=1)
) -> pl.DataFrame:
    """Sane bars around each close (open = previous close), one per step."""
    opens = [closes[0], *closes[:-1]]
    return pl.DataFrame(
        {
            "ts": [start + i * step for i in range(len(closes))],
            "open": opens,
            "high": [max(o, c) * 1.001 for o, c in zip(opens, closes, strict=True)],
            "low": [min(o, c) * 0.999 for o, c in zip(opens, closes, strict=True)],
            "close": closes,
            "volume": [1.0] * len(closes),
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


def wiggle(n: int, sigma: float = 0.001, seed: int = 7) -> list[float]:
    """Closes of a seeded random walk with normal log returns of ``sigma``."""
    steps = np.random.default_rng(seed).normal(0.0, sigma, n)
    return [float(c) for c in 100.0 * np.exp(np.cumsum(steps))]


def test_clean_frame() -> None:
    report = check_bars(bars(wiggle(48)), "1h")
    assert report.clean and report.first_offenders == ()
    assert (report.bars, report.duplicates, report.missing, report.invalid) == (48, 0, 0, 0)
    assert (report.misaligned, report.outliers) == (0, 0)
    assert (report.first_bar, report.last_bar) == (utc(2024, 3, 1), utc(2024, 3, 2, 23))


def test_known_duplicates_gaps_invalid_and_misaligned_rows() -> None:
    frame = bars(wiggle(24))
    frame = frame.filter(~pl.col("ts").dt.hour().is_in([3, 4, 10]))  # 3 missing bars
    extra = pl.concat(
        [
            frame.slice(0, 1),  # duplicate of 00:00
            frame.slice(1, 1).with_columns(pl.col("ts") + timedelta(minutes=30)),  # 01:30
            frame.slice(5, 1).with_columns(high=pl.lit(1.0)),  # 07:00 again, high below low
        ]
    )
    report = check_bars(pl.concat([frame, extra]), "1h")
    assert (report.bars, report.duplicates, report.missing) == (24, 1, 3)
    assert (report.invalid, report.misaligned, report.outliers) == (1, 1, 0)
    assert not report.clean
    assert report.first_offenders == (
        "2024-03-01 00:00 UTC: duplicate timestamp",
        "2024-03-01 01:30 UTC: timestamp not aligned to 1h",
        "2024-03-01 03:00 UTC: 2 missing bars",
        "2024-03-01 07:00 UTC: high below open/close/low",
        "2024-03-01 10:00 UTC: 1 missing bar",
    )


def test_missing_bars_count_the_span_edges_inclusively() -> None:
    frame = bars(wiggle(10), start=utc(2024, 3, 1, 5))  # 05:00 .. 14:00
    report = check_bars(frame, "1h", utc(2024, 3, 1), utc(2024, 3, 1, 23, 59))
    assert report.missing == 5 + 9  # 00..04 before, 15..23 after
    assert report.first_offenders == (
        "2024-03-01 00:00 UTC: 5 missing bars",
        "2024-03-01 15:00 UTC: 9 missing bars",
    )
    assert check_bars(frame, "1h", utc(2024, 3, 1, 4, 30)).missing == 0  # 04:30 snaps up to 05:00


def test_weekly_grid_opens_on_mondays() -> None:
    frame = bars(
        wiggle(5), start=utc(2024, 1, 1), step=timedelta(weeks=1)
    )  # 2024-01-01 is a Monday
    assert check_bars(frame, "1w", utc(2023, 12, 28), utc(2024, 2, 12)).missing == 2


def test_outliers_are_flagged_beyond_n_robust_sigma_and_not_counted_as_problems() -> None:
    closes = wiggle(200)
    closes[100:] = [c * 1.05 for c in closes[100:]]  # one +5% jump: ~50 sigma of 0.1% moves
    report = check_bars(bars(closes), "1h")
    assert report.outliers == 1 and report.clean
    assert report.first_offenders == (
        "2024-03-05 04:00 UTC: return +5.0% beyond 12 sigma (outlier)",
    )
    assert check_bars(bars(closes), "1h", outlier_sigma=80).outliers == 0


def test_outlier_scale_is_local_to_its_window() -> None:
    calm, wild = wiggle(OUTLIER_WINDOW, 0.001), wiggle(OUTLIER_WINDOW, 0.02, seed=8)
    closes = calm + [c * calm[-1] / wild[0] for c in wild]
    closes[500] *= 1.03  # +3%: extreme among 0.1% moves, ordinary among 2% moves
    closes[1500] *= 1.03
    report = check_bars(bars(closes), "1h")
    assert report.first_offenders[:2] == (
        "2024-03-21 20:00 UTC: return +3.0% beyond 12 sigma (outlier)",  # bar 500 and back down
        "2024-03-21 21:00 UTC: return -3.1% beyond 12 sigma (outlier)",
    )
    # only bars near the regime change are judged by a partly calm window; bar 1500 is not
    assert report.outliers < 25
    assert "2024-04-12 12:00 UTC" not in " ".join(
        check_bars(bars(closes[1001:]), "1h").first_offenders
    )
    assert check_bars(bars(closes[1001:]), "1h").outliers == 0


def test_flat_series_falls_back_to_the_mean_deviation() -> None:
    closes = [100.0] * 60
    closes[30] = 101.0  # MAD is 0; the mean absolute deviation still sees this as an outlier
    assert check_bars(bars(closes), "1h").outliers == 2
    assert check_bars(bars([100.0] * 60), "1h").outliers == 0


def test_empty_and_all_invalid_frames() -> None:
    empty = bars([1.0]).clear()
    report = check_bars(empty, "1h")
    assert (report.bars, report.missing, report.first_bar) == (0, 0, None)
    broken = bars([1.0, 2.0]).with_columns(close=pl.lit(-1.0))
    report = check_bars(broken, "1h", utc(2024, 3, 1), utc(2024, 3, 1, 3))
    assert (report.invalid, report.missing, report.last_bar) == (2, 4, None)


@pytest.mark.parametrize(
    ("now", "lag", "stale"),
    [
        (utc(2024, 3, 1, 10, 30), timedelta(0), False),  # the 10:00 bar is still open
        (utc(2024, 3, 1, 11, 0), timedelta(0), False),  # 10:00 just closed
        (utc(2024, 3, 1, 13, 59), timedelta(hours=2, minutes=59), False),  # 2 complete bars behind
        (utc(2024, 3, 1, 14, 0), timedelta(hours=3), True),  # 3 bars behind
    ],
)
def test_freshness_is_stale_when_more_than_two_bars_behind(
    now: datetime, lag: timedelta, stale: bool
) -> None:
    assert freshness(utc(2024, 3, 1, 10), "1h", now) == Freshness(lag, stale)


def test_freshness_without_bars_is_stale() -> None:
    assert freshness(None, "1d", utc(2024, 3, 1)) == Freshness(None, True)


def test_a_sessions_calendar_expects_no_weekend_bars() -> None:
    """Daily bars of a weekday venue over two weeks (2024-03-04 is a Monday): the 4 weekend days
    are gaps on the 24/7 calendar and expected closures on the sessions one, while a missing
    Wednesday is a gap on both."""
    days = [utc(2024, 3, 4) + timedelta(days=i) for i in range(14)]
    weekdays = [d for d in days if d.weekday() < 5 and d != utc(2024, 3, 13)]
    frame = bars([100.0 + i for i in range(len(weekdays))]).with_columns(
        pl.Series("ts", weekdays).cast(pl.Datetime("us", "UTC"))
    )
    crypto = check_bars(frame, "1d", utc(2024, 3, 4), utc(2024, 3, 15))
    sessions = check_bars(frame, "1d", utc(2024, 3, 4), utc(2024, 3, 15), calendar="sessions")
    assert (crypto.missing, sessions.missing) == (3, 1)  # Sat 9, Sun 10, Wed 13 vs Wed 13 only
    assert [o for o in sessions.first_offenders if "missing" in o] == [
        "2024-03-13 00:00 UTC: 1 missing bar"
    ]
    with pytest.raises(Exception, match="not one of 24/7, sessions"):
        check_bars(frame, "1d", calendar="weekends")


def test_the_catalog_takes_a_calendar_and_refuses_unknown_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from drydock.catalog import load_catalog
    from drydock.errors import ConfigError

    path = tmp_path / "series.toml"
    path.write_text('[[series]]\nexchange = "binance"\nsymbol = "BTC/USDT"\ntimeframes = ["1d"]\n'
                    'start = 2024-01-01\ncalendar = "sessions"\n')  # fmt: skip
    [entry] = load_catalog(path).entries
    assert entry.calendar == "sessions"
    path.write_text(path.read_text().replace('"sessions"', '"weekends"'))
    with pytest.raises(ConfigError, match="calendar"):
        load_catalog(path)
