"""``drydock data import`` and ``drydock data status`` through the real root CLI (exit codes, output)."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drydock import warehouse
from drydock.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
CDD = FIXTURES / "cryptodatadownload_binance_BTCUSDT_1h_trimmed.csv"


def run(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run ``drydock`` in process like the console script; return its exit code."""
    monkeypatch.setattr(sys, "argv", ["drydock", *args])
    monkeypatch.setenv("COLUMNS", "200")
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def catalog(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A catalog with one series that has no data yet (kraken ETH/USD 1d)."""
    path = home / "series.toml"
    path.write_text(
        '[[series]]\nexchange = "kraken"\nsymbol = "ETH/USD"\ntimeframes = ["1d"]\n'
        "start = 2024-01-01\n"
    )
    monkeypatch.setenv("DRYDOCK_SERIES_CATALOG", str(path))
    return path


def test_import_prints_the_summary_and_status_reports_the_series(
    home: Path, catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mark = FIXTURES / "XRP_USDT_USDT-8h-mark.feather"
    assert (
        run(
            ["data", "import", str(CDD), str(mark), "-e", "binance", "-t", "1h", "-s", "btc/usdt"],
            monkeypatch,
        )
        == 2
    )
    err = capsys.readouterr().err  # -s/-t contradict the freqtrade name: nothing is written
    assert "--symbol BTC/USDT contradicts the file name XRP_USDT_USDT-8h-mark.feather" in err
    assert not (home / "lake").exists()
    assert (
        run(
            ["data", "import", str(CDD), "-e", "binance", "-s", "btc/usdt", "-t", "1h"], monkeypatch
        )
        == 0
    )
    assert run(["data", "import", str(mark), "--exchange", "bybit"], monkeypatch) == 0
    out = capsys.readouterr().out
    for text in (
        "cryptodatadownload_binance_BTCUSDT_1h_trimmed.csv -> binance BTC/USDT 1h",
        "rows read",
        "140",
        "rows written",
        "125",
        "rows quarantined",
        "duplicate timestamp",
        "2017-08-17 04:00 UTC",
        "2021-06-10 00:00 UTC",
        "volume<-Volume BTC",
        "newest first: reversed",
        "XRP_USDT_USDT-8h-mark.feather -> bybit XRP/USDT:USDT 8h (mark_prices)",
        "91",
    ):
        assert text in out, text
    assert "Warehouse views refreshed" in out
    coverage = warehouse.coverage().select("exchange", "symbol", "bars").rows()
    assert coverage == [("binance", "BTC/USDT", 125)]
    assert run(["data", "status", "--json"], monkeypatch) == 0
    rows = json.loads(capsys.readouterr().out)
    summary = {
        (r["exchange"], r["symbol"], r["timeframe"], r["dataset"]): (
            r["rows"],
            r["gaps"],
            r["quarantined"],
            r["first_bar"],
            r["last_bar"],
            r["stale"],
        )
        for r in rows
    }
    assert summary == {
        ("binance", "BTC/USDT", "1h", "ohlcv"): (
            125,
            33_304,
            15,
            "2017-08-17T04:00:00+00:00",
            "2021-06-10T00:00:00+00:00",
            True,
        ),
        ("bybit", "XRP/USDT:USDT", "8h", "mark_prices"): (
            91,
            0,
            0,
            "2021-11-18T00:00:00+00:00",
            "2021-12-18T00:00:00+00:00",
            True,
        ),
        ("kraken", "ETH/USD", "1d", "ohlcv"): (0, 0, 0, None, None, True),
    }
    assert all(r["last_materialization"] is None for r in rows)
    assert run(["data", "status", "-e", "bybit"], monkeypatch) == 0
    table = capsys.readouterr().out
    assert "bybit XRP/USDT:USDT 8h (mark_prices)" in table and "binance" not in table
    assert "never" in table and "STALE" in table


def test_importing_the_same_file_twice_changes_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["data", "import", str(CDD), "-e", "binance", "-s", "BTC/USDT", "-t", "1h"]
    assert run(args, monkeypatch) == 0
    before = snapshot(home / "lake")
    assert run(args, monkeypatch) == 0
    assert snapshot(home / "lake") == before


def test_freqtrade_names_fill_symbol_and_timeframe(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = home / "XRP_USDT_USDT-1h-futures.feather"
    shutil.copy(FIXTURES / copy.name, copy)
    assert run(["data", "import", str(copy), "-e", "binance"], monkeypatch) == 0
    folder = (
        home / "lake" / "ohlcv" / "exchange=binance" / "symbol=XRP%2FUSDT%3AUSDT" / "timeframe=1h"
    )
    assert [p.name for p in folder.iterdir()] == ["period=2021"]


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (b"\x00\x01\x02garbage\xff" * 50, [], "binary data, not CSV text"),
        (b"when,open,high,low,close,volume\nx,1,2,0.5,1.5,1\n", [], "no ts column among"),
        (b"", [], "the file is empty"),
        (b"ts,open,high,low,close\n1,1,2,0.5,1.5,9,9\n", [], "same number of fields"),
    ],
    ids=["garbage", "no-timestamp", "empty", "ragged"],
)
def test_a_bad_file_is_exit_2_one_line_and_nothing_written(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    extra: list[str],
    message: str,
) -> None:
    bad = home / "bad.csv"
    bad.write_bytes(content)
    before = snapshot(home)
    args = ["data", "import", str(CDD), str(bad), "-e", "binance", "-s", "BTC/USDT", "-t", "1h"]
    assert run([*args, *extra], monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: Cannot import {bad}: ") and message in err
    assert "\n" not in err
    assert snapshot(home) == before  # the good file before it was not written either
    assert not (home / "lake").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "BTC/USDT", "-t", "1h"], "--exchange is required"),
        (["-e", "binance", "-t", "1h"], "Give --symbol to import"),
        (["-e", "binance", "-s", "BTC/USDT", "-t", "hourly"], "Invalid timeframe 'hourly'"),
        (
            ["-e", "binance", "-s", "BTC/USDT", "-t", "1h", "--format", "xls"],
            "Unknown import format 'xls'",
        ),
        (
            ["-e", "binance", "-s", "BTC/USDT", "-t", "1h", "--format", "parquet"],
            "not a readable Parquet file",
        ),
    ],
)
def test_bad_options_are_exit_2(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert run(["data", "import", str(CDD), *args], monkeypatch) == 2
    assert message in capsys.readouterr().err
    assert not (home / "lake").exists()


def test_status_of_an_empty_lake(
    home: Path, catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog.unlink()
    assert run(["data", "status"], monkeypatch) == 0
    assert "The lake holds no series yet" in capsys.readouterr().out
    assert run(["data", "status", "--json"], monkeypatch) == 0
    assert json.loads(capsys.readouterr().out) == []
    catalog.write_text("[[series]]\nexchange = 1\n")
    assert run(["data", "status"], monkeypatch) == 2
    assert "series.toml" in capsys.readouterr().err


@pytest.mark.integration
def test_status_reads_the_last_materialization_from_dagster_home(
    home: Path, catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dagster import AssetMaterialization, MultiPartitionKey

    from pipelines.instance import open_instance

    catalog.unlink()
    assert (
        run(
            ["data", "import", str(CDD), "-e", "binance", "-s", "BTC/USDT", "-t", "1h"], monkeypatch
        )
        == 0
    )
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # status needs no env: ingest's instance
    with open_instance(ephemeral=False) as instance:  # home / "dagster", where ingest records
        key = MultiPartitionKey({"day": "2021-06-10", "series": "binance:BTC/USDT:1h"})
        instance.report_runless_asset_event(AssetMaterialization("ohlcv", partition=key))
        (record,) = instance.fetch_materializations(
            AssetMaterialization("ohlcv").asset_key, limit=1
        ).records
    capsys.readouterr()
    assert run(["data", "status", "--json"], monkeypatch) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["last_materialization"] == datetime.fromtimestamp(record.timestamp, UTC).isoformat()


def _spiked_csv(tmp_path: Path, when: str = "^2024-01-03") -> Path:
    """The 200-row Binance 1h file with every price of the bars matching ``when`` 100x too high
    (default: the whole of 2024-01-03)."""
    import polars as pl

    frame = pl.read_csv(FIXTURES / "binance_spot_BTCUSDT_1h_2024-01-01_200rows.csv")
    bad_day = pl.col("timestamp").str.contains(when)
    frame = frame.with_columns(
        [pl.when(bad_day).then(pl.col(c) * 100).otherwise(pl.col(c)).alias(c) for c in PRICES]
    )
    path = tmp_path / "spiked_BTCUSDT_1h.csv"
    frame.write_csv(path)
    return path


PRICES = ("open", "high", "low", "close")
IMPORT = ["data", "import", "-e", "binance", "-s", "BTC/USDT", "-t", "1h"]


def test_import_reports_the_outliers_status_would_find(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: '0 quarantined' and no word of the 100x day; only `data status` showed 2."""
    assert run([*IMPORT, str(_spiked_csv(tmp_path))], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "outliers flagged" in out
    [count_line] = [line for line in out.splitlines() if "outliers flagged" in line]
    assert count_line.split("│")[2].strip() == "2"
    assert "2024-01-03 00:00 UTC, 2024-01-04 00:00 UTC" in out
    assert "import with --strict to quarantine them" in out
    assert (_status(monkeypatch, capsys)) == (200, 0, 2)


def test_strict_import_quarantines_the_bad_prints_with_the_reason(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import polars as pl

    assert run([*IMPORT, "--strict", str(_spiked_csv(tmp_path))], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "bad prints quarantined (--strict)" in out
    assert "outlier (--strict): jump of" in out and "beyond 12 sigma" in out
    rows, quarantined, _ = _status(monkeypatch, capsys)
    assert (rows, quarantined) == (176, 24)  # the whole 100x day, not the bar the price returns on
    quarantine = pl.read_parquet(
        list((home / "lake" / "_quarantine").rglob("*.parquet")), hive_partitioning=False
    )
    assert quarantine["ts"].dt.date().unique().to_list() == [datetime(2024, 1, 3).date()]
    assert quarantine["reason"].str.starts_with("outlier (--strict): jump of +").all()
    assert warehouse_rows() == 176


def test_strict_import_of_a_short_bad_print_leaves_a_clean_series(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spiked = _spiked_csv(tmp_path, "^2024-01-05 1[012]:")
    assert run([*IMPORT, "--strict", str(spiked)], monkeypatch) == 0
    assert "2024-01-05 10:00 UTC, 2024-01-05 13:00 UTC" in capsys.readouterr().out
    assert _status(monkeypatch, capsys) == (197, 3, 0)


def warehouse_rows() -> int:
    return int(warehouse.coverage()["bars"].sum())


def _status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, int, int]:
    """`drydock data status`'s rows, quarantined and outliers of binance BTC/USDT 1h."""
    assert run(["data", "status", "--json", "-s", "BTC/USDT", "-t", "1h"], monkeypatch) == 0
    [row] = [r for r in json.loads(capsys.readouterr().out) if r["exchange"] == "binance"]
    return row["rows"], row["quarantined"], row["outliers"]
