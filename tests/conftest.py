"""Shared fixtures: every test gets its own DRYDOCK_HOME so no test touches ./data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from drydock.ohlcv import SeriesKey
from drydock.settings import REPO_ROOT, Settings

# Reuse vectorbt's numba compilation cache across runs (set before numba is imported).
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO_ROOT / "data" / "numba_cache"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh DRYDOCK_HOME for one test; returns its path."""
    root = tmp_path / "drydock-home"
    root.mkdir()
    monkeypatch.setenv("DRYDOCK_HOME", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster"))
    (root / "dagster").mkdir()
    yield root


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings()


@pytest.fixture
def btc_lake(home: Path) -> SeriesKey:
    """The tmp lake holding 2024-01-01..2024-03-31 of the bundled BTC/USDT 1h sample (2,184 bars)."""
    from drydock import ohlcv
    from drydock.sample import read_sample

    key = SeriesKey("binance", "BTC/USDT", "1h")
    frame = read_sample(key).filter(pl.col("ts").dt.date() < date(2024, 4, 1))
    for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
        ohlcv.write_day(key, day, part)  # type: ignore[arg-type]
    return key
