"""``drydock live run``: the runner for a promoted strategy (paper, dry-run or live)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from drydock import cli_options as opt


@opt.option_groups(fill=False)
def run_command(
    strategy: Annotated[str, typer.Argument(help="A promoted strategy id (drydock promote).")],
    mode: Annotated[str, typer.Option(help="paper, dry-run or live.")] = "paper",
    start: Annotated[datetime | None, opt.start_option("First bar to trade from.")] = None,
    bars: Annotated[int | None, typer.Option(help="Stop after N bars.")] = None,
    until: Annotated[
        datetime | None,
        typer.Option(
            "--until",
            parser=opt.when_parser("--until"),
            metavar="DATE|DATETIME",
            help="Stop at this time (naive = UTC).",
        ),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy TOML (default: the one promoted).")
    ] = None,
    settle: Annotated[float, typer.Option(help="Seconds to wait after a bar closes.")] = 5.0,
    confirm_live: Annotated[
        bool, typer.Option(help="Required for --mode live: real orders are sent.")
    ] = False,
    run_id: Annotated[str | None, typer.Option(help="Resume or name a run.")] = None,
    venue: Annotated[
        str | None,
        typer.Option(
            help="Where orders go: paper (simulated fills), exchange (the series' ccxt "
            "exchange, or --exchange), a ccxt id (binance, ...), evm:<chain> (a chain of "
            "config/venues.toml) or solana. Default: paper, and exchange in live mode. Exact "
            "lower-case; keys and RPC URLs from the environment (docs/venues.md)."
        ),
    ] = None,
    exchange: Annotated[
        str | None,
        opt.exchange_option("ccxt id of the exchange orders go to (default: the series')."),
    ] = None,
    sandbox: Annotated[bool, typer.Option(help="Use the exchange's test environment.")] = False,
    rules: opt.EngineOptions = opt.EngineOptions(),
) -> None:
    """Trade a promoted strategy on schedule: catch up from --start, then one step per bar."""
    from datetime import UTC, timedelta

    from drydock.errors import ConfigError
    from live.cli import summary_table
    from live.promotion import load_champion
    from live.runner import Mode, champion_config, run_strategy

    try:
        chosen = Mode(mode)
    except ValueError:
        raise ConfigError(f"--mode {mode!r} is not one of paper, dry-run, live.") from None
    if chosen is Mode.LIVE and not confirm_live:
        raise ConfigError("Live mode sends real orders: pass --confirm-live to start it.")
    if venue is not None:
        from live.venues.factory import parse_venue

        parse_venue(venue)  # a bad --venue fails before anything is loaded
    config = champion_config(load_champion(strategy), policy)
    adapter = build_venue(venue, chosen, config, exchange=exchange, sandbox=sandbox,
                          run_id=run_id)  # fmt: skip
    first = start or datetime.now(UTC) - timedelta(days=30)
    summary = run_strategy(
        config.strategy, config.params, config.key, first, config.policy_file, config.execution,
        chosen, run_id=run_id, confirm_live=confirm_live, settle=timedelta(seconds=settle),
        max_bars=bars, until=until, venue=adapter, engine=engine_config(rules, config.key, config.execution) or config.engine,
    )  # fmt: skip
    console = Console()
    console.print(summary_table(summary.result))
    console.print(
        f"mode {summary.mode.value}, state {summary.state}, last bar {summary.last_bar}"
        + (
            f", {summary.would_send} orders built and not sent (dry-run)"
            if chosen is Mode.DRY_RUN
            else ""
        ),
        soft_wrap=True,
    )
    if chosen is Mode.DRY_RUN:
        console.print(DRY_RUN_NOTE, soft_wrap=True)


def engine_config(rules: opt.EngineOptions, key: Any, execution: Any) -> Any:
    """The run's engine rules given on the command line (None: none given; ``drydock live
    run`` then takes the ones promoted with the strategy, else the spot 0/1 book) over its
    costs and the market's increments."""
    if not rules.used():
        return None
    from drydock.markets import instrument_for

    instrument = instrument_for(key.exchange, key.symbol, execution.overrides())
    return rules.config(execution, float(instrument.lot_size), float(instrument.min_notional))


#: What a dry-run is, printed under its summary (the figures above are those of a run without fills).
DRY_RUN_NOTE = (
    "dry-run builds, sizes, policy-checks and journals every order and sends none: no order "
    "fills, so the position and equity above stay at the start. For simulated fills on live "
    "prices (freqtrade's 'dry run') use --mode paper."
)


def build_venue(
    spec: str | None,
    mode: Any,
    config: Any,
    *,
    exchange: str | None = None,
    sandbox: bool = False,
    run_id: str | None = None,
    env: Mapping[str, str] | None = None,
    **injected: Any,
) -> Any:
    """The venue ``--venue`` names for ``mode`` (None: the runner's paper venue), through
    :func:`live.venues.factory.venue_for`. Paper mode fills only on paper; live mode needs a
    real venue and everything it reads from the environment, or it refuses to start."""
    from drydock.errors import ConfigError
    from live.runner import Mode
    from live.venues.factory import check_live_environment, parse_venue, venue_for

    chosen = spec if spec is not None else ("exchange" if mode is Mode.LIVE else "paper")
    parsed = parse_venue(chosen)
    if mode is Mode.PAPER and parsed.kind != "paper":
        raise ConfigError(
            f"--mode paper fills on the simulated paper venue; --venue {chosen!r} is for "
            "--mode dry-run (orders built, never sent) or --mode live."
        )
    if mode is Mode.LIVE and parsed.kind == "paper":
        raise ConfigError(
            "--mode live needs a real venue (exchange, a ccxt id, evm:<chain> or solana); live "
            "never falls back to paper. Use --mode paper for simulated fills."
        )
    if exchange is not None and parsed.kind != "exchange":
        raise ConfigError(
            f"--exchange picks the exchange of --venue exchange; with --venue {chosen!r} drop it."
        )
    if parsed.kind == "paper":
        return None
    live = mode is Mode.LIVE
    options: dict[str, Any] = {}
    if parsed.kind in ("evm", "solana") and live:
        if not injected:  # tests inject the in-process chain and need no RPC URL
            check_live_environment(chosen, env)
        options = _chain_context(config, run_id or f"{config.strategy.id}:{parsed}")
    return venue_for(
        chosen, require_credentials=live, series_exchange=exchange or config.key.exchange,
        sandbox=sandbox, env=env, **options, **injected,
    )  # fmt: skip


def _chain_context(config: Any, run_id: str) -> dict[str, Any]:
    """The run's policy, the shared journal and a context that reads the kill switch (file or
    journaled) at every transaction, for a chain venue's own policy checks."""
    from datetime import UTC

    from drydock.policy import PolicyContext, load_policy
    from drydock.settings import get_settings
    from live.journal import open_journal
    from live.policy_state import kill_journaled

    journal = open_journal()
    kill_file = get_settings().kill_file

    def context() -> PolicyContext:
        return PolicyContext(now=datetime.now(UTC),
                             kill_file_present=kill_file.exists() or kill_journaled(journal))  # fmt: skip

    return {"policy": load_policy(config.policy_file), "context": context, "journal": journal,
            "run_id": run_id}  # fmt: skip
