"""Resampling: a hand-computed example, incomplete buckets, bad multiples, and real exchange bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from drydock.errors import DrydockError
from drydock.ohlcv import BAR_SCHEMA, conform
from drydock.resample import Resampled, resample

FIXTURES = Path(__file__).parent.parent / "fixtures" / "resample"
T0 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


def bars(
    rows: list[tuple[int, float, float, float, float, float]], step: str = "1m"
) -> pl.DataFrame:
    """Bars at ``T0 + k * step`` from (k, open, high, low, close, volume) tuples."""
    unit = {"m": "minutes", "h": "hours", "d": "days"}[step[-1]]
    size = int(step[:-1])
    return conform(
        pl.DataFrame(
            {
                "ts": [T0 + timedelta(**{unit: size * r[0]}) for r in rows],
                **{c: [float(r[i + 1]) for r in rows] for i, c in enumerate(list(BAR_SCHEMA)[1:])},
            }
        )
    )


def test_hand_computed_1m_to_5m() -> None:
    # Ten 1m bars 00:00..00:09 make two 5m bars; the numbers below are worked out by hand.
    frame = bars(
        [
            (0, 100, 101, 99, 100.5, 1),
            (1, 100.5, 103, 100, 102, 2),
            (2, 102, 102.5, 98, 99, 3),
            (3, 99, 100, 97.5, 99.5, 4),
            (4, 99.5, 100, 99, 99.8, 5),
            (5, 99.8, 105, 99.8, 104, 10),
            (6, 104, 104.5, 103, 103.5, 0),
            (7, 103.5, 106, 103, 105.5, 20),
            (8, 105.5, 105.5, 101, 102, 30),
            (9, 102, 103, 101.5, 102.5, 40),
        ]
    )
    out = resample(frame, "5m")
    assert isinstance(out, Resampled) and out.dropped_incomplete == 0
    assert out.frame.schema == pl.Schema(BAR_SCHEMA)
    assert out.frame.rows() == [
        (T0, 100.0, 103.0, 97.5, 99.8, 15.0),
        (T0 + timedelta(minutes=5), 99.8, 106.0, 99.8, 102.5, 100.0),
    ]


def test_incomplete_buckets_dropped_or_kept() -> None:
    # 00:00..00:05 complete (6 bars) -> 1 bar of 3m kept twice; 00:06..00:07 only 2 of 3 bars.
    frame = bars([(k, 10 + k, 11 + k, 9 + k, 10.5 + k, 1) for k in range(8)])
    strict = resample(frame, "3m")
    assert strict.dropped_incomplete == 1
    assert strict.frame["ts"].to_list() == [T0, T0 + timedelta(minutes=3)]
    loose = resample(frame, "3m", complete_only=False)
    assert loose.dropped_incomplete == 0
    assert loose.frame.row(2) == (T0 + timedelta(minutes=6), 16.0, 18.0, 15.0, 17.5, 2.0)
    # A hole in the middle of a bucket drops that bucket only.
    holed = frame.filter(pl.col("ts") != T0 + timedelta(minutes=4))
    assert resample(holed, "3m").frame["ts"].to_list() == [T0]


def test_weeks_start_monday_and_months_are_calendar() -> None:
    # 2024-01-01 is a Monday; hourly bars Jan 1 .. Mar 31 2024 (leap February: 29 x 24 = 696).
    hours = (datetime(2024, 4, 1, tzinfo=UTC) - T0) // timedelta(hours=1)
    frame = bars([(k, 100, 102, 99, 101, 1) for k in range(hours)], step="1h")
    weekly = resample(frame, "1w", source="1h")
    assert weekly.frame["ts"][0] == T0
    assert all(ts.weekday() == 0 for ts in weekly.frame["ts"].to_list())
    assert (weekly.frame.height, weekly.dropped_incomplete) == (13, 0)  # 91 days = 13 weeks
    assert set(weekly.frame["volume"].to_list()) == {168.0}
    assert resample(frame.head(hours - 1), "1w", source="1h").dropped_incomplete == 1
    monthly = resample(frame, "1M", source="1h")
    assert monthly.frame["ts"].dt.month().to_list() == [1, 2, 3]
    assert monthly.frame["volume"].to_list() == [744.0, 696.0, 744.0]
    two_days = resample(frame, "2d", source="1h")
    # 2d buckets count from the epoch like exchanges' 2d/3d bars: 2024-01-01 is epoch day 19,723
    # (odd), so its bucket opened on Dec 31 and holds only 24 of 48 hours here -> dropped.
    assert two_days.frame["ts"][0] == T0 + timedelta(days=1)
    assert two_days.dropped_incomplete == 1 and two_days.frame.height == 45


@pytest.mark.parametrize(
    ("source", "to"),
    [("1h", "90m"), ("1m", "30s"), ("5m", "7m"), ("1h", "30m"), ("3d", "1w"), ("7m", "1M")],
)
def test_target_not_a_whole_multiple_is_refused(source: str, to: str) -> None:
    frame = bars([(0, 1, 1, 1, 1, 1)], step="1d" if source.endswith("d") else "1h")
    with pytest.raises(
        DrydockError, match=rf"Cannot resample {source} bars to {to}|Invalid timeframe"
    ):
        resample(frame, to, source=source)


def test_seven_minutes_from_one_minute_is_fine() -> None:
    # 7m buckets count from the epoch: T0 is epoch minute 28,401,120 = 7 x 4,057,302 + 6, so
    # minutes 0..13 fall into buckets opening at -6, +1 and +8 minutes; only the middle is full.
    frame = bars([(k, 1, 2, 0.5, 1.5, 1) for k in range(14)])
    strict = resample(frame, "7m")
    assert strict.frame["ts"].to_list() == [T0 + timedelta(minutes=1)]
    assert (strict.frame["volume"].to_list(), strict.dropped_incomplete) == ([7.0], 2)
    loose = resample(frame, "7m", complete_only=False).frame
    assert loose["volume"].to_list() == [1.0, 7.0, 6.0]


def test_bad_input_is_refused_with_the_fix() -> None:
    frame = bars([(k, 1, 2, 0.5, 1.5, 1) for k in range(4)])
    with pytest.raises(DrydockError, match="strictly increasing"):
        resample(frame.reverse(), "2m")
    with pytest.raises(DrydockError, match="strictly increasing"):
        resample(pl.concat([frame, frame.tail(1)]), "2m")
    with pytest.raises(DrydockError, match="conform"):
        resample(frame.with_columns(pl.col("ts").dt.replace_time_zone(None)), "2m")
    with pytest.raises(DrydockError, match="not aligned to the source timeframe 1m"):
        resample(frame.with_columns(pl.col("ts") + timedelta(seconds=30)), "2m")


def _cdd(name: str) -> pl.DataFrame:
    """A CryptoDataDownload Binance export (newest first, ``unix`` in ms) as bars in BTC."""
    raw = pl.read_csv(FIXTURES / name)
    return conform(
        raw.select(
            pl.col("unix").cast(pl.Datetime("ms")).alias("ts"),
            "open",
            "high",
            "low",
            "close",
            pl.col("Volume BTC").alias("volume"),
        )
    )


def test_binance_1h_to_1d_matches_binance_daily_bars() -> None:
    """Binance BTC/USDT 1h (1,006 bars) -> 1d against Binance's own 1d bars, 2021-02-01..03-14.

    Open, high, low and close match exactly on all 42 days. Volume (BTC) matches to float64
    rounding (relative error < 1e-12: 24 decimal strings summed in binary). Binance days start at
    00:00 UTC, like ours. Two days miss an hour (maintenance on 02-11 05:00 and 03-06 03:00 UTC,
    no trading then): ``complete_only`` drops them; kept, they still equal the exchange's bars.
    """
    hourly = _cdd("cdd_binance_BTCUSDT_1h_2021-02-01_2021-03-14.csv")
    daily = _cdd("cdd_binance_BTCUSDT_1d_2021-02-01_2021-03-14.csv")
    assert (hourly.height, daily.height) == (1_006, 42)
    strict = resample(hourly, "1d", source="1h")
    assert (strict.frame.height, strict.dropped_incomplete) == (40, 2)
    missing = set(daily["ts"].dt.date().to_list()) - set(strict.frame["ts"].dt.date().to_list())
    assert sorted(d.isoformat() for d in missing) == ["2021-02-11", "2021-03-06"]
    ours = resample(hourly, "1d", source="1h", complete_only=False).frame
    assert ours["ts"].to_list() == daily["ts"].to_list()
    assert ours.select("open", "high", "low", "close").equals(
        daily.select("open", "high", "low", "close")
    )
    relative = (ours["volume"] / daily["volume"] - 1).abs().max()
    assert isinstance(relative, float) and relative < 1e-12


def test_perp_1m_to_1h_to_1d_equals_1m_to_1d() -> None:
    """BTC-PERP 1m bars for 2022-01-01..02 (2,880, contiguous; nautilus' test data, venue not
    stated, so no exchange 1h bars to compare): resampling in two steps equals one step, and the
    hourly bars agree with the minute bars they were built from."""
    raw = pl.read_csv(FIXTURES / "nautilus_btc-perp_1m_2022-01-01_2022-01-02.csv")
    minutes = conform(raw.rename({"timestamp": "ts"}).with_columns(pl.col("ts").str.to_datetime()))
    assert minutes.height == 2_880
    hourly = resample(minutes, "1h")
    assert (hourly.frame.height, hourly.dropped_incomplete) == (48, 0)
    direct = resample(minutes, "1d").frame
    two_step = resample(hourly.frame, "1d", source="1h").frame
    assert direct.select("ts", "open", "high", "low", "close").equals(
        two_step.select("ts", "open", "high", "low", "close")
    )
    assert direct["volume"].to_list() == pytest.approx(two_step["volume"].to_list(), rel=1e-12)
    first_hour = minutes.head(60)
    assert hourly.frame.row(0) == (
        first_hour["ts"][0],
        first_hour["open"][0],
        first_hour["high"].max(),
        first_hour["low"].min(),
        first_hour["close"][-1],
        pytest.approx(first_hour["volume"].sum(), rel=1e-12),
    )
    assert direct["open"].to_list() == [46_197.0, minutes["open"][1_440]] and direct.height == 2
