"""Bar file imports: real layouts read and merged into a tmp lake, bad rows quarantined, bad files refused."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from drydock import ohlcv
from drydock.errors import DrydockError
from drydock.importers import (
    IMPORTS_QUARANTINE,
    import_parse_errors,
    load_file,
    name_hints,
    write_loaded,
)
from drydock.series import SeriesKey

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def lake_bytes(lake: Path) -> dict[str, bytes]:
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*.parquet"))}


@pytest.mark.parametrize(
    ("name", "timeframe", "fmt", "written", "first", "last", "periods", "used"),
    [
        (
            "binance_spot_BTCUSDT_1h_2024-01-01_200rows.csv",
            "1h",
            "csv",
            200,
            utc(2024, 1, 1),
            utc(2024, 1, 9, 7),
            ["2024"],
            {"ts": "timestamp", "volume": "volume"},
        ),
        (
            "nautilus_btc-perp_1m_1500rows.csv",
            "1m",
            "csv",
            1500,
            utc(2021, 12, 31, 23, 1),
            utc(2022, 1, 2),
            ["2021-12", "2022-01"],
            {"ts": "timestamp"},
        ),
        (
            "backtesting_py_SOLUSDT_1h.csv",
            "1h",
            "csv",
            1000,
            utc(2024, 9, 19, 23),
            utc(2024, 10, 31, 14),
            ["2024"],
            {"ts": "timestamp", "open": "Open", "volume": "Volume"},
        ),
        (
            "backtesting_py_BTCUSD_monthly.csv",
            "1d",
            "csv",
            156,
            utc(2012, 1, 31),
            utc(2024, 12, 31),
            [str(y) for y in range(2012, 2025)],
            {"ts": "", "close": "Close"},
        ),
        (
            "XRP_USDT_USDT-1h-futures.feather",
            "1h",
            "freqtrade",
            100,
            utc(2021, 11, 17, 1),
            utc(2021, 11, 21, 4),
            ["2021"],
            {"ts": "date"},
        ),
        (
            "XRP_ETH-5m.feather",
            "5m",
            "freqtrade",
            706,
            utc(2019, 10, 11),
            utc(2019, 10, 13, 11, 15),
            ["2019-10"],
            {"ts": "date"},
        ),
        (
            "XRP_ETH-5m.json",
            "5m",
            "freqtrade",
            706,
            utc(2019, 10, 11),
            utc(2019, 10, 13, 11, 15),
            ["2019-10"],
            {"ts": "date"},
        ),
    ],
)
def test_real_layouts_import_every_row(
    home: Path,
    name: str,
    timeframe: str,
    fmt: str,
    written: int,
    first: datetime,
    last: datetime,
    periods: list[str],
    used: dict[str, str],
) -> None:
    key = SeriesKey("binance", "BTC/USDT", timeframe)
    loaded = load_file(FIXTURES / name, timeframe=timeframe)
    assert loaded.fmt == fmt and not loaded.reversed
    assert used.items() <= loaded.columns_used.items()
    report = write_loaded(loaded, key)
    assert (report.rows_read, report.rows_written, report.rows_quarantined) == (written, written, 0)
    assert (report.first_bar, report.last_bar) == (first, last)
    stored = ohlcv.read(key)
    assert stored.height == written
    assert stored["ts"].min() == first and stored["ts"].max() == last
    files = (home / "lake" / "ohlcv").rglob("*.parquet")
    assert sorted(p.parent.name for p in files) == [f"period={p}" for p in periods]


def test_freqtrade_feather_and_json_hold_the_same_bars(home: Path) -> None:
    feather = load_file(FIXTURES / "XRP_ETH-5m.feather", timeframe="5m").frame
    from_json = load_file(FIXTURES / "XRP_ETH-5m.json", timeframe="5m").frame
    assert feather.equals(from_json)
    assert feather.schema == pl.Schema(ohlcv.BAR_SCHEMA)


def test_cryptodatadownload_newest_first_mixed_units_and_twin_rows(home: Path) -> None:
    key = SeriesKey("binance", "BTC/USDT", "1h")
    loaded = load_file(
        FIXTURES / "cryptodatadownload_binance_BTCUSDT_1h_trimmed.csv",
        timeframe="1h",
        symbol="BTC/USDT",
    )
    assert loaded.reversed
    assert loaded.columns_used["ts"] == "unix"  # epoch preferred over CDD's "04-AM" dates
    assert loaded.columns_used["volume"] == "Volume BTC"  # base volume, not "Volume USDT"
    report = write_loaded(loaded, key)
    assert (report.rows_read, report.rows_written, report.rows_quarantined) == (140, 125, 15)
    assert report.reasons == {"duplicate timestamp": 15}
    stored = ohlcv.read(key)
    # unix in ms for the newest rows and float seconds for the oldest: both land on the grid
    assert stored["ts"].min() == utc(2017, 8, 17, 4) and stored["ts"].max() == utc(2021, 6, 10)
    assert stored.row(0) == (utc(2017, 8, 17, 4), 16199.91, 16199.91, 4261.32, 4308.83, 44.51)
    # the ms row comes first in the file and wins over its float-second twin
    twin = stored.filter(pl.col("ts") == utc(2020, 11, 20, 7)).row(0)
    assert (twin[1], twin[4]) == (18164.79, 18212.0)
    bad = ohlcv.quarantined(key)
    assert bad.filter(pl.col("ts") == utc(2020, 11, 20, 7))["close"].to_list() == [18143.03]
    assert ohlcv.split_valid(stored, "1h")[1].height == 0


BAD_CSV = """\
timestamp,open,high,low,close,volume
2024-01-01 00:00:00+0000,100,110,90,105,1
2024-01-01 01:00:00+0000,105,111,100,108,2
2024-01-01 02:00:00+0000,NaN,111,100,108,2
2024-01-01 03:00:00+0000,0,111,100,108,2
2024-01-01 04:00:00+0000,-5,111,100,108,2
2024-01-01 05:00:00+0000,105,99,100,101,2
2024-01-01 01:00:00+0000,105,112,100,109,3
2024-01-01 06:30:00+0000,105,112,100,109,3
2024-01-01 12:30:00,105,112,100,109,3
2024-01-01 13:30:00+05:30,105,112,100,109,3
2024-01-01 09:00:00+0000,105,112,100,109,-1
2024-01-01 10:00:00+0000,105,112,100,109,4
2024-01-01 07:00:00+0000,105,112,100,109,4
yesterday,105,112,100,109,4
2024-01-01 11:00:00+0000,abc,112,100,109,4
2024-01-01 12:00:00Z,106,112,100,109,4
"""


def test_every_kind_of_bad_row_is_quarantined_with_its_reason(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV)
    key = SeriesKey("binance", "BTC/USDT", "1h")
    loaded = load_file(path, timeframe="1h")
    assert loaded.parse_errors.rows() == [
        (15, "yesterday,105,112,100,109,4", "unparseable timestamp 'yesterday'"),
        (16, "2024-01-01 11:00:00+0000,abc,112,100,109,4", "unparseable number in open: 'abc'"),
    ]
    report = write_loaded(loaded, key)
    assert report.rows_read == 16
    assert report.reasons == {
        "non-finite value in open": 1,
        "non-positive price": 2,
        "high below open/close/low": 1,
        "duplicate timestamp": 1,
        "timestamp not aligned to 1h": 2,  # 06:30 UTC and a naive 12:30 written on a +05:30 clock
        "negative volume": 1,
        "out-of-order timestamp": 1,
        "unparseable timestamp": 1,
        "unparseable number": 1,
    }
    assert (report.rows_written, report.rows_quarantined) == (5, 11)
    stored = ohlcv.read(key)
    # 13:30+05:30 is 08:00 UTC: an explicit offset is converted, not quarantined
    assert stored["ts"].to_list() == [
        utc(2024, 1, 1, 0),
        utc(2024, 1, 1, 1),
        utc(2024, 1, 1, 8),
        utc(2024, 1, 1, 10),
        utc(2024, 1, 1, 12),
    ]
    assert stored.filter(pl.col("ts") == utc(2024, 1, 1, 1))["close"].item() == 108.0  # first kept
    quarantine = ohlcv.quarantined(key)
    assert quarantine.height == 9
    assert set(quarantine["day"].to_list()) == {date(2024, 1, 1)}
    assert quarantine.filter(pl.col("reason") == "out-of-order timestamp")["ts"].item() == utc(
        2024, 1, 1, 7
    )
    assert import_parse_errors(key) == 2
    kept = pl.read_parquet(next((home / "lake" / IMPORTS_QUARANTINE).rglob("*.parquet")))
    assert kept["line"].to_list() == [15, 16]


def test_importing_twice_changes_nothing(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV)
    key = SeriesKey("binance", "BTC/USDT", "1h")
    cdd = FIXTURES / "cryptodatadownload_binance_BTCUSDT_1h_trimmed.csv"
    for source in (path, cdd):
        write_loaded(load_file(source, timeframe="1h"), key)
    before = lake_bytes(home / "lake")
    # lake years 2017, 2020, 2021, 2024; quarantine years 2020, 2024; one parse-error file
    assert len(before) == 7
    report = write_loaded(load_file(cdd, timeframe="1h"), key)
    write_loaded(load_file(path, timeframe="1h"), key)
    assert report.rows_written == 125
    assert lake_bytes(home / "lake") == before


def test_merge_keeps_other_rows_and_the_file_wins_on_equal_timestamps(
    home: Path, tmp_path: Path
) -> None:
    key = SeriesKey("binance", "BTC/USDT", "1h")
    first = FIXTURES / "binance_spot_BTCUSDT_1h_2024-01-01_200rows.csv"
    write_loaded(load_file(first, timeframe="1h"), key)
    patch = tmp_path / "patch.csv"
    patch.write_text(
        "time;o;h;l;c;vol\n2024-01-09T07:00:00Z;1;2;0.5;1.5;9\n2024-01-09T08:00:00Z;1;2;0.5;1.5;9\n"
    )
    loaded = load_file(patch, timeframe="1h")
    assert loaded.columns_used == {
        "ts": "time",
        "open": "o",
        "high": "h",
        "low": "l",
        "close": "c",
        "volume": "vol",
    }
    write_loaded(loaded, key)
    stored = ohlcv.read(key)
    assert stored.height == 201
    assert stored.tail(2)["close"].to_list() == [1.5, 1.5]
    assert stored.row(0)[4] == 42475.23  # the first import's rows outside the file stay


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1704067200", "1704070800.0"], [utc(2024, 1, 1, 0), utc(2024, 1, 1, 1)]),  # s, float s
        (["1704067200000", "1704070800000"], [utc(2024, 1, 1, 0), utc(2024, 1, 1, 1)]),  # ms
        (["1704067200000000", "1704070800000"], [utc(2024, 1, 1, 0), utc(2024, 1, 1, 1)]),  # us, ms
        (["1704067200000000000", "1704070800"], [utc(2024, 1, 1, 0), utc(2024, 1, 1, 1)]),  # ns, s
        (["2024-01-01", "2024-01-01 01:00"], [utc(2024, 1, 1, 0), utc(2024, 1, 1, 1)]),
        (
            ["2024-01-01T02:00:00+02:00", "2023-12-31 20:00:00-05:00"],
            [utc(2024, 1, 1), utc(2024, 1, 1, 1)],
        ),
    ],
)
def test_timestamp_units_and_offsets_per_row(
    tmp_path: Path, values: list[str], expected: list[datetime]
) -> None:
    path = tmp_path / "bars.csv"
    rows = "".join(f"{v},1,2,0.5,1.5,3\n" for v in values)
    path.write_text("date,open,high,low,close,volume\n" + rows)
    assert load_file(path, timeframe="1h").frame["ts"].to_list() == expected


def test_headerless_klines_and_parquet(tmp_path: Path) -> None:
    klines = tmp_path / "BTCUSDT-1h-2024-01.csv"  # data.binance.vision layout, no header
    klines.write_text(
        "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108,1704070799999,5.4e7,47134,1,1,0\n"
        "1704070800000,42475.23,42775.0,42431.65,42613.56,1196.37856,1704074399999,5.1e7,43673,1,1,0\n"
    )
    frame = load_file(klines, timeframe="1h").frame
    assert frame["ts"].to_list() == [utc(2024, 1, 1, 0), utc(2024, 1, 1, 1)]
    assert frame["volume"].to_list() == [1271.68108, 1196.37856]
    parquet = tmp_path / "bars.parquet"
    frame.rename({"ts": "Datetime", "close": "Close"}).write_parquet(parquet)
    loaded = load_file(parquet, timeframe="1h")
    assert loaded.fmt == "parquet" and loaded.frame.equals(frame)


def test_freqtrade_names_give_symbol_timeframe_and_dataset() -> None:
    assert name_hints(Path("BTC_USDT-1h.feather")) is not None
    spot = name_hints(Path("BTC_USDT-1h.feather"))
    perp = name_hints(Path("BTC_USDT_USDT-1h-futures.feather"))
    mark = name_hints(Path("XRP_USDT_USDT-8h-mark.json"))
    assert spot is not None and (spot.symbol, spot.timeframe, spot.dataset) == (
        "BTC/USDT",
        "1h",
        "ohlcv",
    )
    assert perp is not None and (perp.symbol, perp.dataset) == ("BTC/USDT:USDT", "ohlcv")
    assert mark is not None and (mark.symbol, mark.timeframe, mark.dataset) == (
        "XRP/USDT:USDT",
        "8h",
        "mark_prices",
    )
    assert name_hints(Path("bars.csv")) is None
    with pytest.raises(DrydockError, match="funding_rate file, not trade or mark-price bars"):
        name_hints(Path("XRP_USDT_USDT-8h-funding_rate.feather"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", r"the file is empty"),
        ("blank.csv", b"\n\n", r"the file is empty"),
        ("garbage.csv", bytes(range(256)) * 4, r"binary data, not CSV text"),
        ("header.csv", b"timestamp,open,high,low,close,volume\n", r"no data rows"),
        ("nots.csv", b"when,open,high,low,close\nx,1,2,0.5,1.5\n", r"no ts column among \['when'"),
        ("noclose.csv", b"ts,open,high,low\n1,1,2,0.5\n", r"no close column.*close: close, c"),
        ("ragged.csv", b"ts,open,high,low,close\n1,1,2,0.5,1.5,7,8\n", r"same number of fields"),
        ("narrow.csv", b"1704067200000,1,2\n", r"no header and 3 columns"),
        ("allbad.csv", b"ts,open,high,low,close\nsoon,1,2,0.5,1.5\n", r"none of its 1 rows parsed"),
        ("bars.json", b'{"a": 1}', r"not a list of \[ms, open"),
        ("bars.feather", b"not arrow at all", r"not a feather/Arrow IPC file"),
        ("bars.parquet", b"PAR1garbagePAR1", r"not a readable Parquet file"),
    ],
)
def test_unrecognised_files_are_one_clear_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DrydockError, match=message) as info:
        load_file(path, timeframe="1h")
    text = str(info.value)
    assert text.startswith(f"Cannot import {path}: ") and "\n" not in text


def test_json_rows_must_be_candles(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-1h.json"
    path.write_text(json.dumps([[1704067200000, 1, 2, 0.5]]))
    with pytest.raises(DrydockError, match=r"BTC_USDT-1h.json: the JSON is not a list"):
        load_file(path, timeframe="1h")
