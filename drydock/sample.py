"""The bundled sample series in ``data/sample`` (real Binance bars and funding; see PROVENANCE.md).

Bars: ``ohlcv/exchange=<ex>/symbol=<sym>/<timeframe>.parquet``. Funding:
``funding_rates/exchange=<ex>/symbol=<perp>/rates.parquet`` in ``drydock.funding.FUNDING_SCHEMA``
(values percent-encoded as in the lake, ``BTC/USDT:USDT`` -> ``BTC%2FUSDT%3AUSDT``).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl

from drydock import lake
from drydock.errors import DataNotFoundError
from drydock.funding import FUNDING_SCHEMA
from drydock.ohlcv import SeriesKey, conform, window
from drydock.settings import get_settings

__all__ = [
    "FUNDING_FILE",
    "read_sample",
    "read_sample_funding",
    "sample_days",
    "sample_funding_path",
    "sample_funding_series",
    "sample_path",
    "sample_series",
]

FUNDING_FILE = "rates.parquet"


def _base(sample_dir: Path | None) -> Path:
    return sample_dir if sample_dir is not None else get_settings().sample_dir


def _root(sample_dir: Path | None) -> Path:
    return _base(sample_dir) / "ohlcv"


def _funding_root(sample_dir: Path | None) -> Path:
    return _base(sample_dir) / "funding_rates"


def sample_series(sample_dir: Path | None = None) -> list[SeriesKey]:
    """Every series bundled in the sample folder."""
    keys = []
    for path in sorted(_root(sample_dir).glob("exchange=*/symbol=*/*.parquet")):
        values = lake.partition_values(path)
        keys.append(SeriesKey(values["exchange"], values["symbol"], path.stem))
    return keys


def sample_path(key: SeriesKey, sample_dir: Path | None = None) -> Path:
    """File of one bundled series; a clear error listing what is bundled when it is absent."""
    path = (
        _root(sample_dir)
        / f"exchange={lake.encode_value(key.exchange)}"
        / f"symbol={lake.encode_value(key.symbol)}"
        / f"{lake.encode_value(key.timeframe)}.parquet"
    )
    if not path.exists():
        have = ", ".join(str(s) for s in sample_series(sample_dir)) or "none"
        raise DataNotFoundError(
            f"No bundled sample for {key}. Bundled series: {have}. Use one of these, or switch the "
            "ingestion source to ccxt (needs network) to fetch other markets."
        )
    return path


def read_sample(
    key: SeriesKey,
    start: datetime | None = None,
    end: datetime | None = None,
    sample_dir: Path | None = None,
) -> pl.DataFrame:
    """Bars of one bundled series with ``start <= ts < end``."""
    return window(conform(pl.read_parquet(sample_path(key, sample_dir))), start, end)


def sample_days(key: SeriesKey, sample_dir: Path | None = None) -> list[date]:
    """UTC days covered by a bundled series (the Dagster partitions the demo materializes)."""
    frame = pl.read_parquet(sample_path(key, sample_dir), columns=["ts"])
    return sorted(set(frame["ts"].dt.date().to_list()))


def sample_funding_series(sample_dir: Path | None = None) -> list[tuple[str, str]]:
    """(exchange, perp symbol) of every bundled funding history."""
    pairs = []
    for path in sorted(_funding_root(sample_dir).glob(f"exchange=*/symbol=*/{FUNDING_FILE}")):
        values = lake.partition_values(path)
        pairs.append((values["exchange"], values["symbol"]))
    return pairs


def sample_funding_path(exchange: str, symbol: str, sample_dir: Path | None = None) -> Path:
    """File of one bundled funding history; a clear error listing what is bundled when absent."""
    path = (
        _funding_root(sample_dir)
        / f"exchange={lake.encode_value(exchange)}"
        / f"symbol={lake.encode_value(symbol)}"
        / FUNDING_FILE
    )
    if not path.exists():
        have = ", ".join(f"{e} {s}" for e, s in sample_funding_series(sample_dir)) or "none"
        raise DataNotFoundError(
            f"No bundled funding sample for {exchange} {symbol}. Bundled: {have}. Use one of "
            "these, or switch the ingestion source to ccxt (needs network) for other perps."
        )
    return path


def read_sample_funding(
    exchange: str,
    symbol: str,
    start: datetime | None = None,
    end: datetime | None = None,
    sample_dir: Path | None = None,
) -> pl.DataFrame:
    """Funding events of one bundled perp with ``start <= ts < end`` (``FUNDING_SCHEMA``)."""
    frame = pl.read_parquet(sample_funding_path(exchange, symbol, sample_dir))
    return window(frame.select([pl.col(c).cast(t) for c, t in FUNDING_SCHEMA.items()]), start, end)
