"""Venues from one spec (paper, exchange, a ccxt id, evm:<chain>, solana): exact specs, clear
errors, credentials and RPC URLs only from the environment, chain venues from config/venues.toml."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from drydock.adapters.ccxt import credential_names
from drydock.errors import ConfigError
from drydock.types import Order, Side
from live.venues.base import VenueError
from live.venues.factory import VENUE_FORMS, VenueSpec, exchange_venue, parse_venue, venue_for

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


# -- venue_for: one spec string for every venue ---------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [("paper", VenueSpec("paper")), ("exchange", VenueSpec("exchange")),
     ("binance", VenueSpec("ccxt", "binance")), ("evm:base", VenueSpec("evm", "base")),
     ("evm:arbitrum_sepolia", VenueSpec("evm", "arbitrum_sepolia")),
     ("solana", VenueSpec("solana"))],
)  # fmt: skip
def test_the_valid_forms_parse(spec: str, parsed: VenueSpec) -> None:
    assert parse_venue(spec) == parsed and str(parsed) == spec


@pytest.mark.parametrize(
    ("spec", "why", "meant"),
    [
        (" solana", "contains spaces", "solana"),
        ("solana\n", "contains spaces", "solana"),
        ("\uff53\uff4f\uff4c\uff41\uff4e\uff41", "non-ASCII", "solana"),  # full-width
        ("sol\u200bana", "non-ASCII", "solana"),  # a zero-width space inside
        ("EVM:base", "not lower-case", "evm:base"),
        ("evm:Base", "not lower-case", "evm:base"),
        ("Binance", "not lower-case", "binance"),
        ("Paper", "not lower-case", "paper"),
        ("evm:", "names no chain", None),
        ("evm:op-sepolia", "invalid chain name", None),
        ("sol:main", "unknown prefix 'sol:'", None),
        ("nope", "not paper, exchange, solana or a ccxt exchange id", None),
        ("", "is empty", None),
    ],
)
def test_anything_else_is_refused_naming_the_input_and_the_forms(
    spec: str, why: str, meant: str | None
) -> None:
    with pytest.raises(ConfigError) as refused:
        venue_for(spec, require_credentials=False, env={})
    message = str(refused.value)
    assert message.startswith(f"Venue {spec!r} ") and why in message and VENUE_FORMS in message
    assert (f"Did you mean {meant!r}?" in message) if meant else ("Did you mean" not in message)


def test_paper_is_the_runners_own_venue_and_exchange_is_the_series() -> None:
    assert venue_for("paper", require_credentials=True, env={}) is None
    venue = venue_for("exchange", require_credentials=False, series_exchange="kraken", env={})
    assert venue is not None and venue.name == "kraken"
    with pytest.raises(ConfigError, match="DRYDOCK_BINANCE_API_KEY"):
        venue_for("binance", require_credentials=True, env={})
    with pytest.raises(ConfigError, match="--sandbox is for ccxt"):
        venue_for("evm:base", require_credentials=True, sandbox=True, env={})


def test_chain_venues_in_live_need_their_environment_and_never_echo_it(tmp_path: Path) -> None:
    shipped: dict[str, str] = {}  # the repository's config/venues.toml: evm:base, no [solana]
    with pytest.raises(ConfigError, match="needs DRYDOCK_EVM_BASE_RPC_URL"):
        venue_for("evm:base", require_credentials=True, env=shipped)
    with pytest.raises(ConfigError, match="needs DRYDOCK_EVM_PRIVATE_KEY"):
        venue_for("evm:base", require_credentials=True,
                  env={"DRYDOCK_EVM_BASE_RPC_URL": "http://127.0.0.1:1/?apikey=s3cret"})  # fmt: skip
    with pytest.raises(ConfigError, match=r"no \[evm.arbitrum\].*configured: evm:base"):
        venue_for("evm:arbitrum", require_credentials=True, env=shipped)
    with pytest.raises(ConfigError, match=r"no \[solana\] settlement pool"):
        venue_for("solana", require_credentials=True, env=shipped)
    secret = "0x" + "ab" * 31 + "zz"
    with pytest.raises(ConfigError, match="not a valid") as bad:
        venue_for("evm:base", require_credentials=True, env={
            "DRYDOCK_EVM_BASE_RPC_URL": "http://127.0.0.1:1", "DRYDOCK_EVM_PRIVATE_KEY": secret})  # fmt: skip
    assert secret not in str(bad.value)


def test_dry_run_chain_venues_are_their_configured_instruments() -> None:
    venue = venue_for("evm:base", require_credentials=False, env={})
    assert venue is not None and venue.name == "base"
    inst = venue.instrument("ETH/USDC")
    assert (inst.base, inst.quote, inst.lot_size, inst.tick_size, inst.min_notional) == (
        "ETH", "USDC", Decimal("1e-18"), Decimal("0.000001"), Decimal(5))  # fmt: skip
    order = Order("c", "s", "base", "ETH/USDC", Side.BUY, Decimal(1), Decimal(3000),
                  datetime(2024, 1, 1, tzinfo=UTC))  # fmt: skip
    with pytest.raises(VenueError, match="sends nothing"):
        venue.submit(order)


def test_a_bad_venue_file_fails_at_load_naming_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "venues.toml"
    path.write_text('[evm.base]\nchain_id = 8453\nrouter = "0x4752ba5DBc23f44D87826276BF6Fd6b1C372aD25"'
                    '\ntokens = {}\npairs = {}\n')  # fmt: skip
    with pytest.raises(ConfigError, match=r"field 'evm\.base\.router'.*EIP-55"):
        venue_for("evm:base", require_credentials=False, env={"DRYDOCK_VENUES_FILE": str(path)})
    path.write_text('[evm.base]\nchain_id = 8453\nrouter = "0x4752ba5dbc23f44d87826276bf6fd6b1c372ad24"\n'
                    '[evm.base.tokens]\nWETH = { address = "0x4200000000000000000000000000000000000006", decimals = 18 }\n'
                    'USDC = { address = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913", decimals = 6 }\n'
                    '[evm.base.pairs]\n"ETH/USDT" = ["WETH", "USDT"]\n')  # fmt: skip
    with pytest.raises(ConfigError, match=r"'ETH/USDT': USDT is not in \[evm.base.tokens\]"):
        venue_for("evm:base", require_credentials=False, env={"DRYDOCK_VENUES_FILE": str(path)})


def test_the_in_process_chain_is_injected_and_its_id_checked(tmp_path: Path) -> None:
    from tests.live.venues.test_evm_swap import TEST_KEY, Chain, policy

    chain = Chain()
    path = tmp_path / "venues.toml"

    def config(chain_id: int) -> None:
        path.write_text(
            f'[evm.anvil]\nchain_id = {chain_id}\nrouter = "{chain.router.address}"\n'
            "slippage_bps = 100\n[evm.anvil.tokens]\n"
            f'WETH = {{ address = "{chain.weth.address}", decimals = 18 }}\n'
            f'USDC = {{ address = "{chain.usdc.address}", decimals = 6 }}\n'
            '[evm.anvil.pairs]\n"ETH/USDC" = ["WETH", "USDC"]\n'
        )

    env = {"DRYDOCK_EVM_PRIVATE_KEY": TEST_KEY, "DRYDOCK_VENUES_FILE": str(path)}
    kw: dict[str, Any] = {"require_credentials": True, "env": env, "w3": chain.w3,
                          "policy": policy(chain), "signed_store_path": tmp_path / "s.sqlite",
                          "priority_fee_wei": 10**9, "sleep": lambda s: chain.mine()}  # fmt: skip
    config(1)
    with pytest.raises(
        ConfigError, match="reports chain id 131277322940537, the venue config says 1"
    ):
        venue_for("evm:anvil", **kw)
    config(int(chain.w3.eth.chain_id))
    venue = venue_for("evm:anvil", **kw)
    assert venue is not None and venue.name == "anvil"
    chain.fund(account_address(TEST_KEY))
    order = Order("c-f", "s", "anvil", "ETH/USDC", Side.BUY, Decimal("0.5"), Decimal(3000),
                  datetime(2024, 1, 1, tzinfo=UTC))  # fmt: skip
    [fill] = venue.submit(order)
    assert fill.symbol == "ETH/USDC" and fill.qty == Decimal("0.498251621566649025")
    assert venue.balances()["ETH"] == fill.qty  # type: ignore[attr-defined]


def account_address(key: str) -> str:
    from live.venues.evm import KEY_ENV, account_from_env

    return str(account_from_env({KEY_ENV: key}).address)


def test_the_solana_venue_from_config_and_keys_settles_in_litesvm(tmp_path: Path) -> None:
    from drydock.adapters.solana import LiteSvmClient
    from tests.live.venues import test_solana_swap as sol

    svm = sol.make_svm()
    a = sol.ACCOUNTS
    path = tmp_path / "venues.toml"
    path.write_text(
        "[solana]\nslippage_bps = 100\n[solana.tokens.SOL]\n"
        f'mint = "{sol.SOL_MINT}"\ndecimals = 9\nwallet_account = "{a["w_sol"]}"\n'
        f'pool_account = "{a["p_sol"]}"\n[solana.tokens.USDC]\nmint = "{sol.USDC_MINT}"\n'
        f'decimals = 6\nwallet_account = "{a["w_usdc"]}"\npool_account = "{a["p_usdc"]}"\n'
        '[solana.pairs]\n"SOL/USDC" = ["SOL", "USDC"]\n'
    )
    env = {"DRYDOCK_VENUES_FILE": str(path), "DRYDOCK_SOLANA_KEYPAIR": str(sol.WALLET),
           "DRYDOCK_SOLANA_POOL_KEYPAIR": json.dumps(list(bytes(sol.POOL)))}  # fmt: skip
    kw: dict[str, Any] = {"require_credentials": True, "policy": sol.policy(),
                          "signed_store_path": tmp_path / "s.sqlite",
                          "solana_client": LiteSvmClient(svm), "sleep": lambda s: None}  # fmt: skip
    with pytest.raises(ConfigError, match="needs DRYDOCK_SOLANA_POOL_KEYPAIR"):
        venue_for("solana", env={k: v for k, v in env.items() if "POOL" not in k}, **kw)
    with pytest.raises(
        ConfigError, match="DRYDOCK_SOLANA_KEYPAIR is not a Solana secret key"
    ) as bad:
        venue_for("solana", env=env | {"DRYDOCK_SOLANA_KEYPAIR": "not-base58-secret"}, **kw)
    assert "not-base58-secret" not in str(bad.value)
    venue = venue_for("solana", env=env, **kw)
    assert venue is not None and venue.name == "solana"
    [fill] = venue.submit(sol.order("f-buy", Side.BUY, "2"))
    assert fill.qty == Decimal("1.993602475") and sol.amount(svm, "w_usdc") == 1_700 * 10**6
