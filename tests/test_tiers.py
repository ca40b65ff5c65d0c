"""The root conftest's tiers: a test is ``unit`` unless it is marked integration or e2e."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import pytest_ignore_collect


def test_an_unmarked_test_is_unit(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None


@pytest.mark.integration
def test_an_integration_test_is_not_unit(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is None


@pytest.mark.e2e
@pytest.mark.slow
def test_an_e2e_test_is_not_unit_and_slow_is_orthogonal(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is None
    assert request.node.get_closest_marker("slow") is not None


def test_markers_are_registered(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert {"unit", "integration", "e2e", "slow"} <= registered


@pytest.mark.parametrize(
    ("source", "markexpr", "ignored"),
    [
        ("pytestmark = pytest.mark.integration\n", "unit", True),
        ("pytestmark = pytest.mark.integration\n", "integration", None),
        ("pytestmark = pytest.mark.integration\n", "not e2e", None),
        ("pytestmark = pytest.mark.e2e\n", "unit or integration", True),
        # one slow test inside: `-m "not slow"` must still collect the module's other tests
        ("pytestmark = pytest.mark.integration\n@pytest.mark.slow\n", "not slow", None),
        ("pytestmark = pytest.mark.integration\n@pytest.mark.slow\n", "slow", None),
        ("pytestmark = pytest.mark.integration\n@pytest.mark.slow\n", "unit", True),
        ("import pytest\n", "unit", None),  # no module tier: its tests may be unit
        ("pytestmark = pytest.mark.integration\n", "", None),  # no -m: collect everything
    ],
)
def test_modules_deselected_by_m_are_not_even_imported(
    source: str,
    markexpr: str,
    ignored: bool | None,
    tmp_path: Path,
    pytestconfig: pytest.Config,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = tmp_path / "test_sample.py"
    module.write_text(source, encoding="utf-8")
    monkeypatch.setattr(pytestconfig.option, "markexpr", markexpr)
    assert pytest_ignore_collect(module, pytestconfig) is ignored
