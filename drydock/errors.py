"""User-facing errors: each names the bad input, what is wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CircuitOpenError",
    "ConfigError",
    "CorruptDataError",
    "DataNotFoundError",
    "DrydockError",
    "InsufficientFundsError",
    "MinNotionalError",
    "RateLimitedError",
    "TransientVenueError",
    "VenueError",
    "unknown_choice",
]


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


# Venue errors: raised by the venue clients of drydock.adapters and the venues of live/, read by
# the runner to decide between retry, stop and give up. Not DrydockErrors: they are outcomes of a
# venue call, not input the user can fix.
class VenueError(Exception):
    """A venue refused or failed an order; the order stays journaled for reconciliation."""


class TransientVenueError(VenueError):
    """A failure worth retrying with backoff (timeouts, rate limits, 5xx)."""


class RateLimitedError(TransientVenueError):
    """The venue asked us to slow down (HTTP 429, exchange rate-limit codes): retried later."""


class InsufficientFundsError(VenueError):
    """The account cannot pay for the order (final for this order; the operator must fund it)."""


class MinNotionalError(VenueError):
    """The order's value is below the instrument's min notional (final, never retried)."""


class CircuitOpenError(TransientVenueError):
    """The venue's circuit breaker is open after repeated failures: nothing is sent until it
    cools down (see :class:`live.venues.breaker.BreakerVenue`)."""
