"""Exchange venues from the environment: credentials only from env vars, clear errors, sandbox."""

from __future__ import annotations

import pytest

from drydock.adapters.ccxt import credential_names
from drydock.errors import ConfigError
from live.venues.factory import exchange_venue

KEY = "k-123-not-real"
SECRET = "c2VjcmV0LW5vdC1yZWFs"


def test_live_needs_key_and_secret_named_by_env_var() -> None:
    with pytest.raises(ConfigError, match="DRYDOCK_BINANCE_API_KEY and DRYDOCK_BINANCE_SECRET"):
        exchange_venue("binance", require_credentials=True, env={})
    with pytest.raises(ConfigError, match="DRYDOCK_BINANCE_SECRET"):
        exchange_venue("binance", require_credentials=True, env={"DRYDOCK_BINANCE_API_KEY": KEY})


def test_credentials_reach_ccxt_and_nothing_else() -> None:
    env = {"DRYDOCK_BINANCE_API_KEY": f"  {KEY}\n", "DRYDOCK_BINANCE_SECRET": SECRET}
    venue = exchange_venue("Binance", require_credentials=True, env=env)
    assert (venue.exchange.apiKey, venue.exchange.secret) == (KEY, SECRET)  # stripped
    assert venue.name == "binance" and KEY not in repr(venue.__dict__.get("name"))


def test_dry_run_needs_no_credentials_and_sandbox_is_checked() -> None:
    venue = exchange_venue("binance", require_credentials=False, env={}, sandbox=True)
    assert not venue.exchange.apiKey
    assert "testnet" in str(venue.exchange.urls["api"]).lower()
    with pytest.raises(ConfigError, match="kraken has no sandbox"):
        exchange_venue("kraken", require_credentials=False, env={}, sandbox=True)


def test_unknown_exchange_and_names() -> None:
    with pytest.raises(ConfigError, match="Unknown exchange 'nope'"):
        exchange_venue("nope", require_credentials=False, env={})
    assert credential_names("okx")["password"] == "DRYDOCK_OKX_PASSWORD"
