"""drydock.polling.poll_until: how many checks and waits, what it returns, and errors passing."""

from __future__ import annotations

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
