"""Research fixtures: a lake holding the bundled BTC sample for one quarter."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from drydock import ohlcv
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample

BTC = SeriesKey("binance", "BTC/USDT", "1h")


@pytest.fixture
def btc_lake(home: Path) -> SeriesKey:
    """Write 2024-01-01..2024-03-31 of the BTC sample into the tmp lake."""
    frame = read_sample(BTC).filter(pl.col("ts").dt.date() < date(2024, 4, 1))
    for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
        ohlcv.write_day(BTC, day, part)  # type: ignore[arg-type]
    return BTC
