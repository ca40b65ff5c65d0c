"""The policy figures run end to end on a small batch and report a consistent six-key line."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from benchmarks.policy import BOOK, cases, policy_eval_p99_us, policy_evals_per_s
from drydock.policy import evaluate, parse_policy
from drydock.policy._explain import effective_rules


def test_book_is_realistic_and_the_mix_is_mixed() -> None:
    """20+ effective rules; the cases are partly allowed and denied by every layer."""
    policy = parse_policy(BOOK)
    assert len(effective_rules(policy)) >= 20
    decisions = [evaluate(a, c, policy) for a, c in cases(2_000)]
    allowed = sum(d.allowed for d in decisions) / len(decisions)
    assert 0.25 < allowed < 0.75
    layers = Counter(d.violations[0].layer for d in decisions if not d.allowed)
    assert set(layers) == {"system", "session", "transaction", "risk", "circuit_breakers"}
    assert cases(50) == cases(50)  # seeded


def test_evals_per_s_figure() -> None:
    figure = json.loads(policy_evals_per_s(n=2_000, repeat=1).json())
    assert (figure["name"], figure["unit"], figure["n"]) == ("policy_evals_per_s", "evals/s", 2_000)
    assert figure["value"] > 0 and figure["baseline"] > 0
    assert figure["ratio"] == pytest.approx(figure["value"] / figure["baseline"], abs=0.01)


def test_p99_figure() -> None:
    figure = json.loads(policy_eval_p99_us(n=2_000).json())
    assert (figure["name"], figure["unit"], figure["n"]) == ("policy_eval_p99_us", "us", 2_000)
    assert figure["value"] > 0 and figure["baseline"] > 0
    assert figure["ratio"] == pytest.approx(figure["baseline"] / figure["value"], abs=0.01)
