"""User-facing errors: each names the bad input, what is wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable


class DrydockError(Exception):
    """An error the user can act on; the CLI prints it as one paragraph without a traceback."""


class DataNotFoundError(DrydockError):
    """Requested data is not in the lake."""


class CorruptDataError(DrydockError):
    """A lake file is unreadable or holds rows that break the lake's invariants."""


class ConfigError(DrydockError):
    """Configuration or parameters failed validation at load time."""


def unknown_choice(kind: str, value: str, choices: Iterable[str], hint: str = "") -> DrydockError:
    """Build the standard 'unknown X' error listing the valid choices."""
    options = ", ".join(sorted(choices)) or "(none available)"
    message = f"Unknown {kind} {value!r}. Valid choices: {options}."
    if hint:
        message += f" {hint}"
    return DrydockError(message)
