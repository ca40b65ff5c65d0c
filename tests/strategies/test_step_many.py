"""``Strategy.step_many``: the runner's fast-forward form equals stepping bar by bar, bit for bit
(targets and the state left behind), from a fresh state and from the middle of a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drydock.types import Bar
from strategies import get_strategy


def stepped(closes: np.ndarray, params: dict[str, float], state: object) -> list[float]:
    strategy = get_strategy("ema_cross")
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        strategy.step(state, Bar(t0 + timedelta(minutes=i), c, c, c, c, 1.0), params)
        for i, c in enumerate(closes)
    ]


@settings(max_examples=60, deadline=None)
@given(
    closes=st.lists(st.floats(1e-3, 1e6, allow_nan=False), min_size=0, max_size=300),
    split=st.integers(0, 300),
    fast=st.integers(2, 20),
    gap=st.integers(3, 40),
)
def test_ema_cross_step_many_is_bit_identical_to_step(
    closes: list[float], split: int, fast: int, gap: int
) -> None:
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params({"fast": fast, "slow": fast + gap})
    data = np.asarray(closes, dtype=np.float64)
    split = min(split, len(closes))
    slow_state, fast_state = strategy.init_state(params), strategy.init_state(params)
    expected = stepped(data, params, slow_state)
    # Part bar by bar, then the rest at once: a runner that catches up mid-run.
    head = stepped(data[:split], params, fast_state)
    tail = strategy.step_many(fast_state, data[split:], params)
    assert tail is not None
    assert head + tail.tolist() == expected
    assert (fast_state.fast, fast_state.slow, fast_state.bars) == (
        slow_state.fast, slow_state.slow, slow_state.bars,
    )  # fmt: skip


def test_strategies_without_a_fast_form_return_none() -> None:
    from strategies.base import Strategy

    class Plain(Strategy):
        id, description, params = "plain", "no fast form", ()

        def warmup(self, params: dict[str, float]) -> int:
            return 0

        def signals(self, frame, params):  # type: ignore[no-untyped-def]
            return frame

        def init_state(self, params: dict[str, float]) -> None:
            return None

        def step(self, state, bar, params):  # type: ignore[no-untyped-def]
            return 0.0

    assert Plain().step_many(None, np.ones(3), {}) is None


def test_a_year_of_minutes_steps_in_one_pass() -> None:
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params({"fast": 60, "slow": 400})
    rng = np.random.default_rng(7)
    closes = 30_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, 525_600)))
    targets = strategy.step_many(strategy.init_state(params), closes, params)
    assert targets is not None and targets.shape == (525_600,)
    assert set(np.unique(targets)) == {0.0, 1.0} and not targets[:399].any()
    with pytest.raises(ValueError):
        np.asarray(targets).reshape(7, -1)  # 525,600 is not a multiple of 7: a real length
