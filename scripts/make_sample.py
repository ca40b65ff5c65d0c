"""Rebuild data/sample/ from ../shared/data (developer tool; the project never reads ../shared).

Run: ``.venv/bin/python scripts/make_sample.py [path/to/shared/data]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from drydock.funding import split_valid_funding
from drydock.lake import encode_value
from drydock.ohlcv import conform, split_valid
from drydock.sample import FUNDING_FILE

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "data" / "sample" / "ohlcv"
FUNDING_OUT = REPO / "data" / "sample" / "funding_rates"
PERP_WINDOW = ("2024-01-01", "2024-04-01")


def _binance_vision(path: Path, start: str, end: str) -> pl.DataFrame:
    frame = pl.read_csv(path).with_columns(
        pl.col("timestamp").str.to_datetime("%Y-%m-%d %H:%M:%S%z", time_zone="UTC").alias("ts")
    )
    return conform(frame).filter(
        (pl.col("ts") >= pl.lit(start).str.to_datetime(time_zone="UTC"))
        & (pl.col("ts") < pl.lit(end).str.to_datetime(time_zone="UTC"))
    )


def _cryptodatadownload(path: Path, start: str, end: str) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema_length=0)
    unix = raw["unix"].cast(pl.Float64)
    # CDD mixes ms (recent rows) and seconds (old rows) in one column.
    ms = pl.Series(unix).map_elements(
        lambda v: v if v > 1e11 else v * 1000, return_dtype=pl.Float64
    )
    frame = pl.DataFrame(
        {
            "ts": pl.from_epoch(ms.cast(pl.Int64), time_unit="ms").dt.replace_time_zone("UTC"),
            "open": raw["open"].cast(pl.Float64),
            "high": raw["high"].cast(pl.Float64),
            "low": raw["low"].cast(pl.Float64),
            "close": raw["close"].cast(pl.Float64),
            "volume": raw[next(c for c in raw.columns if c.startswith("Volume "))].cast(pl.Float64),
        }
    )
    return conform(frame).filter(
        (pl.col("ts") >= pl.lit(start).str.to_datetime(time_zone="UTC"))
        & (pl.col("ts") < pl.lit(end).str.to_datetime(time_zone="UTC"))
    )


def _backtesting_py(path: Path) -> pl.DataFrame:
    raw = pl.read_csv(path)
    first = raw.columns[0]
    frame = raw.rename(
        {
            first: "ts",
            "Open": "open",
            "High": "high",
            "Low": "low",
            "Close": "close",
            "Volume": "volume",
        }
    )
    return conform(frame.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC")))


def _funding(path: Path, start: str, end: str) -> pl.DataFrame:
    """Binance USD-M realised funding (timestamp, funding_rate, mark_price) -> FUNDING_SCHEMA.

    Binance stamps funding a few ms after the hour (``16:00:00.001``); kept as published.
    """
    raw = pl.read_csv(path, infer_schema_length=0)
    frame = pl.DataFrame(
        {
            "ts": raw["timestamp"].str.to_datetime(time_zone="UTC", time_unit="us"),
            "rate": raw["funding_rate"].cast(pl.Float64),
            "interval_hours": pl.Series([8.0] * raw.height),
            "mark_price": raw["mark_price"].cast(pl.Float64),
        }
    )
    good, bad = split_valid_funding(frame)
    assert bad.height == 0, bad
    # The file says 8h; check it: every gap between funding times rounds to 480 minutes.
    gaps = good["ts"].diff().drop_nulls().dt.total_milliseconds()
    assert ((gaps / 60_000).round() == 480).all(), "funding times are not 8h apart"
    return good.filter(
        (pl.col("ts") >= pl.lit(start).str.to_datetime(time_zone="UTC"))
        & (pl.col("ts") < pl.lit(end).str.to_datetime(time_zone="UTC"))
    )


def write_funding_sample(shared: Path) -> None:
    """The Binance USD-M BTCUSDT funding history over the perp sample's window."""
    frame = _funding(
        shared / "funding_rates/binance_usdm_BTCUSDT_funding_8h_2021-05_2026-04.csv", *PERP_WINDOW
    )
    target = (
        FUNDING_OUT
        / f"exchange={encode_value('binance')}"
        / f"symbol={encode_value('BTC/USDT:USDT')}"
        / FUNDING_FILE
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(target, compression="zstd")
    print(f"{target.relative_to(REPO)}: {frame.height} funding events")


def main(shared: Path) -> None:
    series = {
        ("binance", "BTC/USDT", "1h"): _binance_vision(
            shared / "ohlcv/binance_spot_BTCUSDT_1h_2024-01_2026-03.csv", "2024-01-01", "2025-01-01"
        ),
        ("binance", "ETH/USDT", "1h"): _cryptodatadownload(
            shared / "ohlcv/cryptodatadownload_binance_ETHUSDT_1h_2017-08_2021-06.csv",
            "2021-01-01",
            "2021-06-01",
        ),
        ("binance", "SOL/USDT", "1h"): _backtesting_py(
            shared / "ohlcv/backtesting_py_format/SOLUSDT.csv"
        ),
        ("binance", "BTC/USDT:USDT", "1h"): _binance_vision(
            shared / "ohlcv/binance_usdm_BTCUSDT_perp_1h_2024-01_2026-04.csv", *PERP_WINDOW
        ),
    }
    for (exchange, symbol, timeframe), frame in series.items():
        good, bad = split_valid(frame, timeframe)
        target = (
            OUT
            / f"exchange={encode_value(exchange)}"
            / f"symbol={encode_value(symbol)}"
            / f"{encode_value(timeframe)}.parquet"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        good.write_parquet(target, compression="zstd")
        print(
            f"{target.relative_to(REPO)}: {good.height} bars {good['ts'].min()} -> "
            f"{good['ts'].max()}, {bad.height} rejected"
        )
    write_funding_sample(shared)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data")
