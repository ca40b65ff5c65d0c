"""Memory budget of a sweep: ``--max-memory`` parsing, available memory, and chunk sizing."""

from __future__ import annotations

import os
import re

from drydock.errors import ConfigError

#: Share of the currently available memory a sweep takes by default.
AVAILABLE_FRACTION = 0.5
_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*$", re.IGNORECASE)
#: Smallest budget that still holds a chunk of a year of 1m targets plus the working set.
MIN_BUDGET = 64 << 20


def parse_size(raw: str) -> int:
    """``"2GB"``, ``"512MB"``, ``"1.5G"`` or bytes -> bytes (binary units: 1 GB = 2**30 bytes)."""
    match = _SIZE.match(raw)
    if not match:
        raise ConfigError(f"--max-memory {raw!r} is not a size; write e.g. 2GB, 512MB or 1.5GB.")
    number, unit = float(match.group(1)), match.group(2).upper()
    unit = unit if unit.endswith("B") or not unit else unit + "B"
    size = int(number * _UNITS[unit])
    if size < MIN_BUDGET:
        raise ConfigError(
            f"--max-memory {raw!r} is below the {MIN_BUDGET >> 20} MB a sweep needs; give e.g. 512MB."
        )
    return size


def available_memory() -> int:
    """Bytes of memory available to new allocations now (psutil, else ``os.sysconf``)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil ships with the dev environment
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def budget(max_memory: int | None = None) -> int:
    """The sweep's working-memory budget: ``max_memory`` capped by half of what is available."""
    cap = int(available_memory() * AVAILABLE_FRACTION)
    return max(MIN_BUDGET, min(max_memory, cap) if max_memory else cap)


def chunk_size(
    bytes_per_set: int, memory: int, sets: int, floor: int = 1, ceiling: int = 4096
) -> int:
    """Parameter sets per chunk: as many as ``memory`` holds at ``bytes_per_set``, within
    ``[floor, ceiling]`` and at most ``sets``."""
    fit = memory // max(bytes_per_set, 1)
    return max(1, min(sets, ceiling, max(floor, fit)))
