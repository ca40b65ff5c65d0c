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
from typing import Annotated, Any, cast

import typer

from drydock import __version__
from drydock.errors import ConfigError, DrydockError

__all__ = [
    "COMMANDS_GROUP",
    "LISTING_COMMANDS",
    "REINSTALL_HINT",
    "STATUS_GROUP",
    "StatusRows",
    "build_app",
    "kernel_status",
    "main",
    "status_command",
]

COMMANDS_GROUP = "drydock.commands"
STATUS_GROUP = "drydock.status"
REINSTALL_HINT = "Reinstall the project's metadata with `make venv` (or `uv pip install -e .`)."

StatusRows = Iterable[tuple[str, str]]
#: Commands that only list things and log nothing: they skip logging setup to start fast.
LISTING_COMMANDS = frozenset({"strategies", "status"})


def _skip_coercion_of_unset_options() -> None:
    """Let options left unset (value None) pass typer without building a pydantic adapter.

    typer 0.29 builds a pydantic ``TypeAdapter`` for every option of the command being run, even
    for an unset ``--help`` whose value is None, which costs ~0.3 s of imports on every command.
    Coercing None yields None, so skipping it changes no result; required and callback handling
    stay as typer does them. Set values (and list options) are coerced by typer as before.
    """
    from typer._click.exceptions import MissingParameter
    from typer.core import _TyperParameter

    original = _TyperParameter.process_value
    if getattr(original, "__drydock_lazy__", False):
        return

    def process_value(self: Any, ctx: Any, value: Any) -> Any:
        if value is not None or self.multiple or self.nargs == -1:
            return original(self, ctx, value)
        if self.required:
            raise MissingParameter(ctx=ctx, param=self)
        return self.callback(ctx, self, value) if self.callback is not None else value

    process_value.__drydock_lazy__ = True  # type: ignore[attr-defined]
    _TyperParameter.process_value = process_value  # type: ignore[method-assign]


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


def status_json(rows: StatusRows) -> dict[str, Any]:
    """The status lines as {label: value}; unlabelled continuation lines (one per unfinished run)
    go to a list under "<label above> list"."""
    out: dict[str, Any] = {}
    last = ""
    for label, value in rows:
        if label:
            out[label], last = value, label
        else:
            out.setdefault(f"{last} list", []).append(value)
    return out


def status_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object {line: value}.")
    ] = False,
) -> None:
    """Show the home, lake series count, journal, kill switch state and unfinished runs."""
    rows = list(kernel_status())
    for ep in _entry_points(STATUS_GROUP):
        provider = cast(Callable[[], StatusRows], _load(ep))
        rows += provider()
    if as_json:
        from drydock.cli_options import print_json

        print_json(status_json(rows))
        return
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
    ctx: typer.Context,
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
    if ctx.invoked_subcommand not in LISTING_COMMANDS:
        from drydock.logs import configure_logging  # structlog + rich: ~0.15 s, not for listings

        configure_logging()  # once, before any command logs (DRYDOCK_LOG_FORMAT / _LEVEL)


def build_app() -> typer.Typer:
    """Root Typer app with the kernel's commands and every installed package's commands."""
    app = typer.Typer(
        name="drydock",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,  # plain click help: typer's rich help costs ~0.3 s of imports
    )
    _skip_coercion_of_unset_options()
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
