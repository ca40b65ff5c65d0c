"""Startup stays light: listing commands import no heavy library, and the typer shim is exact."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration  # fresh interpreters in subprocesses

HEAVY = ("pydantic", "polars", "numpy", "pandas", "vectorbt", "dagster", "mlflow", "ccxt")


@pytest.mark.parametrize("argv", [["--help"], ["strategies"]])
def test_listing_commands_import_no_heavy_library(argv: list[str]) -> None:
    """`drydock --help` and `drydock strategies` run without pydantic, polars, numpy & co."""
    code = (
        "import sys\n"
        f"sys.argv = ['drydock', *{argv!r}]\n"
        "from drydock.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert "Usage" in done.stdout or "ema_cross" in done.stdout


PROBE = """
import sys
import typer
from typer.testing import CliRunner
if sys.argv[1] == "shim":
    from drydock.cli import _skip_coercion_of_unset_options
    _skip_coercion_of_unset_options()
    _skip_coercion_of_unset_options()  # idempotent
seen = []
def remember(value):
    seen.append(value)
    return value
app = typer.Typer()
@app.command()
def run(
    need: int = typer.Option(..., "--need"),
    maybe: int | None = typer.Option(None, "--maybe", callback=remember),
    names: list[str] | None = typer.Option(None, "--name"),
) -> None:
    typer.echo(f"{need!r} {maybe!r} {names!r}")
for argv in (["--need", "3"], ["--need", "4", "--maybe", "7", "--name", "a"], [], ["--need", "x"]):
    result = CliRunner().invoke(app, argv)
    print(result.exit_code, repr(result.output))
print("callback saw", seen)
"""


def test_unset_option_shim_keeps_typer_semantics() -> None:
    """With the shim, typer gives the same exit codes, output and callback calls as without it."""
    outputs = {
        mode: subprocess.run(
            [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
        ).stdout
        for mode in ("plain", "shim")
    }
    assert outputs["shim"] == outputs["plain"]
    lines = outputs["shim"].splitlines()
    assert lines[0] == "0 '3 None None\\n'"
    assert lines[1] == "0 \"4 7 ['a']\\n\""
    assert lines[2].startswith("2 ") and "Missing option '--need'" in lines[2]
    assert lines[3].startswith("2 ") and "--need" in lines[3]
    assert lines[4] == "callback saw [None, 7]"
