"""``drydock data``: commands over the market-data lake (import, status)."""

from __future__ import annotations

import typer

data_app = typer.Typer(help="Market data in the lake: import files, show coverage and quality.")


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the root CLI."""
    app.add_typer(data_app, name="data")
