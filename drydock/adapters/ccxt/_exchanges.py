"""ccxt exchange instances: ids, credentials from the environment only, sandbox mode.

Credentials are read from ``DRYDOCK_<EXCHANGE>_API_KEY``, ``..._SECRET`` and ``..._PASSWORD``
(never from files or config) and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import ccxt

from drydock.errors import ConfigError

#: Every ccxt exception derives from this; callers catch it without importing ccxt.
CcxtError = ccxt.BaseError


def exchange_ids() -> list[str]:
    """The exchange ids ccxt knows (``binance``, ``kraken``, ...)."""
    return list(ccxt.exchanges)


def exchange_timeframes(exchange_id: str) -> dict[str, Any]:
    """The timeframes ``exchange_id`` serves OHLCV in (ccxt's ``timeframes`` map; {} if none)."""
    return dict(getattr(ccxt, exchange_id)().timeframes or {})


def credential_names(exchange_id: str) -> dict[str, str]:
    """The environment variable names of an exchange's credentials."""
    prefix = f"DRYDOCK_{exchange_id.upper()}_"
    return {
        "apiKey": prefix + "API_KEY",
        "secret": prefix + "SECRET",
        "password": prefix + "PASSWORD",
    }


def make_exchange(
    exchange_id: str,
    *,
    require_credentials: bool = False,
    sandbox: bool = False,
    env: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """A rate-limited ccxt exchange for ``exchange_id`` with the credentials the environment
    holds; ``require_credentials`` refuses to build one without key and secret."""
    source = env if env is not None else os.environ
    exchange_id = exchange_id.strip().lower()
    if exchange_id not in ccxt.exchanges:
        raise ConfigError(
            f"Unknown exchange {exchange_id!r}: use a ccxt exchange id (e.g. binance, kraken, okx)."
        )
    names = credential_names(exchange_id)
    config: dict[str, object] = {"enableRateLimit": True, **(options or {})}
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
    return exchange
