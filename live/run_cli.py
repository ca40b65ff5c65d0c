"""``drydock live run``: the runner for a promoted strategy (paper, dry-run or live)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from drydock import cli_options as opt


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
        str,
        typer.Option(
            help="paper (simulated fills) or exchange (ccxt; needed for live, optional for "
            "dry-run to read the exchange's own markets)."
        ),
    ] = "paper",
    exchange: Annotated[
        str | None,
        opt.exchange_option("ccxt id of the exchange orders go to (default: the series')."),
    ] = None,
    sandbox: Annotated[bool, typer.Option(help="Use the exchange's test environment.")] = False,
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
    if venue not in ("paper", "exchange"):
        raise ConfigError(f"--venue {venue!r} is not one of paper, exchange.")
    if chosen is Mode.LIVE and not confirm_live:
        raise ConfigError("Live mode sends real orders: pass --confirm-live to start it.")
    config = champion_config(load_champion(strategy), policy)
    adapter = None
    if chosen is Mode.LIVE or venue == "exchange":
        from live.venues.factory import exchange_venue

        adapter = exchange_venue(
            exchange or config.key.exchange, require_credentials=chosen is Mode.LIVE,
            sandbox=sandbox,
        )  # fmt: skip
    first = start or datetime.now(UTC) - timedelta(days=30)
    summary = run_strategy(
        config.strategy, config.params, config.key, first, config.policy_file, config.execution,
        chosen, run_id=run_id, confirm_live=confirm_live, settle=timedelta(seconds=settle),
        max_bars=bars, until=until, venue=adapter,
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


#: What a dry-run is, printed under its summary (the figures above are those of a run without fills).
DRY_RUN_NOTE = (
    "dry-run builds, sizes, policy-checks and journals every order and sends none: no order "
    "fills, so the position and equity above stay at the start. For simulated fills on live "
    "prices (freqtrade's 'dry run') use --mode paper."
)
