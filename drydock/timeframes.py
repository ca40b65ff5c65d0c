"""Timeframe strings ("1m", "5m", "1h", "4h", "1d") and their durations."""

from __future__ import annotations

import re
from datetime import timedelta

from drydock.errors import DrydockError

__all__ = ["periods_per_year", "timeframe_delta", "timeframe_seconds"]

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^(\d+)([mhdw])$")


def timeframe_seconds(timeframe: str) -> int:
    """Seconds in one bar of ``timeframe``; raises a clear error for a malformed string."""
    match = _PATTERN.fullmatch(timeframe)
    if not match or int(match.group(1)) == 0:
        raise DrydockError(
            f"Invalid timeframe {timeframe!r}: use a positive number followed by m, h, d or w, "
            "e.g. '1m', '15m', '1h', '4h', '1d'."
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def timeframe_delta(timeframe: str) -> timedelta:
    return timedelta(seconds=timeframe_seconds(timeframe))


def periods_per_year(timeframe: str) -> float:
    """Bars in a 365-day year: crypto trades around the clock, so no 252-day convention."""
    return 365 * 86400 / timeframe_seconds(timeframe)
