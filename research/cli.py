"""``drydock backtest``: run a library strategy on lake bars and log it to MLflow.

The research engine (numba) runs it by default; ``--engine vectorbt`` runs the same 0/1 long-only
model through vectorbt."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from drydock import cli_options as opt
from drydock.errors import ConfigError
from drydock.execution import FillTiming
from drydock.series import SeriesKey

if TYPE_CHECKING:
    from research.policy_audit import PolicyAudit

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
    engine: Annotated[
        str,
        typer.Option(
            help="research (the numba engine, default: fractional, short and leveraged targets) "
            "or vectorbt (0/1 long-only, the cross-check)."
        ),
    ] = "research",
    leverage: Annotated[float, typer.Option(help="Cap on |target| (1 = spot).")] = 1.0,
    allow_short: Annotated[
        bool, typer.Option(help="Let a spot (leverage 1) run go short.")
    ] = False,
    track: Annotated[bool, typer.Option(help="Log the run to MLflow (--no-track to skip).")] = True,
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Audit every order against this policy's static rules; the MLflow run is tagged "
            "policy_clean with the denial count per rule."
        ),
    ] = None,
) -> None:
    """Backtest STRATEGY on lake bars with fees and slippage; print metrics; log it to MLflow."""
    from drydock.timeframes import timeframe_seconds
    from strategies.registry import get_strategy

    timeframe_seconds(timeframe)
    from research.backtest import ENGINES

    if engine not in ENGINES:
        raise ConfigError(f"--engine {engine!r} is not one of {', '.join(ENGINES)}; e.g. research.")
    rules = None
    if policy is not None:  # a bad policy file fails here, before any work
        from drydock.policy import load_policy

        rules = load_policy(policy)
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

    first = "first run compiles vectorbt, ~15 s" if engine == "vectorbt" else "research engine"
    with console.status(f"Backtesting {strategy} on {key} ({first})..."):
        result = backtest(strat, params, key, execution, start, end, engine=engine,
                          leverage=leverage, allow_short=allow_short)  # fmt: skip
    console.print(
        metrics_table(
            f"{strategy} {key} {result.start:%Y-%m-%d}..{result.end:%Y-%m-%d} ({result.bars} bars)",
            {result.engine: result.metrics},
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
    audit = None
    if rules is not None:
        from drydock import ohlcv
        from research.policy_audit import audit_orders

        audit = audit_orders(result, ohlcv.read(key, start, end), rules)
        print_audit(audit)
    if track:
        run_id = log_backtest(result, audit=audit)
        console.print(
            f"MLflow run [bold]{run_id}[/] in {get_settings().mlflow_tracking_uri} (open it with `make mlflow`)."
        )


def print_audit(audit: PolicyAudit) -> None:
    """The policy audit as an operator reads it: clean or not, count per rule, first denials."""
    verdict = "policy-clean" if audit.clean else f"{audit.denied} of {audit.orders.height} denied"
    console.print(
        f"policy v{audit.policy_version} ({audit.policy_hash[:12]}), static rules: {verdict}",
        soft_wrap=True,
    )
    if audit.rule_counts:
        table = Table("rule", "orders denied", title="policy audit")
        for rule, count in sorted(audit.rule_counts.items(), key=lambda kv: -kv[1]):
            table.add_row(rule, str(count))
        console.print(table)
        first = audit.orders.filter(~audit.orders["allowed"]).head(3)
        for row in first.iter_rows(named=True):
            console.print(
                f"  {row['ts']:%Y-%m-%d %H:%M} {row['side']} {row['notional']:,.2f} USD: "
                f"{row['first_rule']}",
                soft_wrap=True,
            )
    if audit.not_applied:
        console.print(
            f"not applied (need journal history or quotes; the replay enforces them): "
            f"{', '.join(audit.not_applied)}",
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add the research commands to the root CLI."""
    from research.engine.cli import simulate_command
    from research.engine.portfolio_cli import portfolio_command
    from research.sweep.cli import sweep_command

    app.command("backtest")(backtest_command)
    app.command("simulate")(simulate_command)
    app.command("portfolio")(portfolio_command)
    app.command("sweep")(sweep_command)
