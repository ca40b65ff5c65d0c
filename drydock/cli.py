"""The ``drydock`` command line: the composition root of the repository.

The kernel imports no package to its right at module import time. Command groups living in
``research``, ``live`` and ``pipelines`` are registered when the CLI is built (``build_app``),
each through a ``register(app)`` function in its package's ``cli`` module.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.table import Table

from drydock.errors import DrydockError

COMMAND_MODULES = ("pipelines.cli", "research.cli", "live.cli", "pipelines.demo")

err_console = Console(stderr=True)


def _strategies() -> None:
    """List the library strategies with their parameters and sweep ranges."""
    from strategies.registry import get_strategy, strategy_ids

    table = Table("strategy", "parameter", "default", "range", "description")
    for sid in strategy_ids():
        strategy = get_strategy(sid)
        for i, spec in enumerate(strategy.params):
            table.add_row(
                sid if i == 0 else "",
                spec.name,
                f"{spec.default:g}",
                f"{spec.low:g}..{spec.high:g} step {spec.step:g}",
                spec.doc if i else f"{strategy.description} ({spec.doc})",
            )
    Console().print(table)


def build_app() -> typer.Typer:
    """Root Typer app with every package's commands registered."""
    app = typer.Typer(
        name="drydock",
        help="Drydock: ingest crypto market data, backtest strategies, track runs in MLflow, "
        "and replay or run promoted strategies through the shared policy engine.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.command("strategies")(_strategies)
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(app)
    return app


def main() -> None:
    """Entry point: usage errors are click's (exit 2); user errors print one paragraph, exit 2."""
    try:
        build_app()()
    except DrydockError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
