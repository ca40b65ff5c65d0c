"""Build an exchange venue from its id and the environment: credentials never come from files.

``DRYDOCK_<EXCHANGE>_API_KEY``, ``..._SECRET`` and (for exchanges that use one, like OKX)
``..._PASSWORD`` are read from the environment. Live mode needs the key and secret; dry-run
works without them (markets and prices are public reads). ``sandbox`` switches ccxt to the
exchange's test environment and fails clearly where the exchange has none.
"""

from __future__ import annotations

from collections.abc import Mapping

from drydock.adapters.ccxt import CcxtVenue, make_exchange


def exchange_venue(
    exchange_id: str,
    *,
    require_credentials: bool,
    sandbox: bool = False,
    env: Mapping[str, str] | None = None,
) -> CcxtVenue:
    """A :class:`CcxtVenue` for ``exchange_id`` (a ccxt id such as ``binance`` or ``kraken``),
    credentials from the environment (:func:`drydock.adapters.ccxt.credential_names`)."""
    exchange = make_exchange(
        exchange_id, require_credentials=require_credentials, sandbox=sandbox, env=env
    )
    return CcxtVenue(exchange)
