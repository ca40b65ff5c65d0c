"""``drydock data``: commands over the market-data lake (import, status)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from drydock import cli_options as opt
from drydock.errors import DrydockError
from drydock.series import SeriesKey
from drydock.symbols import canonical_symbol
from drydock.timeframes import canonical_timeframe

if TYPE_CHECKING:  # polars and dagster load lazily so `drydock --help` stays fast
    from drydock.importers import ImportReport, Loaded
    from pipelines.status import SeriesStatus

data_app = typer.Typer(help="Market data in the lake: import files, show coverage and quality.")


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def plan_import(
    path: Path,
    exchange: str | None,
    symbol: str | None,
    timeframe: str | None,
    fmt: str | None,
) -> tuple[SeriesKey, str, Loaded]:
    """Resolve one file's series (options, else its freqtrade name) and read it; writes nothing."""
    from drydock.importers import load_file, name_hints

    if exchange is None:
        raise DrydockError(
            f"--exchange is required to import {path}: the lake keys every series by exchange, "
            "e.g. --exchange binance."
        )
    hints = name_hints(path)
    if hints is not None:
        for option, given, named in (
            ("--symbol", symbol and canonical_symbol(symbol), hints.symbol),
            ("--timeframe", timeframe, hints.timeframe),
        ):
            if given is not None and given != named:
                raise DrydockError(
                    f"{option} {given} contradicts the file name {path.name} ({named}); drop "
                    f"{option} or import that file in a separate command."
                )
    symbol = symbol or (hints.symbol if hints else None)
    timeframe = timeframe or (hints.timeframe if hints else None)
    if symbol is None or timeframe is None:
        missing = " and ".join(
            name for name, value in (("--symbol", symbol), ("--timeframe", timeframe)) if not value
        )
        raise DrydockError(
            f"Give {missing} to import {path} (only freqtrade file names such as "
            "BTC_USDT-1h.feather say them), e.g. --symbol BTC/USDT --timeframe 1h."
        )
    timeframe = canonical_timeframe(timeframe)
    key = SeriesKey(exchange, canonical_symbol(symbol), timeframe)
    dataset = hints.dataset if hints else "ohlcv"
    return key, dataset, load_file(path, timeframe=timeframe, fmt=fmt, symbol=key.symbol)


def import_table(report: ImportReport) -> Table:
    """Rows read, written and quarantined (per reason), first/last bar and days of one file."""
    title = f"{report.source.name} -> {report.key}" + (
        "" if report.dataset == "ohlcv" else f" ({report.dataset})"
    )
    table = Table(title=title, show_header=False)
    table.add_column("what", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_row("rows read", f"{report.rows_read:,}")
    table.add_row("rows written", f"{report.rows_written:,}")
    table.add_row("rows quarantined", f"{report.rows_quarantined:,}")
    for reason, count in sorted(report.reasons.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(f"  {reason}", f"{count:,}")
    table.add_row("first bar", _when(report.first_bar))
    table.add_row("last bar", _when(report.last_bar))
    table.add_row("days touched", f"{len(report.days):,}")
    used = ", ".join(
        f"{field}<-{column or '(first column)'}" for field, column in report.columns_used.items()
    )
    if "volume" not in report.columns_used:
        used += ", volume absent (stored as 0)"
    table.add_row("columns", used)
    if report.reversed:
        table.add_row("order", "newest first: reversed")
    if report.outliers:
        shown = ", ".join(_when(ts) for ts in report.outliers[:5])
        more = f" (+{len(report.outliers) - 5:,} more)" if len(report.outliers) > 5 else ""
        table.add_row("outliers flagged", f"{len(report.outliers):,}")
        table.add_row("  at", shown + more)
        table.add_row(
            "  outcome",
            "bad prints quarantined (--strict)"
            if report.strict
            else "kept; import with --strict to quarantine them",
        )
    else:
        table.add_row("outliers flagged", "0")
    return table


@data_app.command("import")
def import_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Bar files: CSV, freqtrade .feather/.json, Parquet.")
    ],
    exchange: Annotated[
        str | None, opt.exchange_option("Exchange id the bars come from, e.g. binance.")
    ] = None,
    symbol: Annotated[
        str | None, opt.symbol_option("Symbol, e.g. BTC/USDT. Default: from a freqtrade file name.")
    ] = None,
    timeframe: Annotated[
        str | None,
        opt.timeframe_option("Bar timeframe, e.g. 1h. Default: from a freqtrade file name."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, freqtrade or parquet. Default: from the file name."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Quarantine the bad prints behind outlier returns (default: write and flag them).",
        ),
    ] = False,
) -> None:
    """Import bar files into the lake with the same validation and quarantine as downloads.

    Every file is read and recognised first; a file that cannot be is one error line and nothing
    is written. Rows merge by timestamp into the lake (the file wins), bad rows go to the
    quarantine with a reason; importing the same file again changes nothing. Outlier returns
    (as `drydock data status` counts them) are listed; --strict quarantines their bad prints.
    The warehouse views are refreshed at the end.
    """
    from drydock.importers import write_loaded
    from drydock.warehouse import refresh_views

    planned = [plan_import(path, exchange, symbol, timeframe, fmt) for path in paths]
    console = Console()
    for key, dataset, loaded in planned:
        console.print(import_table(write_loaded(loaded, key, dataset=dataset, strict=strict)))
    console.print(f"Warehouse views refreshed: {refresh_views()}", highlight=False)


