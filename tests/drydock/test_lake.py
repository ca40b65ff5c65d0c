"""Lake writes are atomic, hive values round-trip losslessly, bad rows never reach the lake."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drydock import lake, ohlcv, warehouse
from drydock.errors import DataNotFoundError, DrydockError
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample, sample_series
from drydock.settings import get_settings

KEY = SeriesKey("binance", "BTC/USDT", "1h")
DAY = date(2024, 3, 1)


def day_bars(day: date = DAY) -> pl.DataFrame:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return read_sample(KEY).filter(pl.col("ts").dt.date() == day).filter(pl.col("ts") >= start)


def test_write_day_layout_and_roundtrip(home: Path) -> None:
    path, quarantined = ohlcv.write_day(KEY, DAY, day_bars())
    assert quarantined == 0
    assert (
        path
        == home
        / "lake/ohlcv/exchange=binance/symbol=BTC%2FUSDT/timeframe=1h/period=2024/part-0.parquet"
    )
    back = ohlcv.read(KEY)
    assert back.height == 24
    assert back.equals(day_bars())
    assert ohlcv.available_series() == [KEY]


def test_interrupted_write_keeps_previous_partition(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ohlcv.write_day(KEY, DAY, day_bars())
    original = ohlcv.read(KEY)

    def crash(self: pl.DataFrame, file: object, **kwargs: object) -> None:
        file.write(b"PAR1 half a file")  # type: ignore[attr-defined]
        raise OSError("disk full")

    changed = day_bars().with_columns(pl.col("open", "high", "low", "close") * 2)
    with monkeypatch.context() as patch, pytest.raises(OSError, match="disk full"):
        patch.setattr(pl.DataFrame, "write_parquet", crash)
        ohlcv.write_day(KEY, DAY, changed)
    folder = lake.partition_dir("ohlcv", {**KEY.keys(), "period": "2024"})
    assert sorted(p.name for p in folder.iterdir()) == ["part-0.parquet"]  # no temp file left
    assert ohlcv.read(KEY).equals(original)


def test_bad_rows_are_quarantined(home: Path) -> None:
    bars = day_bars()
    broken = pl.concat(
        [
            bars,
            bars.head(1),  # duplicate timestamp
        ]
    ).with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.col("low") * 0.5)
        .otherwise(pl.col("high"))
        .alias("high"),
    )
    path, quarantined = ohlcv.write_day(KEY, DAY, broken)
    assert quarantined == 2
    assert path is not None and pl.read_parquet(path).height == 23
    bad = pl.read_parquet(
        home
        / "lake/_quarantine/ohlcv/exchange=binance/symbol=BTC%2FUSDT/timeframe=1h/period=2024/part-0.parquet"
    )
    assert sorted(bad["reason"].to_list()) == ["duplicate timestamp", "high below open/close/low"]


def test_bars_outside_the_partition_day_are_rejected(home: Path) -> None:
    two_days = pl.concat([day_bars(), day_bars(date(2024, 3, 2))])
    path, quarantined = ohlcv.write_day(KEY, DAY, two_days)
    assert quarantined == 24
    assert path is not None and pl.read_parquet(path).height == 24


def test_missing_series_error_names_input_and_fix(home: Path) -> None:
    ohlcv.write_day(KEY, DAY, day_bars())
    with pytest.raises(DataNotFoundError) as err:
        ohlcv.read(SeriesKey("binance", "DOGE/USDT", "1h"))
    text = str(err.value)
    assert "binance DOGE/USDT 1h" in text
    assert "binance BTC/USDT 1h" in text  # what the lake holds
    assert "drydock ingest --exchange binance --symbol DOGE/USDT --timeframe 1h" in text


def test_range_read_is_half_open(home: Path) -> None:
    for day in (DAY, date(2024, 3, 2)):
        ohlcv.write_day(KEY, day, day_bars(day))
    frame = ohlcv.read(
        KEY, datetime(2024, 3, 1, 12, tzinfo=UTC), datetime(2024, 3, 2, 6, tzinfo=UTC)
    )
    assert frame.height == 18
    assert frame["ts"][0] == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert frame["ts"][-1] == datetime(2024, 3, 2, 5, tzinfo=UTC)


# --- lossless hive values -------------------------------------------------------------------

PART = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%", min_size=1, max_size=8)
EXPIRY = st.text(alphabet="0123456789", min_size=6, max_size=6)


@st.composite
def ccxt_symbols(draw: st.DrawFn) -> str:
    """Spot, swap, dated future and option symbols in ccxt's unified shape (plus stray '%')."""
    base, quote, settle = draw(PART), draw(PART), draw(PART)
    kind = draw(st.sampled_from(["spot", "swap", "future", "option"]))
    if kind == "spot":
        return f"{base}/{quote}"
    if kind == "swap":
        return f"{base}/{quote}:{settle}"
    if kind == "future":
        return f"{base}/{quote}:{settle}-{draw(EXPIRY)}"
    strike = draw(st.integers(min_value=1, max_value=10**6))
    return f"{base}/{quote}:{settle}-{draw(EXPIRY)}-{strike}-{draw(st.sampled_from('CP'))}"


