"""Fixtures for live tests: a tmp lake holding a few real days of the bundled BTC sample."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from drydock.ohlcv import SeriesKey, write_day
from drydock.sample import read_sample, sample_days

BTC = SeriesKey("binance", "BTC/USDT", "1h")
DAYS = 6


@pytest.fixture
def lake(home: Path) -> SeriesKey:
    """The first ``DAYS`` UTC days of the BTC 1h sample, written to the test's lake."""
    frame = read_sample(BTC)
    for day in sample_days(BTC)[:DAYS]:
        write_day(BTC, day, frame.filter(pl.col("ts").dt.date() == day))
    return BTC
