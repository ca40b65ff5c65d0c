"""drydock.polling.poll_until: how many checks and waits, what it returns, and errors passing."""

from __future__ import annotations

import math

import pytest

from drydock.polling import poll_until


def counting(answers: list[int | None]) -> tuple[list[float], list[str], object]:
    slept: list[float] = []
    calls: list[str] = []
    queue = list(answers)

    def check() -> int | None:
        calls.append("check")
        return queue.pop(0) if queue else None

    return slept, calls, check


def test_it_returns_the_first_answer_and_waits_between_checks() -> None:
    slept, calls, check = counting([None, None, 7])
    assert poll_until(check, interval=0.5, timeout=10, sleep=slept.append) == 7  # type: ignore[arg-type]
    assert len(calls) == 3 and slept == [0.5, 0.5]


def test_it_gives_up_after_ceil_timeout_over_interval_waits() -> None:
    slept, calls, check = counting([])
    assert poll_until(check, interval=0.5, timeout=1.2, sleep=slept.append) is None  # type: ignore[arg-type]
    assert slept == [0.5, 0.5, 0.5] and len(calls) == 4  # checks at 0, 0.5, 1.0, 1.5


def test_wait_first_sleeps_before_the_first_check_with_the_same_total() -> None:
    slept, calls, check = counting([])
    assert poll_until(check, interval=0.5, timeout=1.0, sleep=slept.append, wait_first=True) is None  # type: ignore[arg-type]
    assert slept == [0.5, 0.5] and len(calls) == 2


def test_errors_of_the_check_propagate_at_once() -> None:
    slept: list[float] = []

    def boom() -> None:
        raise RuntimeError("venue down")

    with pytest.raises(RuntimeError, match="venue down"):
        poll_until(boom, interval=1, timeout=5, sleep=slept.append)
    assert slept == []


@pytest.mark.parametrize(
    ("interval", "timeout"),
    [(math.nan, 5.0), (1.0, math.nan), (math.inf, 5.0), (1.0, math.inf), (-1.0, 5.0)],
)
def test_nan_inf_or_negative_waits_are_refused_not_looped_on(
    interval: float, timeout: float
) -> None:
    """The hand-written loops this replaced waited forever on a NaN timeout."""
    with pytest.raises(ValueError, match="must be a finite number of seconds"):
        poll_until(lambda: None, interval=interval, timeout=timeout, sleep=lambda s: None)


def test_a_venue_with_a_nan_poll_interval_fails_when_built() -> None:
    from drydock.adapters.ccxt import CcxtVenue

    with pytest.raises(ValueError, match="poll interval nan"):
        CcxtVenue(object(), name="x", poll_interval=math.nan)  # type: ignore[arg-type]
