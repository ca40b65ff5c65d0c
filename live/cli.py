"""The ``drydock live`` commands: paper replay through the policy engine, kill and resume."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from drydock import cli_options as opt

if TYPE_CHECKING:  # the journal and replay load inside the commands: `drydock --help` stays fast
    from live.journal import RunSummary
    from live.session import ReplayResult

GLOBAL_SCOPE = "global"


def summary_table(result: ReplayResult) -> Table:
    """The replay's journal counts and metrics as one rich table."""
    table = Table("", "value", title=f"paper replay {result.run_id}")
    rows: list[tuple[str, str]] = [
        ("policy", f"v{result.policy_version} ({result.policy_hash[:12]})"),
        ("bars", str(result.bars)),
        ("intents", str(result.intents)),
        ("allowed / denied / held", f"{result.allowed} / {result.denied} / {result.held}"),
        ("orders (new)", f"{result.orders} ({result.new_orders})"),
        ("fills", str(result.fills)),
        ("pending / skipped / failed", f"{result.pending} / {result.skipped} / {result.failures}"),
        ("skipped below min notional", str(result.below_min_notional)),
        ("final equity", f"{result.final_equity:,.2f}"),
        ("final position", f"{result.final_position.qty} {result.final_position.symbol}"),
    ]
    from drydock.metrics import format_metric

    rows += [(name, format_metric(name, value)) for name, value in result.metrics.items()]
    for name, value in rows:
        table.add_row(name, value)
    return table


@opt.option_groups(fill=False)  # the paper replay fills at the next open only
def replay_command(
    strategy: Annotated[str, typer.Argument(help="Strategy id, see `drydock strategies`.")],
    series: opt.SeriesOptions = opt.SeriesOptions(),
    param: Annotated[list[str] | None, opt.param_option()] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy TOML (default policies/default.toml).")
    ] = None,
    costs: opt.CostOptions = opt.CostOptions(),
    run_id: Annotated[
        str | None, typer.Option(help="Resume or name a run (default: derived from inputs).")
    ] = None,
    rules: opt.EngineOptions = opt.EngineOptions(),
) -> None:
    """Replay a strategy on lake bars with paper fills, every order through the policy engine.

    With engine rules (--allow-short, --leverage, --stop-loss, --trailing-stop, --take-profit,
    --scale-out, --end-rule, ...) the run is kept by the research engine's model: the same
    fills as ``drydock simulate`` with the same rules."""
    from live.replay import replay
    from live.run_cli import engine_config

    execution = costs.execution()
    engine = engine_config(rules, series.key, execution)
    result = replay(
        strategy,
        opt.parse_param_options(param),
        series.exchange,
        series.symbol,
        series.timeframe,
        series.start,
        series.end,
        policy,
        run_id=run_id,
        execution=None if engine is not None else execution,
        engine=engine,
    )
    Console().print(summary_table(result))


def unfinished_runs() -> list[RunSummary]:
    """Runs of this home's journal that have not journaled ``run_finished`` (newest first)."""
    from live.journal import journal_exists, open_journal

    if not journal_exists():
        return []
    with open_journal() as journal:
        return journal.runs(unfinished_only=True)


def run_line(summary: RunSummary) -> str:
    """One run as an operator reads it: id, strategy, mode, venue, symbol, start time."""
    run = summary.run
    return (
        f"{run.run_id} ({run.strategy_id} {run.mode} {run.venue} {run.symbol} {run.timeframe}, "
        f"started {summary.created_at:%Y-%m-%d %H:%M} UTC)"
    )


def kill_command(
    reason: Annotated[str, typer.Option(help="Why trading is being stopped.")] = "manual",
) -> None:
    """Engage the kill switch: create the kill file (new exposure is denied) and journal it.

    Each channel is tried even when the other fails (an unwritable live folder must not stop the
    journaled kill, nor a down journal the file); it prints which took and fails only when none did.
    """
    from drydock.errors import DrydockError
    from drydock.settings import get_settings
    from live.journal import journal_location

    settings = get_settings()
    now = datetime.now(UTC)
    console = Console()
    file_error = _engage_kill_file(settings.kill_file, now, reason)
    journal_error = _journal_kill(now, reason)
    where = journal_location()
    if file_error is None:
        console.print(f"kill switch engaged: {settings.kill_file}", soft_wrap=True)
    else:
        console.print(f"kill file NOT written: {file_error}", soft_wrap=True)
    if journal_error is None:
        console.print(f"kill journaled in {where}", soft_wrap=True)
    else:
        console.print(f"kill NOT journaled in {where}: {journal_error}", soft_wrap=True)
    if file_error is not None and journal_error is not None:
        raise DrydockError(
            f"Kill switch NOT engaged: the kill file {settings.kill_file} could not be written "
            f"({file_error}) and the journal {where} could not record the kill ({journal_error}). "
            f"Make {settings.live_dir} writable (or fix the journal) and run `drydock live kill` "
            "again; until then stop the runners by hand."
        )
    try:
        runs = unfinished_runs()
    except Exception as exc:  # the kill took; a journal that cannot be read only loses the list
        console.print(f"unfinished runs unknown: {where} could not be read ({exc})", soft_wrap=True)
        return
    if not runs:
        console.print(f"no unfinished runs in {where}", soft_wrap=True)
    for summary in runs:
        console.print(f"reaches unfinished run {run_line(summary)}", soft_wrap=True)


