"""``drydock demo``: ingest the bundled data with Dagster, backtest, log to MLflow, replay on paper.

The demo is orchestration only (``demo`` is a leaf package, like ``pipelines`` and ``app``): every
step is a call into the package that owns it. It prints the backtest's metrics beside the paper replay's, so any disagreement
between the vectorized and incremental paths, or a policy decision that changed the outcome,
is visible.
"""

from __future__ import annotations

import time
from collections import Counter

import typer
from rich.console import Console
from rich.table import Table

from drydock.series import SeriesKey

DEMO_KEY = SeriesKey("binance", "BTC/USDT", "1h")
DEMO_STRATEGY = "ema_cross"
DEMO_PARAMS = {"fast": 12, "slow": 26}

console = Console()


def denial_counts(run_id: str) -> Counter[str]:
    """Denied decisions of a replay run, counted by the first rule that objected."""
    from live.journal import open_journal

    journal = open_journal()
    try:
        counts: Counter[str] = Counter()
        for decision in journal.decisions(run_id):
            if not decision.allowed:
                violations = decision.explanation.get("violations") or [{"rule_id": "unknown"}]
                counts[violations[0]["rule_id"]] += 1
        return counts
    finally:
        journal.close()


def run_demo() -> None:
    """Run the six steps and print the summary."""
    from drydock.settings import get_settings
    from live.replay import replay
    from pipelines.ingest import ingest
    from research.backtest import backtest
    from research.cli import metrics_table
    from research.tracking import log_backtest
    from strategies.registry import get_strategy

    settings = get_settings()
    timings: dict[str, float] = {}

    console.rule("1/6 ingest: Dagster materializes the ohlcv asset from the bundled sample")
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
            str(series.days_with_bars),
            f"{series.rows_written:,}",
            str(series.rows_quarantined),
            status,
        )
    console.print(ingest_table)
    console.print(
        f"{len(report.run_ids)} Dagster runs recorded in {settings.dagster_home}: `make dagster` "
        "shows the materialized partitions and check results."
    )

    console.rule("2/6 backtest: research engine, next-open fills, 10 bps fee, 5 bps slippage")
    strategy = get_strategy(DEMO_STRATEGY)
    params = strategy.resolve_params(DEMO_PARAMS)
    t = time.perf_counter()
    result = backtest(strategy, params, DEMO_KEY)
    timings["backtest"] = time.perf_counter() - t

    console.rule("3/6 track: MLflow run with params, metrics, report and fingerprints")
    t = time.perf_counter()
    run_id = log_backtest(result, run_name="demo ema_cross BTC/USDT 1h")
    timings["mlflow"] = time.perf_counter() - t

    console.rule("4/6 replay: incremental strategy on a paper venue through the policy engine")
    t = time.perf_counter()
    replays = {
        policy: replay(
            DEMO_STRATEGY,
            DEMO_PARAMS,
            DEMO_KEY.exchange,
            DEMO_KEY.symbol,
            DEMO_KEY.timeframe,
            policy_path=settings.policy_dir / f"{policy}.toml",
        )
        for policy in ("research", "default")
    }
    timings["replays"] = time.perf_counter() - t

    columns = {"backtest": result.metrics}
    columns |= {f"replay ({policy} policy)": rep.metrics for policy, rep in replays.items()}
    console.print(
        metrics_table(
            f"{DEMO_STRATEGY} {DEMO_KEY} 2024: backtest (research engine) vs paper replays", columns
        )
    )
    reps = list(replays.values())
    counts = Table("", *columns, title="Orders and policy decisions")
    counts.add_row(
        "orders / fills",
        f"{result.orders} / {result.orders}",
        *(f"{r.orders} / {r.fills}" for r in reps),
    )
    counts.add_row("intents: allowed / denied", "-", *(f"{r.allowed} / {r.denied}" for r in reps))
    counts.add_row(
        "final equity", f"{result.equity[-1]:,.2f}", *(f"{r.final_equity:,.2f}" for r in reps)
    )
    counts.add_row(
        "policy version, hash", "-", *(f"{r.policy_version} {r.policy_hash[:10]}" for r in reps)
    )
    console.print(counts)
    for policy, rep in replays.items():
        for rule, count in sorted(denial_counts(rep.run_id).items()):
            console.print(f"{policy} policy: {count} intents denied, first by rule [bold]{rule}[/]")
    console.print(
        "The research-policy replay must match the backtest (same fills, same costs); the default "
        "policy's circuit breakers stop new entries after a losing streak, as they should."
    )
    console.rule(
        "5/6 news: recorded feeds, the sentiment model trained and registered, items scored"
    )
    t = time.perf_counter()
    news_summary()
    timings["news"] = time.perf_counter() - t
    console.rule(
        "6/6 on-chain: whale transfers (in-process EVM), watched-wallet swaps, token safety"
    )
    t = time.perf_counter()
    onchain_summary()
    timings["onchain"] = time.perf_counter() - t
    console.print(
        f"Journal {settings.journal_path}; MLflow run {run_id}.\nTimings: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
    )
    console.print(
        "\nNext: [bold]make app[/] (Streamlit: coverage, runs, equity) · [bold]make dagster[/] "
        "(asset, check, schedule) · [bold]make mlflow[/] (runs and report.html) · "
        "`drydock --help` for every command."
    )


