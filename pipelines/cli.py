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
from drydock.timeframes import canonical_timeframe

#: Where bars can come from (mirrors pipelines.series.SOURCES without importing dagster).
SOURCES = ("sample", "ccxt")

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
    """Series chosen by the CLI filters; None means the default (every enabled catalog series).

    Filters pick among the catalog's enabled series. With ``--source ccxt`` a ``--symbol`` names
    a series directly, so markets outside the catalog can be fetched too (timeframe default 1h).
    """
    exchange = None if exchange is None else canonical_exchange(exchange)
    symbol = None if symbol is None else canonical_symbol(symbol)
    if source not in SOURCES:
        raise unknown_choice("--source", source, SOURCES)
    if timeframe is not None:
        timeframe = canonical_timeframe(timeframe)
    from drydock.catalog import load_catalog

    catalog = load_catalog()
    if source == "ccxt" and symbol is not None:
        # ~seconds (ccxt): only once the cheap checks passed
        from drydock.adapters.ccxt import exchange_ids, exchange_timeframes

        exchange = exchange or opt.DEFAULT_EXCHANGE
        if exchange not in exchange_ids():
            raise unknown_choice("--exchange", exchange, exchange_ids(), "(ccxt exchange ids)")
        listed = [k for k in catalog.series() if (k.exchange, k.symbol) == (exchange, symbol)]
        timeframes = [timeframe] if timeframe else [k.timeframe for k in listed] or ["1h"]
        supported = exchange_timeframes(exchange)
        for tf in timeframes:
            if tf not in supported:
                raise unknown_choice("--timeframe", tf, supported, f"({exchange} timeframes)")
        return [SeriesKey(exchange, symbol, tf) for tf in timeframes]
    chosen = catalog.series()
    enabled = ", ".join(str(k) for k in chosen) or "none"
    hint = (
        f"The enabled series of the catalog {catalog.path} are: {enabled}. Add the series there "
        "(or use --source ccxt --symbol ... to fetch a market outside it)."
    )
    for name, value, attr in (
        ("--exchange", exchange, "exchange"),
        ("--symbol", symbol, "symbol"),
        ("--timeframe", timeframe, "timeframe"),
    ):
        if value is None:
            continue
        matching = [k for k in chosen if getattr(k, attr) == value]
        if not matching:
            raise unknown_choice(name, value, {getattr(k, attr) for k in chosen}, hint)
        chosen = matching
    return None if exchange is None and symbol is None and timeframe is None else chosen


def check_text(check: CheckReport | None) -> str:
    """'PASS', 'WARN: 7 missing, 2 outliers', 'ERROR: 1 duplicate, 2 invalid' or 'no data'."""
    if check is None:
        return "no data"
    problems = [
        f"{count} {label}"
        for count, label in (
            (check.missing, "missing"),
            (check.duplicates, "duplicate"),
            (check.invalid, "invalid"),
            (check.outliers, "outliers"),
            (int(check.stale), "stale"),
        )
        if count
    ]
    return check.severity + (": " + ", ".join(problems) if problems else "")


def print_report(report: IngestReport, console: Console) -> None:
    """A table of days, rows written, rows quarantined, funding rows and the checks per series."""
    table = Table(title=f"Ingested from {report.source}")
    table.add_column("series", no_wrap=True)
    for column in ("days", "rows", "bad rows", "funding"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("check", min_width=12)
    for row in report.series:
        table.add_row(
            str(row.key),
            str(row.days_with_bars),
            f"{row.rows_written:,}",
            str(row.rows_quarantined),
            "-" if row.funding_rows is None else f"{row.funding_rows:,}",
            check_text(row.check),
        )
    console.print(table)
    console.print(f"Warehouse views refreshed: {report.warehouse_path}")


def ingest_command(
    exchange: Annotated[
        str | None,
        opt.exchange_option("Exchange id (ccxt), e.g. binance. Default: every catalog series."),
    ] = None,
    symbol: Annotated[
        str | None,
        opt.symbol_option("Market symbol (ccxt unified), e.g. BTC/USDT:USDT. Default: all."),
    ] = None,
    timeframe: Annotated[
        str | None,
        opt.timeframe_option("Bar timeframe, e.g. 1h. Default: the catalog's (ccxt: 1h)."),
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
    """Load OHLCV bars (and perps' funding and mark prices) into the lake and check them.

    Runs the Dagster market-data assets in-process over the UTC days that cover [--start, --end)
    (one run per date range, not one per day): bad rows are quarantined, gaps, duplicates and
    outliers reported, the warehouse views refreshed. Default: every enabled series of the
    catalog (config/series.toml), the sample over its bundled coverage; with --source ccxt and
    no --start, from the newest stored bar (or the catalog start) to yesterday.
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
        short_help="Load catalog series into the lake (sample or ccxt) and check them.",
    )(ingest_command)
