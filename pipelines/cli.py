"""``drydock ingest``: load OHLCV into the lake through the Dagster assets, from the shell."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from drydock import lake
from drydock.errors import DrydockError, unknown_choice
from drydock.ohlcv import SeriesKey
from drydock.sample import sample_series
from drydock.timeframes import timeframe_seconds
from pipelines.series import SOURCES

if TYPE_CHECKING:  # dagster and ccxt load lazily so `drydock --help` stays fast
    from pipelines.ingest import CheckReport, IngestReport


def parse_day(value: str | None, option: str) -> date | None:
    """``YYYY-MM-DD`` -> date; a clear error naming the option otherwise."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DrydockError(
            f"Invalid {option} {value!r}: write a UTC calendar day as YYYY-MM-DD, e.g. 2024-03-01."
        ) from None


def normalize_symbol(symbol: str) -> str:
    """Accept 'btc/usdt', 'BTC_USDT' (the lake's folder spelling) or 'BTC/USDT'."""
    symbol = symbol.strip().upper()
    return symbol if "/" in symbol else lake.decode_symbol(symbol)


def select_series(
    source: str, exchange: str | None, symbol: str | None, timeframe: str | None
) -> list[SeriesKey] | None:
    """Series chosen by the CLI filters; None means the default (every bundled sample series)."""
    if source not in SOURCES:
        raise unknown_choice("--source", source, SOURCES)
    if source == "ccxt":
        import ccxt

        exchange = (exchange or "binance").lower()
        if exchange not in ccxt.exchanges:
            raise unknown_choice("--exchange", exchange, ccxt.exchanges, "(ccxt exchange ids)")
        if symbol is None:
            raise DrydockError(
                "--symbol is required with --source ccxt: give a unified ccxt symbol such as "
                "BTC/USDT (spot) or BTC/USDT:USDT (USDT-margined perpetual)."
            )
        timeframe = timeframe or "1h"
        supported = getattr(ccxt, exchange)().timeframes or {}
        if timeframe not in supported:
            raise unknown_choice("--timeframe", timeframe, supported, f"({exchange} timeframes)")
        return [SeriesKey(exchange, normalize_symbol(symbol), timeframe)]
    if timeframe is not None:
        timeframe_seconds(timeframe)
    chosen = sample_series()
    bundled = ", ".join(str(k) for k in chosen)
    hint = f"The bundled sample series are: {bundled}. Use --source ccxt to fetch other markets."
    for name, value, field in (
        ("--exchange", exchange and exchange.lower(), "exchange"),
        ("--symbol", symbol and normalize_symbol(symbol), "symbol"),
        ("--timeframe", timeframe, "timeframe"),
    ):
        if value is None:
            continue
        matching = [k for k in chosen if getattr(k, field) == value]
        if not matching:
            raise unknown_choice(name, value, {getattr(k, field) for k in chosen}, hint)
        chosen = matching
    return None if exchange is None and symbol is None and timeframe is None else chosen


def check_text(check: CheckReport | None) -> str:
    """'PASS', 'WARN: 7 missing', 'ERROR: 1 duplicate, 2 invalid' or 'no data'."""
    if check is None:
        return "no data"
    problems = [
        f"{count} {label}"
        for count, label in (
            (check.missing, "missing"),
            (check.duplicates, "duplicate"),
            (check.invalid, "invalid"),
        )
        if count
    ]
    return check.severity + (": " + ", ".join(problems) if problems else "")


def print_report(report: IngestReport, console: Console) -> None:
    """A table of days, rows written, rows quarantined and the integrity check per series."""
    table = Table(title=f"Ingested from {report.source}")
    table.add_column("series", no_wrap=True)
    for column in ("days", "rows", "bad rows"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("check", min_width=12)
    for row in report.series:
        table.add_row(
            str(row.key),
            str(row.files),
            f"{row.rows_written:,}",
            str(row.rows_quarantined),
            check_text(row.check),
        )
    console.print(table)
    console.print(f"Warehouse views refreshed: {report.warehouse_path}")


def ingest_command(
    exchange: str | None = typer.Option(
        None, "--exchange", help="Exchange id (ccxt id, e.g. binance). Default: all bundled."
    ),
    symbol: str | None = typer.Option(
        None, "--symbol", help="Market symbol, e.g. BTC/USDT (BTC_USDT also accepted)."
    ),
    timeframe: str | None = typer.Option(
        None, "--timeframe", help="Bar timeframe, e.g. 1h. Default: all bundled (ccxt: 1h)."
    ),
    start: str | None = typer.Option(
        None, "--start", help="First UTC day, YYYY-MM-DD. Default: start of the sample."
    ),
    end: str | None = typer.Option(
        None, "--end", help="Last UTC day (inclusive), YYYY-MM-DD. Default: end of the sample."
    ),
    source: str = typer.Option(
        "sample", "--source", help="Where bars come from: 'sample' (bundled, offline) or 'ccxt'."
    ),
    record: bool = typer.Option(
        False, "--record", help="Record the runs in DAGSTER_HOME so the Dagster UI shows them."
    ),
) -> None:
    """Load OHLCV bars into the lake, check them and refresh the warehouse views.

    Runs the Dagster `ohlcv` asset in-process over the requested days (one run per date range,
    not one per day): bad rows are quarantined, gaps and duplicates reported.
    Default: every bundled sample series over its full coverage.
    """
    source = source.strip().lower()
    keys = select_series(source, exchange, symbol, timeframe)
    from pipelines.ingest import ingest

    report = ingest(
        keys,
        parse_day(start, "--start"),
        parse_day(end, "--end"),
        source=source,
        exchange_id=exchange.lower() if exchange else None,
        record=record,
    )
    print_report(report, Console())


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command to the root CLI."""
    app.command(
        "ingest",
        help=ingest_command.__doc__,
        short_help="Load OHLCV into the lake (sample or ccxt) and check it.",
    )(ingest_command)
