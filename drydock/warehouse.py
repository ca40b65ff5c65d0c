"""The DuckDB warehouse: views over the Parquet lake, rebuilt by writers, read read-only.

Bulk data lives in Parquet; the DuckDB file only holds views (and small curated tables), so
parallel Dagster processes never fight over its lock. Readers open it read-only.

Hive values in the lake are percent-encoded by :mod:`drydock.lake`; DuckDB's
``hive_partitioning`` percent-decodes them itself (checked on duckdb 1.5, pinned by
``tests/drydock/test_lake.py``), so the views select them unchanged: decoding again in SQL would
corrupt a symbol containing ``%``.

Views: ``ohlcv`` and ``mark_prices`` (bars plus exchange, symbol, timeframe and the UTC ``date``
derived from ``ts``), ``funding_rates`` (plus ``annualized`` = rate x periods per year),
``ohlcv_coverage`` (first/last bar, bars and days per series).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

from drydock.errors import CorruptDataError, DataNotFoundError, DrydockError
from drydock.settings import Settings, get_settings

__all__ = ["connect", "coverage", "lake_read_error", "read_lake", "refresh_views"]

_BAR_COLUMNS = (
    "ts TIMESTAMPTZ, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, "
    "exchange VARCHAR, symbol VARCHAR, timeframe VARCHAR, date DATE"
)
_FUNDING_COLUMNS = (
    "ts TIMESTAMPTZ, rate DOUBLE, interval_hours DOUBLE, mark_price DOUBLE, annualized DOUBLE, "
    "exchange VARCHAR, symbol VARCHAR"
)
#: Hive levels below each dataset folder: the glob depth of its part files.
_LEVELS = {
    "news": 1,
    "news_sentiment": 1,
    "whale_transfers": 1,
    "wallet_swaps": 1,
    "ohlcv": 4,
    "mark_prices": 4,
    "funding_rates": 3,
}


def _empty_view(name: str, columns: str) -> str:
    nulls = ", ".join(
        f"NULL::{kind} AS {col}"
        for col, kind in (part.strip().split(" ", 1) for part in columns.split(","))
    )
    return f"CREATE OR REPLACE VIEW {name} AS SELECT {nulls} WHERE false"


def _glob(lake_dir: Path, dataset: str) -> str | None:
    """The DuckDB glob of a dataset's part files, or None when it has none yet."""
    levels = "/".join(["*"] * _LEVELS[dataset])
    if not any((lake_dir / dataset).glob(f"{levels}/part-0.parquet")):
        return None
    return str(lake_dir / dataset / levels / "part-0.parquet").replace("'", "''")


def _bar_view(con: duckdb.DuckDBPyConnection, lake_dir: Path, dataset: str) -> None:
    glob = _glob(lake_dir, dataset)
    if glob is None:
        con.execute(_empty_view(dataset, _BAR_COLUMNS))
        return
    con.execute(
        f"""
        CREATE OR REPLACE VIEW {dataset} AS
        SELECT ts, open, high, low, close, volume, exchange, symbol, timeframe,
               CAST(timezone('UTC', ts) AS DATE) AS date
        FROM read_parquet('{glob}', hive_partitioning = true,
                          hive_types = {{'exchange': VARCHAR, 'symbol': VARCHAR,
                                         'timeframe': VARCHAR, 'period': VARCHAR}})
        """
    )