def status_table(rows: list[SeriesStatus]) -> Table:
    """One line per series: coverage, rows, gaps, quarantine, last run and freshness."""
    table = Table(title="Market data in the lake")
    table.add_column("series", overflow="fold")
    for column in ("first bar", "last bar"):
        table.add_column(column, overflow="fold")
    for column in ("rows", "gaps", "quar.", "outl."):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("last run", overflow="fold")
    table.add_column("freshness", overflow="fold")
    for row in rows:
        if row.error is not None:
            fresh = "CORRUPT (see below)"
        elif not row.in_lake:
            fresh = "no data"
        else:
            assert row.lag is not None
            fresh = ("STALE " if row.stale else "ok, ") + _lag_text(row.lag.total_seconds())
        series = str(row.key) + ("" if row.dataset == "ohlcv" else f" ({row.dataset})")
        table.add_row(
            series,
            _short(row.first_bar),
            _short(row.last_bar),
            f"{row.rows:,}",
            f"{row.gaps:,}",
            f"{row.quarantined:,}",
            f"{row.outliers:,}",
            _short(row.last_materialization) if row.last_materialization else "never",
            fresh,
        )
    return table


def _short(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _lag_text(seconds: float) -> str:
    """'3d 4h behind', '2h 5m behind', '12m behind'."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h behind"
    return f"{hours}h {mins}m behind" if hours else f"{mins}m behind"


@data_app.command("status")
def status_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list with stable keys.")
    ] = False,
    exchange: Annotated[str | None, opt.exchange_option("Only this exchange.")] = None,
    symbol: Annotated[str | None, opt.symbol_option("Only this symbol.")] = None,
    timeframe: Annotated[str | None, opt.timeframe_option("Only this timeframe.")] = None,
) -> None:
    """Per series: first/last bar, rows, gaps, quarantined rows, last materialization, freshness.

    Freshness is stale when more than two complete bars are missing after the last one.
    """
    from datetime import UTC

    from pipelines.status import catalog_series, collect_status, dagster_materializations

    if timeframe is not None:
        timeframe = canonical_timeframe(timeframe)
    rows = collect_status(
        datetime.now(UTC),
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        materialized=dagster_materializations(),
        catalog=catalog_series(),
    )
    if as_json:
        typer.echo(json.dumps([row.to_json() for row in rows], indent=2))
        return
    console = Console()
    if not rows:
        console.print("The lake holds no series yet: `drydock ingest` or `drydock data import`.")
        return
    console.print(status_table(rows))
    for row in rows:
        if row.error is not None:
            console.print(f"{row.key} ({row.dataset}): {row.error}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the root CLI."""
    app.add_typer(data_app, name="data")
