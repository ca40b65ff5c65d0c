"""Shared fixtures: every test gets its own DRYDOCK_HOME so no test touches ./data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from drydock.settings import REPO_ROOT, Settings

# Reuse vectorbt's numba compilation cache across runs (set before numba is imported).
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO_ROOT / "data" / "numba_cache"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh DRYDOCK_HOME for one test; returns its path."""
    root = tmp_path / "drydock-home"
    root.mkdir()
    monkeypatch.setenv("DRYDOCK_HOME", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster"))
    (root / "dagster").mkdir()
    yield root


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings()
