"""The ``drydock`` command line: a kernel root that packages extend through entry points.

The kernel imports no package to its right. Each package contributes its commands through the
entry-point group ``drydock.commands`` (a ``register(app)`` function) and its lines of
``drydock status`` through ``drydock.status`` (a function returning ``(label, value)`` rows);
both groups are declared in ``pyproject.toml`` and read with :mod:`importlib.metadata`.
Heavy libraries load inside the commands, so ``drydock --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import cast

import typer

from drydock import __version__
from drydock.errors import ConfigError, DrydockError

COMMANDS_GROUP = "drydock.commands"
STATUS_GROUP = "drydock.status"
REINSTALL_HINT = "Reinstall the project's metadata with `make venv` (or `uv pip install -e .`)."

StatusRows = Iterable[tuple[str, str]]


def _entry_points(group: str) -> list[EntryPoint]:
    """The group's entry points sorted by name; none at all means stale install metadata."""
    found = sorted(entry_points(group=group), key=lambda ep: ep.name)
    if not found:
        raise ConfigError(f"No `{group}` entry points are installed. {REINSTALL_HINT}")
    return found


def _load(ep: EntryPoint) -> Callable[..., object]:
    """Load one entry point; a failure names it and the package that declared it."""
    try:
        loaded: Callable[..., object] = ep.load()
    except Exception as exc:
        hint = REINSTALL_HINT if isinstance(exc, ImportError | AttributeError) else ""
        raise ConfigError(
            f"Entry point {ep.group}:{ep.name} = {ep.value} failed to load: "
            f"{type(exc).__name__}: {exc}. {hint}".rstrip()
        ) from exc
    return loaded


def kernel_status() -> StatusRows:
    """The kernel's lines of ``drydock status``: home, lake, kill switch."""
    from drydock.ohlcv import available_series
    from drydock.settings import get_settings

    settings = get_settings()
    kill = settings.kill_file
    return [
        ("home", str(settings.root)),
        ("lake", f"{len(available_series())} series in {settings.lake_dir}"),
        ("kill switch", f"ENGAGED ({kill})" if kill.exists() else f"off ({kill} absent)"),
    ]


def status_command() -> None:
    """Show the home, lake series count, journal, kill switch state and unfinished runs."""
    rows = list(kernel_status())
    for ep in _entry_points(STATUS_GROUP):
        provider = cast(Callable[[], StatusRows], _load(ep))
        rows += provider()
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        typer.echo(f"{label:<{width}}  {value}")


def _version(value: bool) -> None:
    """Print the version and the resolved home, then exit."""
    if value:
        from drydock.settings import get_settings

        typer.echo(f"drydock {__version__}\nhome {get_settings().root}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version and the resolved DRYDOCK_HOME, then exit.",
    ),
) -> None:
    """Drydock: ingest crypto market data, backtest strategies, track runs in MLflow, and replay
    or run promoted strategies through the shared policy engine."""


def build_app() -> typer.Typer:
    """Root Typer app with the kernel's commands and every installed package's commands."""
    app = typer.Typer(
        name="drydock",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,  # plain click help: typer's rich help costs ~0.3 s of imports
    )
    app.callback()(_root)
    app.command("status")(status_command)
    for ep in _entry_points(COMMANDS_GROUP):
        _load(ep)(app)
    return app


def main() -> None:
    """Entry point: usage errors are click's (exit 2); user errors print one paragraph, exit 2."""
    try:
        build_app()()
    except DrydockError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
