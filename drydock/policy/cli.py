"""``drydock policy``: validate a policy file and explain decisions."""

from __future__ import annotations

import typer

policy_app = typer.Typer(help="Policy files: check one, explain a decision.")


def register(app: typer.Typer) -> None:
    """Add the ``policy`` command group to the root CLI."""
    app.add_typer(policy_app, name="policy")
