"""``drydock backtest``: run a library strategy on lake bars with vectorbt and log it to MLflow."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.table import Table

from drydock.cli_options import parse_param_options
from drydock.metrics import format_metric
from drydock.ohlcv import SeriesKey
from drydock.settings import get_settings
from drydock.timeframes import timeframe_seconds
from research.semantics import ExecutionConfig

console = Console()


def metrics_table(title: str, columns: dict[str, dict[str, float]]) -> Table:
    """A rich table with one row per metric of the first run and one column per run."""
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


def as_utc(moment: datetime | None) -> datetime | None:
    """Treat naive CLI datetimes as UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def backtest_command(
    strategy: str = typer.Argument(
        ..., help="Strategy id (see `drydock strategies`), e.g. ema_cross."
    ),
    symbol: str = typer.Option(
        "BTC/USDT", "--symbol", "-s", help="Market symbol as in the lake, e.g. BTC/USDT."
    ),
    timeframe: str = typer.Option("1h", "--timeframe", "-t", help="Bar timeframe, e.g. 1h."),
    exchange: str = typer.Option(
        "binance", "--exchange", "-e", help="Exchange id of the lake series."
    ),
    param: list[str] = typer.Option(
        None, "--param", "-p", help="Strategy parameter override name=value; repeatable."
    ),
    start: datetime | None = typer.Option(None, help="First bar (UTC), e.g. 2024-03-01."),
    end: datetime | None = typer.Option(None, help="End bar, exclusive (UTC)."),
    fee: float = typer.Option(0.001, help="Fee as a fraction of traded notional (0.001 = 10 bps)."),
    slippage_bps: float = typer.Option(5.0, help="Adverse slippage in basis points."),
    fill: str = typer.Option(
        "next_open", help="Fill timing: next_open (default, realistic) or close."
    ),
    cash: float = typer.Option(10_000.0, help="Starting cash in quote currency."),
    track: bool = typer.Option(True, help="Log the run to MLflow (--no-track to skip)."),
) -> None:
    """Backtest STRATEGY on lake bars with next-open fills, fees and slippage; log it to MLflow."""
    from research.backtest import backtest
    from research.tracking import log_backtest
    from strategies.registry import get_strategy

    timeframe_seconds(timeframe)
    strat = get_strategy(strategy)
    params = strat.resolve_params(parse_param_options(param))
    execution = ExecutionConfig(init_cash=cash, fee=fee, slippage_bps=slippage_bps, fill=fill)  # type: ignore[arg-type]
    key = SeriesKey(exchange, symbol, timeframe)
    utc = [as_utc(d) for d in (start, end)]
    with console.status(f"Backtesting {strategy} on {key} (first run compiles vectorbt, ~15 s)..."):
        result = backtest(strat, params, key, execution, utc[0], utc[1])
    console.print(
        metrics_table(
            f"{strategy} {key} {result.start:%Y-%m-%d}..{result.end:%Y-%m-%d} ({result.bars} bars)",
            {"backtest": result.metrics},
        )
    )
    if track:
        run_id = log_backtest(result)
        console.print(
            f"MLflow run [bold]{run_id}[/] in {get_settings().mlflow_tracking_uri} (open it with `make mlflow`)."
        )


def register(app: typer.Typer) -> None:
    """Add the research commands to the root CLI."""
    app.command("backtest")(backtest_command)
