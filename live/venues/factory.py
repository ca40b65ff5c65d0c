"""Build an exchange venue from its id and the environment: credentials never come from files.

``DRYDOCK_<EXCHANGE>_API_KEY``, ``..._SECRET`` and (for exchanges that use one, like OKX)
``..._PASSWORD`` are read from the environment. Live mode needs the key and secret; dry-run
works without them (markets and prices are public reads). ``sandbox`` switches ccxt to the
exchange's test environment and fails clearly where the exchange has none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import ccxt

from drydock.errors import ConfigError
from live.venues.ccxt_venue import CcxtVenue


def credential_names(exchange_id: str) -> dict[str, str]:
    """The environment variable names of an exchange's credentials."""
    prefix = f"DRYDOCK_{exchange_id.upper()}_"
    return {
        "apiKey": prefix + "API_KEY",
        "secret": prefix + "SECRET",
        "password": prefix + "PASSWORD",
    }


def exchange_venue(
    exchange_id: str,
    *,
    require_credentials: bool,
    sandbox: bool = False,
    env: Mapping[str, str] | None = None,
) -> CcxtVenue:
    """A :class:`CcxtVenue` for ``exchange_id`` (a ccxt id such as ``binance`` or ``kraken``)."""
    source = env if env is not None else os.environ
    exchange_id = exchange_id.strip().lower()
    if exchange_id not in ccxt.exchanges:
        raise ConfigError(
            f"Unknown exchange {exchange_id!r}: use a ccxt exchange id (e.g. binance, kraken, okx)."
        )
    names = credential_names(exchange_id)
    config: dict[str, object] = {"enableRateLimit": True}
    for field, name in names.items():
        value = source.get(name, "").strip()
        if value:
            config[field] = value
    missing = [names[f] for f in ("apiKey", "secret") if f not in config]
    if require_credentials and missing:
        raise ConfigError(
            f"Live trading on {exchange_id} needs {' and '.join(missing)} in the environment "
            "(never in files or config)."
        )
    exchange = getattr(ccxt, exchange_id)(config)
    if sandbox:
        if not (exchange.urls or {}).get("test"):
            raise ConfigError(
                f"{exchange_id} has no sandbox in ccxt; drop --sandbox or use dry-run."
            )
        exchange.set_sandbox_mode(True)
    return CcxtVenue(exchange)
