"""The root conftest's tiers: a test is ``unit`` unless it is marked integration or e2e."""

from __future__ import annotations

import pytest


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
