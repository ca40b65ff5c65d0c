"""The Data page shows per-series quality and quarantined rows read from a real tmp lake."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from drydock import ohlcv
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample
from drydock.settings import REPO_ROOT

pytestmark = pytest.mark.integration  # Streamlit AppTest runs (~15 s each)

PAGE = str(REPO_ROOT / "app" / "pages" / "1_Data.py")
ETH = SeriesKey("binance", "ETH/USDT", "1h")


def _write_eth_with_two_bad_rows() -> pl.DataFrame:
    """The bundled ETH sample (3,617 bars, 7 gaps) in the lake, plus two rejected extras on day 1:
    a copy of its first bar with an infinite high, and a duplicate of its second bar."""
    frame = read_sample(ETH)
    days = frame.with_columns(pl.col("ts").dt.date().alias("day")).partition_by(
        "day", include_key=False, maintain_order=True
    )
    first_day = days[0]
    bad_high = first_day.head(1).with_columns(pl.lit(math.inf).alias("high"))
    duplicate = first_day.slice(1, 1)
    for i, part in enumerate(days):
        rows = pl.concat([part, bad_high, duplicate]) if i == 0 else part
        ohlcv.write_day(ETH, part["ts"][0].date(), rows)
    return frame


def test_empty_lake_says_what_to_run(home: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert "drydock ingest" in at.warning[0].value
    assert "No quarantined rows" in at.success[0].value


def test_eth_sample_shows_seven_missing_bars_and_the_quarantine(home: Path) -> None:
    sample = _write_eth_with_two_bad_rows()
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception

    quality = at.dataframe[0].value.to_dict("records")
    assert len(quality) == 1
    row = quality[0]
    assert (row["exchange"], row["symbol"], row["timeframe"]) == ("binance", "ETH/USDT", "1h")
    assert row["bars"] == sample.height == 3617
    assert row["missing"] == 7
    assert row["duplicates"] == row["invalid"] == 0  # the lake kept only valid, first-seen bars
    assert row["quarantined"] == 2

    reasons = at.dataframe[1].value
    assert sorted(zip(reasons["reason"], reasons["rows"], strict=True)) == [
        ("duplicate timestamp", 1),
        ("non-finite value in high", 1),
    ]
    rows = at.dataframe[2].value
    assert rows["symbol"].tolist() == ["ETH/USDT", "ETH/USDT"]
    first_day = sample["ts"][0].date().isoformat()
    assert set(rows["date"]) == {first_day}
    assert sorted(rows["ts"].tolist()) == sample["ts"][:2].to_pandas().tolist()
    assert sorted(rows["high"].tolist()) == [sample["high"][1], math.inf]


def test_a_truncated_lake_file_is_named_and_the_other_series_still_shown(home: Path) -> None:
    """Before: the Data page showed a CorruptDataError traceback and no table."""
    _write_eth_with_two_bad_rows()
    btc = SeriesKey("binance", "BTC/USDT", "1h")
    ohlcv.write_bars(btc, read_sample(btc))
    [part] = sorted((home / "lake" / "ohlcv").rglob("symbol=BTC%2FUSDT/**/part-0.parquet"))
    part.write_bytes(part.read_bytes()[:100])  # truncated mid-write
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    [error] = at.error
    assert (
        str(part) in error.value
        and "drydock ingest --exchange binance --symbol BTC/USDT" in error.value
    )
    shown = at.dataframe[0].value
    assert shown["symbol"].tolist() == ["ETH/USDT"] and shown["bars"].tolist() == [3_617]
