"""The ``drydock live`` commands: paper replay through the policy engine, kill and resume."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from drydock.cli_options import parse_param_options
from drydock.errors import DrydockError
from drydock.metrics import format_metric
from drydock.settings import get_settings
from live.journal import SqliteJournal
from live.replay import ReplayResult, replay

GLOBAL_SCOPE = "global"


def parse_when(raw: str | None, option: str) -> datetime | None:
    """An ISO date or datetime; naive values are taken as UTC."""
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise DrydockError(
            f"{option} {raw!r} is not an ISO date or datetime; use e.g. 2024-01-01 or "
            "2024-01-01T12:00:00Z."
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def summary_table(result: ReplayResult) -> Table:
    """The replay's journal counts and metrics as one rich table."""
    table = Table("", "value", title=f"paper replay {result.run_id}")
    rows: list[tuple[str, str]] = [
        ("policy", f"v{result.policy_version} ({result.policy_hash[:12]})"),
        ("bars", str(result.bars)),
        ("intents", str(result.intents)),
        ("allowed / denied", f"{result.allowed} / {result.denied}"),
        ("orders (new)", f"{result.orders} ({result.new_orders})"),
        ("fills", str(result.fills)),
        ("pending / skipped / failed", f"{result.pending} / {result.skipped} / {result.failures}"),
        ("final equity", f"{result.final_equity:,.2f}"),
        ("final position", f"{result.final_position.qty} {result.final_position.symbol}"),
    ]
    rows += [(name, format_metric(name, value)) for name, value in result.metrics.items()]
    for name, value in rows:
        table.add_row(name, value)
    return table


def replay_command(
    strategy: Annotated[str, typer.Argument(help="Strategy id, see `drydock strategies`.")],
    symbol: Annotated[str, typer.Option(help="Market symbol, e.g. BTC/USDT.")],
    timeframe: Annotated[str, typer.Option(help="Bar timeframe, e.g. 1h.")] = "1h",
    exchange: Annotated[str, typer.Option(help="Exchange whose lake bars to replay.")] = "binance",
    param: Annotated[
        list[str] | None, typer.Option(help="Strategy parameter name=value (repeatable).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First bar (ISO, UTC), inclusive.")] = None,
    end: Annotated[str | None, typer.Option(help="End (ISO, UTC), exclusive.")] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy TOML (default policies/default.toml).")
    ] = None,
    cash: Annotated[float, typer.Option(help="Starting cash in the quote currency.")] = 10_000.0,
    fee: Annotated[float, typer.Option(help="Fee as a fraction of notional.")] = 0.001,
    slippage_bps: Annotated[float, typer.Option(help="Adverse slippage in bps.")] = 5.0,
    run_id: Annotated[
        str | None, typer.Option(help="Resume or name a run (default: derived from inputs).")
    ] = None,
) -> None:
    """Replay a strategy on lake bars with paper fills, every order through the policy engine."""
    result = replay(
        strategy,
        parse_param_options(param),
        exchange,
        symbol,
        timeframe,
        parse_when(start, "--start"),
        parse_when(end, "--end"),
        policy,
        cash=cash,
        fee=fee,
        slippage_bps=slippage_bps,
        run_id=run_id,
    )
    Console().print(summary_table(result))


def kill_command(
    reason: Annotated[str, typer.Option(help="Why trading is being stopped.")] = "manual",
) -> None:
    """Engage the kill switch: create the kill file (new exposure is denied) and journal it."""
    settings = get_settings()
    settings.kill_file.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    settings.kill_file.write_text(f"{now.isoformat()} {reason}\n", encoding="utf-8")
    with SqliteJournal() as journal:
        journal.record_event("kill", GLOBAL_SCOPE, {"reason": reason}, now)
    Console().print(f"kill switch engaged: {settings.kill_file}")


def resume_command(
    reason: Annotated[str, typer.Option(help="Why trading may resume.")] = "manual",
) -> None:
    """Release the kill switch: remove the kill file and journal it."""
    settings = get_settings()
    was_on = settings.kill_file.exists()
    settings.kill_file.unlink(missing_ok=True)
    with SqliteJournal() as journal:
        journal.record_event(
            "resume", GLOBAL_SCOPE, {"reason": reason, "was_on": was_on}, datetime.now(UTC)
        )
    Console().print("kill switch released" if was_on else "kill switch was not engaged")


def register(app: typer.Typer) -> None:
    """Add the ``live`` command group to the root CLI."""
    live = typer.Typer(
        help="Paper replay and live-trading controls (kill switch).", no_args_is_help=True
    )
    live.command("replay")(replay_command)
    live.command("kill")(kill_command)
    live.command("resume")(resume_command)
    app.add_typer(live, name="live")
