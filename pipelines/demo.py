"""``drydock demo``: ingest the bundled data with Dagster, backtest, log to MLflow, replay on paper.

The demo is orchestration only (this package is a leaf): every step is a call into the packages
that own it. It prints the backtest's metrics beside the paper replay's, so any disagreement
between the vectorized and incremental paths, or a policy decision that changed the outcome,
is visible.
"""

from __future__ import annotations

import math
import time

import typer
from rich.console import Console
from rich.table import Table

from drydock.ohlcv import SeriesKey
from drydock.settings import get_settings

DEMO_KEY = SeriesKey("binance", "BTC/USDT", "1h")
DEMO_STRATEGY = "ema_cross"
DEMO_PARAMS = {"fast": 12, "slow": 26}

console = Console()

_PCT = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"}
_INT = {"trade_count", "max_drawdown_duration"}


def _fmt(metric: str, value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if metric in _PCT:
        return f"{value:.2%}"
    if metric in _INT:
        return f"{value:,.0f}"
    return f"{value:,.3f}"


def comparison_table(backtest: dict[str, float], replay: dict[str, float]) -> Table:
    """Backtest vs replay metrics with their difference."""
    table = Table(title=f"{DEMO_STRATEGY} {DEMO_KEY}: vectorbt backtest vs paper replay")
    for column in ("metric", "backtest", "replay", "difference"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, value in backtest.items():
        other = replay.get(metric, float("nan"))
        table.add_row(metric, _fmt(metric, value), _fmt(metric, other), _fmt(metric, other - value))
    return table


def run_demo() -> None:
    """Run the four steps and print the summary."""
    from live.replay import replay
    from pipelines.ingest import ingest
    from research.backtest import backtest
    from research.tracking import log_backtest
    from strategies.registry import get_strategy

    settings = get_settings()
    timings: dict[str, float] = {}

    console.rule("1/4 ingest: Dagster materializes the ohlcv asset from the bundled sample")
    t = time.perf_counter()
    report = ingest()
    timings["ingest"] = time.perf_counter() - t
    ingest_table = Table(
        "series", "days", "bars written", "quarantined", "check", title="Ingestion"
    )
    for series in report.series:
        check = series.check
        status = (
            "n/a"
            if check is None
            else f"{check.severity}: {check.missing} missing, {check.duplicates} dup, {check.invalid} invalid"
        )
        ingest_table.add_row(
            str(series.key),
            str(series.files),
            f"{series.rows_written:,}",
            str(series.rows_quarantined),
            status,
        )
    console.print(ingest_table)

    console.rule("2/4 backtest: vectorbt, next-open fills, 10 bps fee, 5 bps slippage")
    strategy = get_strategy(DEMO_STRATEGY)
    params = strategy.resolve_params(DEMO_PARAMS)
    t = time.perf_counter()
    result = backtest(strategy, params, DEMO_KEY)
    timings["backtest"] = time.perf_counter() - t

    console.rule("3/4 track: MLflow run with params, metrics, report and fingerprints")
    t = time.perf_counter()
    run_id = log_backtest(result, run_name="demo ema_cross BTC/USDT 1h")
    timings["mlflow"] = time.perf_counter() - t

    console.rule("4/4 replay: incremental strategy on a paper venue through the policy engine")
    t = time.perf_counter()
    rep = replay(DEMO_STRATEGY, DEMO_PARAMS, DEMO_KEY.exchange, DEMO_KEY.symbol, DEMO_KEY.timeframe)
    timings["replay"] = time.perf_counter() - t

    console.print(comparison_table(result.metrics, rep.metrics))
    counts = Table("", "backtest", "replay", title="Orders")
    counts.add_row("orders", str(result.orders), str(rep.orders))
    counts.add_row(
        "intents / allowed / denied", "-", f"{rep.intents} / {rep.allowed} / {rep.denied}"
    )
    counts.add_row("fills", str(result.orders), str(rep.fills))
    counts.add_row("final equity", f"{result.equity[-1]:,.2f}", f"{rep.final_equity:,.2f}")
    console.print(counts)
    console.print(
        f"Policy {rep.policy_version} ({rep.policy_hash[:12]}); journal {settings.journal_path}; "
        f"MLflow run {run_id}.\nTimings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
    )
    console.print(
        "\nNext: [bold]make app[/] (Streamlit: coverage, runs, equity) · [bold]make dagster[/] "
        "(asset, check, schedule) · [bold]make mlflow[/] (runs and report.html) · "
        "`drydock --help` for every command."
    )


def demo_command() -> None:
    """Run the end-to-end demo on the bundled data: ingest, backtest, MLflow, paper replay."""
    run_demo()


def register(app: typer.Typer) -> None:
    """Add ``drydock demo`` to the root CLI."""
    app.command("demo")(demo_command)