def stamped(day: date, close: float) -> pl.DataFrame:
    """Two bars of ``day`` whose close identifies the series they were written for."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return pl.DataFrame(
        {
            "ts": [start, start.replace(hour=1)],
            "open": [close, close],
            "high": [close, close],
            "low": [close, close],
            "close": [close, close],
            "volume": [1.0, 2.0],
        }
    )


@pytest.mark.integration  # hypothesis x DuckDB: ~10 s, the biggest cost of the unit tier
@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(symbols=st.lists(ccxt_symbols(), min_size=1, max_size=4, unique=True))
def test_symbols_round_trip_through_lake_listing_read_and_warehouse(
    home: Path, symbols: list[str]
) -> None:
    lake_dir = get_settings().lake_dir
    if lake_dir.exists():
        for part in sorted(lake_dir.rglob("*"), reverse=True):
            part.unlink() if part.is_file() else part.rmdir()
    keys = [SeriesKey("binance", symbol, "1h") for symbol in symbols]
    for n, key in enumerate(keys, start=1):
        ohlcv.write_day(key, DAY, stamped(DAY, float(n)))
    assert ohlcv.available_series() == sorted(keys, key=str)
    for n, key in enumerate(keys, start=1):
        assert ohlcv.read(key)["close"].to_list() == [float(n), float(n)]
        assert [
            lake.partition_values(f)["symbol"] for f in lake.partition_files("ohlcv", key.keys())
        ] == [key.symbol]
    path = warehouse.refresh_views()
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.sql("SELECT symbol, max(close), count(*) FROM ohlcv GROUP BY 1").fetchall()
    assert sorted(rows) == sorted((key.symbol, float(n), 2) for n, key in enumerate(keys, 1))


@pytest.mark.parametrize(
    "symbol", ["BTC/USDT:USDT-240628", "1000_PEPE/USDT", "BTC/USD:BTC-240628-60000-C", "A%41/B"]
)
def test_regressions_read_back_exactly(home: Path, symbol: str) -> None:
    key = SeriesKey("binance", symbol, "1h")
    ohlcv.write_day(key, DAY, stamped(DAY, 5.0))
    assert ohlcv.available_series() == [key]
    assert ohlcv.read(key).height == 2
    warehouse.refresh_views()
    assert warehouse.coverage()["symbol"].to_list() == [symbol]


def test_slash_and_underscore_symbols_do_not_collide(home: Path) -> None:
    slash, underscore = (
        SeriesKey("binance", "BTC/USDT", "1h"),
        SeriesKey("binance", "BTC_USDT", "1h"),
    )
    ohlcv.write_day(slash, DAY, stamped(DAY, 1.0))
    ohlcv.write_day(underscore, DAY, stamped(DAY, 2.0))
    assert ohlcv.read(slash)["close"].to_list() == [1.0, 1.0]
    assert ohlcv.read(underscore)["close"].to_list() == [2.0, 2.0]
    assert ohlcv.available_series() == [slash, underscore]


@pytest.mark.parametrize("pattern", ["*", "?TC/USDT", "[BE]TC/USDT", "*/USDT"])
def test_glob_characters_in_a_symbol_never_match_other_series(home: Path, pattern: str) -> None:
    for n, symbol in enumerate(["BTC/USDT", "ETH/USDT"], start=1):
        ohlcv.write_day(SeriesKey("binance", symbol, "1h"), DAY, stamped(DAY, float(n)))
    assert lake.partition_files("ohlcv", {"exchange": "binance", "symbol": pattern}) == []
    with pytest.raises(DataNotFoundError, match="holds no binance"):
        ohlcv.read(SeriesKey("binance", pattern, "1h"))


def test_encoding_is_path_safe_and_reversible() -> None:
    assert lake.encode_value("BTC/USDT:USDT-240628") == "BTC%2FUSDT%3AUSDT-240628"
    assert lake.encode_value("..") == "%2E%2E"
    assert lake.encode_value("100%") == "100%25"
    for value in ["BTC/USDT", "..", "a b", "*?[]\\", "é€", "%2F"]:
        assert lake.decode_value(lake.encode_value(value)) == value
    with pytest.raises(DrydockError, match="empty"):
        lake.encode_value("")


def test_duckdb_hive_partitioning_percent_decodes(tmp_path: Path) -> None:
    """Pin the DuckDB behaviour the warehouse view relies on (it must not decode twice)."""
    value = "BTC/USD:BTC-1%41"
    folder = tmp_path / f"symbol={lake.encode_value(value)}"
    folder.mkdir()
    pl.DataFrame({"x": [1]}).write_parquet(folder / "p.parquet")
    rows = duckdb.sql(
        f"SELECT symbol FROM read_parquet('{tmp_path}/*/p.parquet', hive_partitioning = true)"
    ).fetchall()
    assert rows == [(value,)]


def test_bundled_samples_use_the_encoding() -> None:
    assert [str(k) for k in sample_series()] == [
        "binance BTC/USDT 1h",
        "binance BTC/USDT:USDT 1h",
        "binance ETH/USDT 1h",
        "binance SOL/USDT 1h",
    ]
