"""The import contracts of pyproject.toml: the pure-core list covers the kernel, and a trial
violation of each contract makes `lint-imports` fail naming that contract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from drydock.settings import REPO_ROOT

CONFIG = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]
PACKAGES = CONFIG["root_packages"]
#: Kernel modules outside the pure core: the adapters themselves (the point of the contract).
NOT_CORE = {"drydock.adapters"}


def contract(name_start: str) -> dict[str, object]:
    return next(c for c in CONFIG["contracts"] if c["name"].startswith(name_start))


def test_the_pure_core_lists_every_kernel_module_but_the_adapters() -> None:
    kernel = {
        f"drydock.{p.stem if p.is_file() else p.name}"
        for p in (REPO_ROOT / "drydock").iterdir()
        if (p.suffix == ".py" and not p.name.startswith("_"))
        or (p.is_dir() and (p / "__init__.py").exists())
    }
    listed = set(contract("A pure core")["source_modules"])  # type: ignore[arg-type]
    assert kernel - NOT_CORE - listed == set(), "add the new kernel module to the pure core"
    assert listed <= kernel


def test_the_adapters_contract_names_every_adapter() -> None:
    adapters = {
        f"drydock.adapters.{p.name}"
        for p in (REPO_ROOT / "drydock" / "adapters").iterdir()
        if (p / "__init__.py").exists()
    }
    assert set(contract("Adapters are independent")["modules"]) == adapters  # type: ignore[arg-type]


TRIALS = {
    "Layers": ("drydock/probe_layers.py", "import research.backtest\n"),
    "A pure core": ("drydock/policy/_probe.py", "import ccxt\n"),
    "One home per outside system": ("live/probe_client.py", "import web3\n"),
    "Adapters are independent": (
        "drydock/adapters/evm/_probe.py",
        "import drydock.adapters.news\n",
    ),
}


@pytest.mark.integration
def test_a_trial_violation_of_each_contract_breaks_it(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    env = os.environ | {"PYTHONPATH": str(tmp_path)}
    clean = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stdout[-2000:]
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in clean.stdout
    for path, source in TRIALS.values():
        (tmp_path / path).write_text(source)
    broken = subprocess.run(
        lint, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert broken.returncode != 0
    for name in TRIALS:
        line = next(ln for ln in broken.stdout.splitlines() if ln.startswith(name[:20]))
        assert "BROKEN" in line or "BROKEN" in broken.stdout.split(line, 1)[1].split("\n", 2)[1]
    assert f"Contracts: 0 kept, {len(TRIALS)} broken." in broken.stdout