def _engage_kill_file(kill_file: Path, now: datetime, reason: str) -> str | None:
    """Write the kill file; None when it took, else what went wrong (e.g. a read-only folder)."""
    try:
        kill_file.parent.mkdir(parents=True, exist_ok=True)
        kill_file.write_text(f"{now.isoformat()} {reason}\n", encoding="utf-8")
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _journal_kill(now: datetime, reason: str) -> str | None:
    """Journal the global ``kill`` event; None when it took, else what went wrong."""
    from live.journal import open_journal

    try:
        with open_journal() as journal:
            journal.record_event("kill", GLOBAL_SCOPE, {"reason": reason}, now)
    except Exception as exc:  # any driver, OS or config error: the kill file may still take
        return f"{type(exc).__name__}: {exc}"
    return None


def resume_command(
    reason: Annotated[str, typer.Option(help="Why trading may resume.")] = "manual",
) -> None:
    """Release the kill switch: remove the kill file and journal it."""
    from drydock.settings import get_settings
    from live.journal import open_journal

    settings = get_settings()
    was_on = settings.kill_file.exists()
    settings.kill_file.unlink(missing_ok=True)
    with open_journal() as journal:
        journal.record_event(
            "resume", GLOBAL_SCOPE, {"reason": reason, "was_on": was_on}, datetime.now(UTC)
        )
    Console().print("kill switch released" if was_on else "kill switch was not engaged")


def status_rows() -> list[tuple[str, str]]:
    """The live package's lines of ``drydock status``: the journal, runs counted by outcome
    (running, stopped, finished, crashed) and one line per run that did not finish."""
    from live.journal import journal_exists, journal_location, open_journal
    from live.status import OUTCOMES, run_outcome

    if not journal_exists():
        return [("journal", journal_location()), ("runs", "none")]
    now = datetime.now(UTC)
    with open_journal() as journal:
        outcomes = [
            (s, *run_outcome(journal, s.run.run_id, now, s.finished)) for s in journal.runs()
        ]
    counts = {o: sum(1 for _, got, _ in outcomes if got == o) for o in OUTCOMES}
    rows = [
        ("journal", journal_location()),
        ("runs", ", ".join(f"{n} {o}" for o, n in counts.items()) if outcomes else "none"),
    ]
    return rows + [
        ("", f"{o.upper()} {run_line(s)}" + (f": {why}" if why else ""))
        for s, o, why in outcomes
        if o != "finished"
    ]


def live_status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    run: Annotated[
        list[str] | None, typer.Option(help="Run id(s); default: unfinished runs.")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy TOML for cap usage (default: the default policy).")
    ] = None,
) -> None:
    """Strategies, positions, open orders, stuck exits, breakers and cap usage from the journal."""
    import json

    from drydock.policy import load_policy
    from drydock.settings import get_settings
    from live.journal import journal_location, open_journal
    from live.policy_state import kill_journaled
    from live.status import describe, status

    settings = get_settings()
    rules = load_policy(policy or settings.policy_dir / "default.toml")
    now = datetime.now(UTC)
    with open_journal() as journal:
        try:
            kill_on = settings.kill_file.exists() or kill_journaled(journal)
            report = status(journal, now, kill_on, rules, run)
        except KeyError as exc:
            raise typer.BadParameter(f"no run {exc.args[0]!r} in {journal_location()}") from None
    if as_json:
        print(json.dumps(report, sort_keys=True, indent=2))
        return
    console = Console()
    console.print(
        f"kill switch {report['kill_switch']}; {len(report['runs'])} run(s)", soft_wrap=True
    )
    for key, used in report["cap_usage"].items():
        console.print(f"cap {key}: {used}", soft_wrap=True)
    for r in report["runs"]:
        table = Table(
            title=f"{r['run_id']} ({r['strategy']} {r['mode']} {r['venue']} {r['symbol']})"
        )
        table.add_column("field")
        table.add_column("value")
        outcome = r["outcome"] + (f" ({r['outcome_detail']})" if r["outcome_detail"] else "")
        table.add_row("outcome", outcome)
        table.add_row("state", f"{r['state']} since {(r['state_since'] or '?')[:16]}")
        for field in ("paused", "position", "orders", "open_orders", "stuck", "venue_breaker",
                      "policy_breaker", "decisions", "last_reconciled"):  # fmt: skip
            table.add_row(field.replace("_", " "), describe(field, r[field]))
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``live`` command group to the root CLI."""
    live = typer.Typer(
        help="Paper replay, kill switch and operator commands (approvals, pause, breakers).",
        no_args_is_help=True,
        rich_markup_mode=None,  # plain help like the root: rich help costs ~0.3 s of imports
    )
    live.command("replay")(replay_command)
    from live.portfolio_cli import portfolio_command

    live.command("portfolio")(portfolio_command)
    from live.run_cli import run_command

    live.command("run")(run_command)
    live.command("kill")(kill_command)
    live.command("status")(live_status_command)
    live.command("resume")(resume_command)
    from live.operator_cli import promote_command, register_operator_commands

    register_operator_commands(live)
    app.add_typer(live, name="live")
    app.command("promote")(promote_command)
