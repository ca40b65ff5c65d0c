"""Timeframe strings ("1m", "5m", "1h", "4h", "1d") and their durations."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from drydock.errors import DrydockError

__all__ = [
    "canonical_timeframe",
    "canonical_timeframe_option",
    "periods_per_year",
    "timeframe_delta",
    "timeframe_seconds",
]

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^(\d+)([mhdw])$", re.ASCII)
_SPELLING = re.compile(r"^(\d+)([smhdw])$", re.ASCII)
# the largest unit that divides a duration names it: 60m -> 1h, 1440m and 24h -> 1d, 60s -> 1m;
# weeks only when written as weeks (exchanges align 1w bars to Mondays, 7d bars to the epoch)
_CANONICAL_UNITS = (("d", 86400), ("h", 3600), ("m", 60))


def canonical_timeframe(timeframe: str) -> str:
    """The one spelling of ``timeframe`` the lake and every command use (``60m`` -> ``1h``).

    Equal durations are one series: without this ``-t 60m`` made a second series beside ``1h``.
    """
    # padding spaces go; a control or invisible character (a pasted newline, a zero-width space)
    # is refused, as for every identifier at the boundary
    invisible = any(unicodedata.category(ch) in ("Cc", "Cf") for ch in timeframe)
    text = timeframe.strip(" ")
    match = None if invisible else _SPELLING.fullmatch(text)
    if not match or int(match.group(1)) == 0:
        raise DrydockError(
            f"Invalid timeframe {timeframe!r}: use a positive number followed by m, h, d or w, "
            "e.g. '1m', '15m', '1h', '4h', '1d'."
        )
    count, unit = int(match.group(1)), match.group(2)
    if unit == "w":
        return f"{count}w"
    seconds = count * (1 if unit == "s" else _UNITS[unit])
    for name, size in _CANONICAL_UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{name}"
    raise DrydockError(
        f"Invalid timeframe {timeframe!r}: bars shorter than a minute or not a whole number of "
        "minutes are not supported; use a multiple of 60s such as '60s' (= '1m')."
    )


def canonical_timeframe_option(value: str | None) -> str | None:
    """Typer callback of ``-t/--timeframe`` (like the symbol and exchange callbacks)."""
    return None if value is None else canonical_timeframe(value)


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