def news_summary() -> None:
    """Materialize the news assets (Dagster, recorded feeds) and print what they produced."""
    from dagster import DagsterInstance, materialize

    from drydock import warehouse
    from pipelines.news import NEWS_ASSETS, NEWS_CHECKS, NewsFeedClient

    result = materialize([*NEWS_ASSETS, *NEWS_CHECKS], resources={"news_feeds": NewsFeedClient(mode="sample")},
                         instance=DagsterInstance.get(),
                         run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})  # fmt: skip
    meta = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key is not None
    }
    items: dict[str, object] = dict(meta["news"]["items"].value)  # type: ignore[arg-type]
    console.print(
        "feeds: "
        + ", ".join(f"{k} {v}" for k, v in sorted(items.items()))
        + f"; stored {meta['news']['stored'].value} stories; sentiment model macro-F1 "
        f"{meta['sentiment_model']['macro_f1'].value:.3f} on held-out CryptoLin headlines; "
        f"{meta['news_sentiment']['scored'].value} scored by the {meta['news_sentiment']['scorer'].text} scorer",
        soft_wrap=True,
    )
    with warehouse.connect() as con:
        rows = con.execute(
            "SELECT asset, count(*), avg(score) FROM news_sentiment WHERE asset <> 'MARKET' "
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
        ).fetchall()
    console.print(
        "most mentioned: " + ", ".join(f"{a} {n} items (mean {m:+.2f})" for a, n, m in rows),
        soft_wrap=True,
    )


def onchain_summary() -> None:
    """Materialize the on-chain assets (Dagster: py-evm chain, Helius delivery, DEX payloads)."""
    from dagster import DagsterInstance, materialize

    from drydock import warehouse
    from pipelines.onchain import ONCHAIN_ASSETS, ONCHAIN_CHECKS, DexSource, EvmSource, SwapInbox

    resources = {
        "evm": EvmSource(mode="sample"),
        "swap_inbox": SwapInbox(),
        "dex": DexSource(mode="sample"),
    }
    materialize([*ONCHAIN_ASSETS, *ONCHAIN_CHECKS], resources=resources, instance=DagsterInstance.get(),
                run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})  # fmt: skip
    with warehouse.connect() as con:
        kinds = con.execute(
            "SELECT kind, count(*), sum(usd) FROM whale_transfers GROUP BY 1 ORDER BY 1"
        ).fetchall()
        swaps = con.execute(
            "SELECT label, count(*) FROM wallet_swaps GROUP BY 1 ORDER BY 1"
        ).fetchall()
        safety = con.execute("SELECT count(*), avg(score) FROM token_safety").fetchone()
    console.print(
        "whale transfers: " + ", ".join(f"{k} {n} (${usd:,.0f})" for k, n, usd in kinds),
        soft_wrap=True,
    )
    console.print("watched-wallet swaps: " + ", ".join(f"{label} {n}" for label, n in swaps)
                  + f"; {safety[0]} tokens scored for safety (mean {safety[1]:.2f})", soft_wrap=True)  # type: ignore[index]  # fmt: skip
    console.print("`drydock whales` and `drydock wallets` list them.")


def demo_command() -> None:
    """Run the end-to-end demo on the bundled data: ingest, backtest, MLflow, paper replay."""
    from drydock.logs import configure_logging
    from drydock.settings import get_settings

    if "log_level" not in get_settings().given:
        configure_logging(level="warning")  # the tables tell the story; DRYDOCK_LOG_LEVEL=info logs
    run_demo()


def register(app: typer.Typer) -> None:
    """Add ``drydock demo`` to the root CLI."""
    app.command("demo")(demo_command)
