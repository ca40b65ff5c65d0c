"""Waiting for an outside system to reach a state (an order settled, a transaction confirmed): one
poll loop on tenacity, with the clock's ``sleep`` injectable so tests run without waiting."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, wait_fixed

__all__ = ["check_poll_config", "poll_until"]

T = TypeVar("T")


def check_poll_config(interval: float, timeout: float) -> None:
    """Refuse a poll interval or timeout that is not a finite number >= 0 (NaN waited forever in
    the loops this replaced); venues call it when built, so a bad config fails at load."""
    for name, value in (("poll interval", interval), ("timeout", timeout)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and value >= 0)
        ):
            raise ValueError(f"{name} {value!r} must be a finite number of seconds >= 0")


def _gave_up(state: RetryCallState) -> None:
    return None


def poll_until(
    check: Callable[[], T | None],
    *,
    interval: float,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    wait_first: bool = False,
) -> T | None:
    """Call ``check`` now (or after one ``interval`` with ``wait_first``) and after every
    ``interval`` seconds until it returns something other than None, for at most ``timeout``
    seconds of sleeping (``ceil(timeout / interval)`` waits); None if it never did. Exceptions
    from ``check`` propagate at once."""
    check_poll_config(interval, timeout)
    waits = math.ceil(timeout / interval) if interval > 0 else 0
    if wait_first:
        if waits == 0:
            return None
        sleep(interval)
        waits -= 1
    retrying = Retrying(
        retry=retry_if_result(lambda result: result is None),
        stop=stop_after_attempt(waits + 1),
        wait=wait_fixed(interval),
        sleep=sleep,
        retry_error_callback=_gave_up,
    )
    result: T | None = retrying(check)
    return result
