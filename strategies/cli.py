"""``drydock strategies``: every discovered strategy, its parameters, ranges and origin."""

from __future__ import annotations

from typing import Any

import typer

from drydock.cli_options import AsJson, print_json


def _spec(spec: Any) -> dict[str, Any]:
    return {"name": spec.name, "default": spec.default, "low": spec.low, "high": spec.high,
            "step": spec.step, "doc": spec.doc}  # fmt: skip


def strategies_json() -> list[dict[str, Any]]:
    """Every strategy as {id, kind (signal or order), description, origin, params}."""
    from strategies.order_based import order_strategies
    from strategies.registry import strategy_sources

    out = []
    for source in strategy_sources():
        strategy = source.cls()
        out.append({"id": source.id, "kind": "signal", "description": strategy.description,
                    "origin": source.origin, "params": [_spec(s) for s in strategy.params]})  # fmt: skip
    for sid, cls in order_strategies().items():
        order_strategy = cls()
        out.append({"id": sid, "kind": "order", "description": order_strategy.description,
                    "origin": cls.__module__, "params": [_spec(s) for s in order_strategy.params]})  # fmt: skip
    return out


def strategies_command(as_json: AsJson = False) -> None:
    """List the strategies (library and your own), their parameters, sweep ranges and origin."""
    from rich.console import Console
    from rich.table import Table

    from strategies.registry import strategy_sources

    if as_json:
        print_json(strategies_json())
        return

    table = Table("strategy", "parameter", "default", "range", "description")
    origins = Table("strategy", "from", title="Where each strategy came from")
    for source in strategy_sources():
        strategy = source.cls()
        origins.add_row(source.id, source.origin)
        if not strategy.params:
            table.add_row(source.id, "-", "", "", strategy.description)
        for i, spec in enumerate(strategy.params):
            table.add_row(
                source.id if i == 0 else "",
                spec.name,
                f"{spec.default:g}",
                f"{spec.low:g}..{spec.high:g} step {spec.step:g}",
                spec.doc if i else f"{strategy.description} ({spec.doc})",
            )
    from strategies.order_based import order_strategies

    for sid, cls in order_strategies().items():
        order_strategy = cls()
        origins.add_row(sid, f"{cls.__module__} (order-level: `drydock simulate {sid}`)")
        for i, spec in enumerate(order_strategy.params):
            table.add_row(
                sid if i == 0 else "",
                spec.name,
                f"{spec.default:g}",
                f"{spec.low:g}..{spec.high:g} step {spec.step:g}",
                spec.doc if i else f"{order_strategy.description} ({spec.doc})",
            )
    console = Console()
    console.print(table)
    console.print(origins)


def register(app: typer.Typer) -> None:
    """Add ``drydock strategies`` to the root CLI."""
    app.command("strategies")(strategies_command)
