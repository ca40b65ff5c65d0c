"""``drydock backtest``: run a library strategy on lake bars with vectorbt and log it to MLflow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from drydock import cli_options as opt
from drydock.execution import FillTiming
from drydock.series import SeriesKey

console = Console()


def metrics_table(title: str, columns: dict[str, dict[str, float]]) -> Table:
    """A rich table with one row per metric of the first run and one column per run."""
    from drydock.metrics import format_metric

    table = Table(title=title)
    table.add_column("metric")
    for name in columns:
        table.add_column(name, justify="right")
    for metric in next(iter(columns.values())):
        cells = (
            format_metric(metric, values.get(metric, float("nan"))) for values in columns.values()
        )
        table.add_row(metric, *cells)
    return table


def backtest_command(
    strategy: Annotated[
        str, typer.Argument(help="Strategy id (see `drydock strategies`), e.g. ema_cross.")
    ],
    exchange: Annotated[str, opt.exchange_option()] = opt.DEFAULT_EXCHANGE,
    symbol: Annotated[str, opt.symbol_option()] = opt.DEFAULT_SYMBOL,
    timeframe: Annotated[str, opt.timeframe_option()] = opt.DEFAULT_TIMEFRAME,
    param: Annotated[list[str] | None, opt.param_option()] = None,
    start: Annotated[datetime | None, opt.start_option()] = None,
    end: Annotated[datetime | None, opt.end_option()] = None,
    fee: Annotated[float, opt.fee_option()] = 0.001,
    slippage_bps: Annotated[float, opt.slippage_option()] = 5.0,
    fill: Annotated[
        FillTiming,
        typer.Option(
            case_sensitive=False,
            help="Fill timing: next_open (bar t+1's open, realistic) or close (bar t's close).",
        ),
    ] = FillTiming.NEXT_OPEN,
    lot_size: Annotated[float | None, opt.increment_option("lot_size", "lot size")] = None,
    tick_size: Annotated[float | None, opt.increment_option("tick_size", "tick size")] = None,
    min_notional: Annotated[
        float | None, opt.increment_option("min_notional", "minimum order notional")
    ] = None,
    cash: Annotated[float, opt.cash_option()] = 10_000.0,
    track: Annotated[bool, typer.Option(help="Log the run to MLflow (--no-track to skip).")] = True,
) -> None:
    """Backtest STRATEGY on lake bars with fees and slippage; print metrics; log it to MLflow."""
    from drydock.timeframes import timeframe_seconds
    from strategies.registry import get_strategy

    timeframe_seconds(timeframe)
    strat = get_strategy(strategy)
    params = strat.resolve_params(opt.parse_param_options(param))
    execution = opt.execution_model(
        cash,
        fee,
        slippage_bps,
        fill,
        lot_size=lot_size,
        tick_size=tick_size,
        min_notional=min_notional,
    )
    key = SeriesKey(exchange, symbol, timeframe)
    from drydock.settings import get_settings  # the heavy engines load once the input is valid
    from research.backtest import backtest
    from research.tracking import log_backtest

    with console.status(f"Backtesting {strategy} on {key} (first run compiles vectorbt, ~15 s)..."):
        result = backtest(strat, params, key, execution, start, end)
    console.print(
        metrics_table(
            f"{strategy} {key} {result.start:%Y-%m-%d}..{result.end:%Y-%m-%d} ({result.bars} bars)",
            {"backtest": result.metrics},
        )
    )
    console.print(f"final equity {result.final_equity:,.2f} (started with {cash:,.2f})")
    console.print(f"fees paid {result.fees_paid:,.2f} over {result.orders} orders")
    if result.skipped_min_notional:
        floor = result.instrument.min_notional if result.instrument else "?"
        console.print(
            f"{result.skipped_min_notional} order(s) skipped: below the instrument's min notional "
            f"{floor} (override with --min-notional)"
        )
    if track:
        run_id = log_backtest(result)
        console.print(
            f"MLflow run [bold]{run_id}[/] in {get_settings().mlflow_tracking_uri} (open it with `make mlflow`)."
        )


def register(app: typer.Typer) -> None:
    """Add the research commands to the root CLI."""
    from research.sweep.cli import sweep_command

    app.command("backtest")(backtest_command)
    app.command("sweep")(sweep_command)