def _funding_view(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> None:
    glob = _glob(lake_dir, "funding_rates")
    if glob is None:
        con.execute(_empty_view("funding_rates", _FUNDING_COLUMNS))
        return
    con.execute(
        f"""
        CREATE OR REPLACE VIEW funding_rates AS
        SELECT ts, rate, interval_hours, mark_price,
               rate * 24 * 365 / interval_hours AS annualized, exchange, symbol
        FROM read_parquet('{glob}', hive_partitioning = true,
                          hive_types = {{'exchange': VARCHAR, 'symbol': VARCHAR,
                                         'period': VARCHAR}})
        """
    )


def _labels_view(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> None:
    """``address_labels`` over the labels table (empty, with its columns, before the first run)."""
    path = lake_dir / "onchain" / "address_labels.parquet"
    if not path.exists():
        con.execute(
            _empty_view(
                "address_labels", "chain VARCHAR, address VARCHAR, entity VARCHAR, type VARCHAR"
            )
        )
        return
    quoted = str(path).replace("'", "''")
    con.execute(f"CREATE OR REPLACE VIEW address_labels AS SELECT * FROM read_parquet('{quoted}')")


#: Hive-partitioned (``date=``) datasets and single files exposed as views, with the columns of
#: their empty form (before the first run).
_NEWS_VIEWS = {
    "news": (
        "news",
        "content_hash VARCHAR, published_at TIMESTAMPTZ, fetched_at TIMESTAMPTZ, source VARCHAR, "
        "sources VARCHAR[], title VARCHAR, summary VARCHAR, url VARCHAR, language VARCHAR, "
        "currencies VARCHAR[]",
    ),
    "whale_transfers": (
        "whale_transfers",
        "chain VARCHAR, tx_hash VARCHAR, log_index BIGINT, block BIGINT, ts TIMESTAMPTZ, "
        "token VARCHAR, symbol VARCHAR, sender VARCHAR, receiver VARCHAR, amount DOUBLE, "
        "usd DOUBLE, kind VARCHAR, significance DOUBLE, sender_entity VARCHAR, "
        "receiver_entity VARCHAR",
    ),
    "wallet_swaps": (
        "wallet_swaps",
        "chain VARCHAR, tx_id VARCHAR, index BIGINT, ts TIMESTAMPTZ, wallet VARCHAR, "
        "label VARCHAR, mode VARCHAR, source VARCHAR, token_in VARCHAR, amount_in DOUBLE, "
        "token_out VARCHAR, amount_out DOUBLE, description VARCHAR",
    ),
    "news_sentiment": (
        "news_sentiment",
        "content_hash VARCHAR, published_at TIMESTAMPTZ, asset VARCHAR, score DOUBLE, label VARCHAR, "
        "impact DOUBLE, categories VARCHAR[], time_sensitivity VARCHAR, scorer VARCHAR, "
        "model VARCHAR, version VARCHAR, prompt_version VARCHAR",
    ),
}


def _news_views(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> None:
    """``news``, ``news_sentiment``, ``whale_transfers``, ``wallet_swaps`` (day partitions),
    ``token_safety`` and ``sentiment_features`` (one file each)."""
    for view, (dataset, columns) in _NEWS_VIEWS.items():
        glob = _glob(lake_dir, dataset)
        if glob is None:
            con.execute(_empty_view(view, columns))
        else:
            con.execute(
                f"CREATE OR REPLACE VIEW {view} AS SELECT * EXCLUDE (date) FROM read_parquet("
                f"'{glob}', hive_partitioning = true, hive_types = {{'date': DATE}})"
            )
    safety = lake_dir / "onchain" / "token_safety.parquet"
    if safety.exists():
        quoted = str(safety).replace("'", "''")
        con.execute(
            f"CREATE OR REPLACE VIEW token_safety AS SELECT * FROM read_parquet('{quoted}')"
        )
    else:
        con.execute(
            _empty_view(
                "token_safety",
                "mint VARCHAR, checked_at TIMESTAMPTZ, score DOUBLE, liquidity_usd DOUBLE, "
                "pair_age_hours DOUBLE, top10_share DOUBLE, mint_authority VARCHAR, "
                "freeze_authority VARCHAR, checks VARCHAR, problems VARCHAR",
            )
        )
    path = lake_dir / "features" / "sentiment_features.parquet"
    if path.exists():
        quoted = str(path).replace("'", "''")
        con.execute(
            f"CREATE OR REPLACE VIEW sentiment_features AS SELECT * FROM read_parquet('{quoted}')"
        )
    else:
        con.execute(
            _empty_view(
                "sentiment_features",
                "ts TIMESTAMPTZ, asset VARCHAR, count UINTEGER, mean_score DOUBLE, decayed DOUBLE, "
                "weight DOUBLE",
            )
        )


def _tokens_table(con: duckdb.DuckDBPyConnection) -> None:
    """``tokens``: the validated token catalog (data/sample/tokens.csv through
    :func:`drydock.tokens.load_tokens`, table ``token_catalog``), one row per asset, addresses as
    (chain, address) structs, with the latest ``token_safety`` result of its Solana mint; the
    catalog is replaced whole on every refresh, so it always equals the one the resolver uses.
    Needs the ``token_safety`` view (:func:`_news_views`)."""
    from drydock.tokens import load_tokens

    rows = [
        {
            "symbol": t.symbol,
            "name": t.name,
            "aliases": list(t.aliases),
            "ambiguous_ticker": t.ambiguous_ticker,
            "ambiguous_names": sorted(t.ambiguous_names),
            "addresses": [{"chain": c, "address": a} for c, a in t.addresses],
        }
        for t in load_tokens().tokens
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "symbol": pl.String(),
            "name": pl.String(),
            "aliases": pl.List(pl.String()),
            "ambiguous_ticker": pl.Boolean(),
            "ambiguous_names": pl.List(pl.String()),
            "addresses": pl.List(pl.Struct({"chain": pl.String(), "address": pl.String()})),
        },
    )
    con.register("_tokens_frame", frame.to_arrow())
    con.execute(
        "CREATE OR REPLACE TABLE token_catalog AS SELECT * FROM _tokens_frame ORDER BY symbol"
    )
    con.unregister("_tokens_frame")
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'tokens'"
    ).fetchone()
    if kind is not None and kind[0] == "BASE TABLE":  # a warehouse built before tokens joined
        con.execute("DROP TABLE tokens")
    # the catalog plus the token-safety assessment of each token's Solana mint (NULL when the
    # token has none or it was not assessed; token_safety is empty before the onchain assets run)
    con.execute(
        """
        CREATE OR REPLACE VIEW tokens AS
        WITH mints AS (
            SELECT symbol, a.address AS mint
            FROM (SELECT symbol, unnest(addresses) AS a FROM token_catalog)
            WHERE a.chain = 'solana'
        ),
        latest AS (
            SELECT * FROM token_safety QUALIFY row_number() OVER (
                PARTITION BY mint ORDER BY checked_at DESC) = 1
        )
        SELECT c.*, s.score AS safety_score, s.checked_at AS safety_checked_at,
               s.problems AS safety_problems, s.checks AS safety_checks
        FROM token_catalog c
        LEFT JOIN mints m USING (symbol)
        LEFT JOIN latest s ON s.mint = m.mint
        ORDER BY c.symbol
        """
    )


def refresh_views(settings: Settings | None = None) -> Path:
    """(Re)create the warehouse views over the current lake; returns the DuckDB file path."""
    settings = settings or get_settings()
    path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        for dataset in ("ohlcv", "mark_prices"):
            _bar_view(con, settings.lake_dir, dataset)
        _funding_view(con, settings.lake_dir)
        _labels_view(con, settings.lake_dir)
        _news_views(con, settings.lake_dir)
        _tokens_table(con)
        # Price 1h and 24h after each whale transfer, from the token's USDT pair (stablecoins:
        # the move of nothing is 0; no bars: NULL). ASOF joins take the last bar at or before.
        con.execute(
            """
            CREATE OR REPLACE VIEW whale_price_impact AS
            WITH w AS (SELECT *, CASE WHEN symbol IN ('WETH') THEN 'ETH' WHEN symbol = 'WBTC' THEN 'BTC'
                                      ELSE symbol END || '/USDT' AS pair FROM whale_transfers),
                 bars AS (SELECT symbol AS pair, ts, close FROM ohlcv WHERE timeframe = '1h')
            SELECT w.chain, w.tx_hash, w.log_index, w.ts, w.symbol, w.kind, w.usd, w.significance,
                   p0.close AS price_at, p1.close AS price_1h, p24.close AS price_24h,
                   p1.close / p0.close - 1 AS impact_1h, p24.close / p0.close - 1 AS impact_24h
            FROM w
            ASOF LEFT JOIN bars p0 ON p0.pair = w.pair AND p0.ts <= w.ts
            ASOF LEFT JOIN bars p1 ON p1.pair = w.pair AND p1.ts <= w.ts + INTERVAL 1 HOUR
            ASOF LEFT JOIN bars p24 ON p24.pair = w.pair AND p24.ts <= w.ts + INTERVAL 24 HOUR
            """
        )
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


_T = TypeVar("_T")

#: A Parquet file DuckDB could not read, as its error messages quote it.
_BAD_FILE = re.compile(r"'([^']+\.parquet)'")
_NO_FILES = "No files found that match the pattern"
_VANISHED = "No such file or directory"
#: Reads retried while a writer swaps a lake file (its glob matched, then the file was gone).
_RACE_ATTEMPTS = 3
_RACE_PAUSE_S = 0.2


def _raced(message: str) -> bool:
    """Whether DuckDB failed because a file the view globs was gone (a writer swapping it)."""
    return _NO_FILES in message or _VANISHED in message


def lake_read_error(exc: duckdb.Error) -> DrydockError | None:
    """The user-facing error for a DuckDB failure reading the lake, or None for other errors.

    An unreadable (e.g. truncated) Parquet file is named with the command that rewrites it; a glob
    left without files (a writer replacing the only file as it was read) says to retry.
    """
    message = str(exc)
    if _raced(message):
        return DrydockError(
            "Ingest in progress, retry: the lake files the warehouse views read changed while "
            f"they were read ({message.splitlines()[0][:200]}). Retry when the ingest is done; "
            "if it persists, run `drydock ingest` (or `make demo`) to refresh the views."
        )
    match = _BAD_FILE.search(message)
    if match is None or not isinstance(exc, duckdb.InvalidInputException | duckdb.IOException):
        return None
    from drydock.ohlcv import file_rebuild_command

    path = Path(match.group(1))
    return CorruptDataError(
        f"The lake file {path} is unreadable ({type(exc).__name__}: "
        f"{message.splitlines()[0][:120]}). Rebuild it with `{file_rebuild_command(path)}` "
        "(the writer replaces an unreadable file), or delete it."
    )


def read_lake(
    query: Callable[[duckdb.DuckDBPyConnection], _T], settings: Settings | None = None
) -> _T:
    """Run ``query`` on the read-only warehouse, translating lake read failures.

    A reader racing a writer retries (the writer's atomic rename leaves the previous or the new
    file, never none, for more than a moment); still failing, it raises the DrydockError of
    :func:`lake_read_error` rather than a raw DuckDB error.
    """

    def once() -> _T:
        with connect(settings) as con:
            return query(con)

    retrying = Retrying(
        retry=retry_if_exception(lambda exc: isinstance(exc, duckdb.Error) and _raced(str(exc))),
        stop=stop_after_attempt(_RACE_ATTEMPTS),
        wait=wait_fixed(_RACE_PAUSE_S),
        sleep=lambda seconds: time.sleep(seconds),  # looked up per call: tests replace it
        reraise=True,
    )
    try:
        return retrying(once)
    except duckdb.Error as exc:
        error = lake_read_error(exc)
        if error is None:
            raise
        raise error from None


def coverage(settings: Settings | None = None) -> pl.DataFrame:
    """One row per series: first/last bar, bar count and day count."""
    return read_lake(lambda con: con.sql("SELECT * FROM ohlcv_coverage").pl(), settings)
