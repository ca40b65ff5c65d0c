"""``drydock ingest``: load OHLCV into the lake through the Dagster assets, from the shell."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from drydock import cli_options as opt
from drydock.errors import DrydockError, unknown_choice
from drydock.series import SeriesKey
from drydock.symbols import canonical_exchange, canonical_symbol
from drydock.timeframes import timeframe_seconds

if TYPE_CHECKING:  # dagster and ccxt load lazily so `drydock --help` stays fast
    from pipelines.ingest import CheckReport, IngestReport


def days_covering(start: datetime | None, end: datetime | None) -> tuple[date | None, date | None]:
    """The first and last UTC day holding a bar of ``[start, end)`` (the lake's day partitions)."""
    if start is not None and end is not None and end <= start:
        raise DrydockError(
            f"--end {end:%Y-%m-%d %H:%M} is not after --start {start:%Y-%m-%d %H:%M}; the end is "
            "exclusive, e.g. --start 2024-03-01 --end 2024-03-02 ingests one day."
        )
    last = None if end is None else (end - timedelta(microseconds=1)).date()
    return (None if start is None else start.date()), last


def select_series(
    source: str, exchange: str | None, symbol: str | None, timeframe: str | None
) -> list[SeriesKey] | None:
    """Series chosen by the CLI filters; None means the default (every bundled sample series)."""
    from pipelines.series import SOURCES

    exchange = None if exchange is None else canonical_exchange(exchange)
    symbol = None if symbol is None else canonical_symbol(symbol)
    if source not in SOURCES:
        raise unknown_choice("--source", source, SOURCES)
    if source == "ccxt":
        if symbol is None:
            raise DrydockError(
                "--symbol is required with --source ccxt: give a unified ccxt symbol such as "
                "BTC/USDT (spot) or BTC/USDT:USDT (USDT-margined perpetual)."
            )
        import ccxt  # ~seconds: only once the cheap checks passed

        exchange = exchange or opt.DEFAULT_EXCHANGE
        if exchange not in ccxt.exchanges:
            raise unknown_choice("--exchange", exchange, ccxt.exchanges, "(ccxt exchange ids)")
        timeframe = timeframe or "1h"
        supported = getattr(ccxt, exchange)().timeframes or {}
        if timeframe not in supported:
            raise unknown_choice("--timeframe", timeframe, supported, f"({exchange} timeframes)")
        return [SeriesKey(exchange, symbol, timeframe)]
    if timeframe is not None:
        timeframe_seconds(timeframe)
    from drydock.sample import sample_series

    chosen = sample_series()
    bundled = ", ".join(str(k) for k in chosen)
    hint = f"The bundled sample series are: {bundled}. Use --source ccxt to fetch other markets."
    for name, value, field in (
        ("--exchange", exchange, "exchange"),
        ("--symbol", symbol, "symbol"),
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
    exchange: Annotated[
        str | None, opt.exchange_option("Exchange id (ccxt), e.g. binance. Default: all bundled.")
    ] = None,
    symbol: Annotated[
        str | None, opt.symbol_option("Market symbol (ccxt unified), e.g. BTC/USDT. Default: all.")
    ] = None,
    timeframe: Annotated[
        str | None, opt.timeframe_option("Bar timeframe, e.g. 1h. Default: all bundled (ccxt: 1h).")
    ] = None,
    start: Annotated[datetime | None, opt.start_option()] = None,
    end: Annotated[datetime | None, opt.end_option()] = None,
    source: Annotated[
        str,
        typer.Option(help="Where bars come from: 'sample' (bundled, offline) or 'ccxt'."),
    ] = "sample",
    record: Annotated[
        bool,
        typer.Option(
            "--record/--no-record",
            help="Record the runs in DAGSTER_HOME so the Dagster UI shows them (default); "
            "--no-record uses a throwaway instance.",
        ),
    ] = True,
) -> None:
    """Load OHLCV bars into the lake, check them and refresh the warehouse views.

    Runs the Dagster `ohlcv` asset in-process over the UTC days that cover [--start, --end)
    (one run per date range, not one per day): bad rows are quarantined, gaps and duplicates
    reported. Default: every bundled sample series over its full coverage.
    """
    source = source.strip().lower()
    keys = select_series(source, exchange, symbol, timeframe)
    first, last = days_covering(start, end)
    from pipelines.ingest import ingest  # dagster loads only once the input is valid

    report = ingest(
        keys,
        first,
        last,
        source=source,
        exchange_id=exchange,
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
