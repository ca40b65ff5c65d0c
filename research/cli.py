"""``drydock backtest``: run a library strategy on lake bars and log it to MLflow.

The research engine (numba) runs it by default; ``--engine vectorbt`` runs the same 0/1 long-only
model through vectorbt."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from drydock import cli_options as opt
from drydock.errors import ConfigError

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


@opt.option_groups()
def backtest_command(
    strategy: Annotated[
        str, typer.Argument(help="Strategy id (see `drydock strategies`), e.g. ema_cross.")
    ],
    series: opt.SeriesOptions = opt.SeriesOptions(),
    param: Annotated[list[str] | None, opt.param_option()] = None,
    costs: opt.CostOptions = opt.CostOptions(),
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
    from research.backtest import ENGINES
    from strategies.registry import get_strategy

    key = series.key

    if engine not in ENGINES:
        raise ConfigError(f"--engine {engine!r} is not one of {', '.join(ENGINES)}; e.g. research.")
    rules = None
    if policy is not None:  # a bad policy file fails here, before any work
        from drydock.policy import load_policy

        rules = load_policy(policy)
    strat = get_strategy(strategy)
    params = strat.resolve_params(opt.parse_param_options(param))
    execution = costs.execution()
    from drydock.settings import get_settings  # the heavy engines load once the input is valid
    from research.backtest import backtest
    from research.tracking import log_backtest

    first = "first run compiles vectorbt, ~15 s" if engine == "vectorbt" else "research engine"
    with console.status(f"Backtesting {strategy} on {key} ({first})..."):
        result = backtest(strat, params, key, execution, series.start, series.end, engine=engine,
                          leverage=leverage, allow_short=allow_short)  # fmt: skip
    console.print(
        metrics_table(
            f"{strategy} {key} {result.start:%Y-%m-%d}..{result.end:%Y-%m-%d} ({result.bars} bars)",
            {result.engine: result.metrics},
        )
    )
    console.print(f"final equity {result.final_equity:,.2f} (started with {costs.cash:,.2f})")
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

        audit = audit_orders(result, ohlcv.read(key, series.start, series.end), rules)
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
