"""``drydock policy``: validate a policy file and explain decisions.

``check FILE`` prints the effective rules and the content hash; ``explain FILE ACTION.json``
evaluates one action and prints the verdict and why (``--json`` for machines). Exit codes: 0
valid or allowed, 1 denied (``explain`` only), 2 a bad file (one line naming it and the fix).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["check_command", "explain_command", "policy_app", "register"]

policy_app = typer.Typer(help="Policy files: check one, explain a decision.")


def register(app: typer.Typer) -> None:
    """Add the ``policy`` command group to the root CLI."""
    app.add_typer(policy_app, name="policy")


@policy_app.command("check")
def check_command(
    file: Annotated[Path, typer.Argument(help="Policy TOML file, e.g. policies/default.toml.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: version, name, hash, rules.")
    ] = False,
) -> None:
    """Validate a policy file; print its effective rules and content hash."""
    from rich.console import Console
    from rich.table import Table

    from drydock.policy._config import load_policy
    from drydock.policy._explain import effective_rules

    policy = load_policy(file)
    if as_json:
        from drydock.cli_options import print_json

        print_json({"file": str(file), "version": policy.version, "name": policy.name,
                    "content_hash": policy.content_hash,
                    "rules": dict(effective_rules(policy))})  # fmt: skip
        return
    table = Table(title=f"{file}: policy {policy.version!r} {policy.name}".strip())
    table.add_column("rule", no_wrap=True)  # a dotted path stays whole and copyable
    table.add_column("value", overflow="fold")
    for rule, value in effective_rules(policy):
        table.add_row(rule, value)
    console = Console()
    console.print(table)
    console.print(f"valid. content hash {policy.content_hash}", soft_wrap=True, highlight=False)


@policy_app.command("explain")
def explain_command(
    file: Annotated[Path, typer.Argument(help="Policy TOML file.")],
    action_file: Annotated[
        Path,
        typer.Argument(
            metavar="ACTION.json",
            help='One action, e.g. {"kind": "order", "venue": "binance", "symbol": "BTC/USDT", '
            '"side": "buy", "quantity": 0.1, "price": 60000}.',
        ),
    ],
    context: Annotated[
        Path | None,
        typer.Option(
            "--context",
            metavar="CONTEXT.json",
            help="Account state (positions, equity, counters, now); default: empty, now.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Evaluate one action against a policy and print the verdict and why (exit 1 unless allowed)."""
    from drydock.policy._config import load_policy
    from drydock.policy._engine import evaluate
    from drydock.policy._explain import decision_record, load_action, load_context

    policy = load_policy(file)
    action = load_action(action_file)
    ctx = load_context(context, datetime.now(UTC))
    decision = evaluate(action, ctx, policy)
    record = decision_record(action, decision, policy)
    if as_json:
        typer.echo(json.dumps(record, sort_keys=True, default=str, allow_nan=True))
    else:
        _print_decision(record, action.symbol, action.notional_usd)
    if not decision.allowed:
        raise typer.Exit(1)


def _print_decision(record: dict[str, object], symbol: str, notional: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    verdict = {
        "allow": "[bold green]ALLOW[/]",
        "deny": "[bold red]DENY[/]",
        "needs_approval": "[bold yellow]NEEDS APPROVAL[/]",
    }[str(record["verdict"])]
    amount = f"{notional:,.2f} USD" if math.isfinite(notional) else repr(notional)
    console.print(f"{verdict} {symbol or '(no symbol)'} notional {amount}", highlight=False)
    console.print(
        f"policy {record['policy_version']!r} hash {record['policy_hash']}",
        soft_wrap=True,
        highlight=False,
    )
    violations = record["violations"]
    assert isinstance(violations, list)
    if not violations:
        console.print("no rule objected")
        return
    table = Table("rule", "severity", "message", "suggestion")
    for v in violations:
        table.add_row(v["rule_id"], v["severity"], v["message"], v["suggestion"])
    console.print(table)
