"""The DuckDB warehouse: views over the Parquet lake, rebuilt by writers, read read-only.

Bulk data lives in Parquet; the DuckDB file only holds views (and small curated tables), so
parallel Dagster processes never fight over its lock. Readers open it read-only.

Hive values in the lake are percent-encoded by :mod:`drydock.lake`; DuckDB's
``hive_partitioning`` percent-decodes them itself (checked on duckdb 1.5, pinned by
``tests/drydock/test_lake.py``), so the view selects them unchanged: decoding again in SQL would
corrupt a symbol containing ``%``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from drydock.errors import DataNotFoundError
from drydock.settings import Settings, get_settings

_EMPTY_OHLCV = """
CREATE OR REPLACE VIEW ohlcv AS
SELECT NULL::TIMESTAMPTZ AS ts, NULL::DOUBLE AS open, NULL::DOUBLE AS high, NULL::DOUBLE AS low,
       NULL::DOUBLE AS close, NULL::DOUBLE AS volume, NULL::VARCHAR AS exchange,
       NULL::VARCHAR AS symbol, NULL::VARCHAR AS timeframe, NULL::DATE AS date
WHERE false
"""


def refresh_views(settings: Settings | None = None) -> Path:
    """(Re)create the warehouse views over the current lake; returns the DuckDB file path."""
    settings = settings or get_settings()
    path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    files = list(
        (settings.lake_dir / "ohlcv").glob("exchange=*/symbol=*/timeframe=*/date=*/part-0.parquet")
    )
    with duckdb.connect(str(path)) as con:
        if files:
            glob = settings.lake_dir / "ohlcv" / "*" / "*" / "*" / "*" / "part-0.parquet"
            glob_sql = str(glob).replace("'", "''")
            con.execute(
                f"""
                CREATE OR REPLACE VIEW ohlcv AS
                SELECT ts, open, high, low, close, volume, exchange, symbol, timeframe, date
                FROM read_parquet('{glob_sql}', hive_partitioning = true,
                                  hive_types = {{'date': DATE, 'exchange': VARCHAR, 'symbol': VARCHAR, 'timeframe': VARCHAR}})
                """
            )
        else:
            con.execute(_EMPTY_OHLCV)
        con.execute(
            """
            CREATE OR REPLACE VIEW ohlcv_coverage AS
            SELECT exchange, symbol, timeframe, min(ts) AS first_bar, max(ts) AS last_bar,
                   count(*) AS bars, count(DISTINCT date) AS days
            FROM ohlcv GROUP BY ALL ORDER BY ALL
            """
        )
    return path


def connect(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only; a clear error when it has not been built yet."""
    settings = settings or get_settings()
    if not settings.warehouse_path.exists():
        raise DataNotFoundError(
            f"The warehouse {settings.warehouse_path} does not exist yet. Build it with "
            "`drydock ingest` (or `make demo`), which loads the lake and refreshes the views."
        )
    return duckdb.connect(str(settings.warehouse_path), read_only=True)


def coverage(settings: Settings | None = None) -> pl.DataFrame:
    """One row per series: first/last bar, bar count and day count."""
    with connect(settings) as con:
        return con.sql("SELECT * FROM ohlcv_coverage").pl()
