"""Every venue from one spec string: ``paper``, ``exchange``, a ccxt exchange id, ``evm:<chain>``
or ``solana``. Credentials and RPC URLs come from the environment only, never from files.

**Spec rules.** A spec is matched exactly: lower-case ASCII, no spaces, nothing normalized. A
near miss (``' solana'``, ``'EVM:base'``, ``'Binance'``, a full-width or zero-width character,
``'evm:'``) is refused with a :class:`ConfigError` naming the input, the valid forms and, where
one exists, the form it probably meant. A venue string picks where real orders go, so it is not
guessed at (unlike symbols in config, which are canonicalized).

- ``paper``: ``None``; the runner fills on its own paper venue (research's cost model).
- ``exchange``: the ccxt exchange of the series (``series_exchange``).
- a ccxt id (``binance``, ``kraken``, ...): :class:`~drydock.adapters.ccxt.CcxtVenue`, keys
  from ``DRYDOCK_<EXCHANGE>_API_KEY`` / ``_SECRET`` / ``_PASSWORD``; live needs key and secret.
- ``evm:<chain>``: :class:`~live.venues.evm_swap.EvmSwapVenue` for a chain configured in the
  venue file (``config/venues.toml``): RPC from ``DRYDOCK_EVM_<CHAIN>_RPC_URL``, key from
  ``DRYDOCK_EVM_PRIVATE_KEY``; the node's chain id must match the configured one.
- ``solana``: :class:`~live.venues.solana_swap.SolanaSwapVenue` against the venue file's
  ``[solana]`` pool: RPC from ``DRYDOCK_SOLANA_RPC_URL``, the wallet from
  ``DRYDOCK_SOLANA_KEYPAIR`` and the pool's authority from ``DRYDOCK_SOLANA_POOL_KEYPAIR``
  (base58 secret keys or solana-keygen's JSON byte array).

With ``require_credentials`` (live mode) a chain venue needs all of them and refuses to build
otherwise; without it (dry-run) a chain venue is its configured instruments only: nothing is
read from the network and ``submit`` refuses. Tests inject the in-process chain (``w3``,
``solana_client``) and keys through ``env``.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from solders.keypair import Keypair

from drydock.adapters.ccxt import CcxtVenue, exchange_ids, make_exchange
from drydock.errors import ConfigError
from drydock.policy import Policy, PolicyContext
from drydock.types import Bar, Fill, Instrument, Order
from live.journal import JournalRepository
from live.venues._pairs import sides
from live.venues.base import Venue, VenueError
from live.venues.chain_config import (
    ENV,
    EvmChainConfig,
    SolanaConfig,
    evm_rpc_env,
    load_venues,
    venues_file,
)
from live.venues.signed_store import SignedStore

__all__ = [
    "VENUE_FORMS",
    "VenueSpec",
    "check_live_environment",
    "exchange_venue",
    "parse_venue",
    "venue_for",
]

VENUE_FORMS = (
    "paper, exchange (the series' exchange), a ccxt exchange id (e.g. binance, kraken), "
    "evm:<chain> (e.g. evm:base) or solana"
)
_ID = re.compile(r"[a-z][a-z0-9_]*")
_CHAIN = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """A parsed venue spec: ``kind`` paper | exchange | ccxt | evm | solana, and its ``name``
    (the exchange id or the chain; empty for the others)."""

    kind: str
    name: str = ""

    def __str__(self) -> str:
        return {"ccxt": self.name, "evm": f"evm:{self.name}"}.get(self.kind, self.kind)


def _refuse(spec: object, why: str) -> ConfigError:
    meant = ""
    if isinstance(spec, str):
        guess = unicodedata.normalize("NFKC", spec).strip().lower()
        guess = "".join(c for c in guess if unicodedata.category(c) not in ("Cf", "Cc"))
        if guess != spec:
            try:
                parse_venue(guess)
                meant = f" Did you mean {guess!r}?"
            except ConfigError:
                pass
    return ConfigError(
        f"Venue {spec!r} {why}. Use one of: {VENUE_FORMS}; venue names are exact lower-case "
        f"ASCII without spaces.{meant}"
    )


def parse_venue(spec: str) -> VenueSpec:
    """The :class:`VenueSpec` of ``spec``, or a ConfigError naming it and the valid forms."""
    if not isinstance(spec, str) or not spec:
        raise _refuse(spec, "is empty")
    if not spec.isascii() or any(c.isspace() or not c.isprintable() for c in spec):
        raise _refuse(spec, "contains spaces, control or non-ASCII characters")
    if spec != spec.lower():
        raise _refuse(spec, "is not lower-case")
    if spec in ("paper", "exchange", "solana"):
        return VenueSpec(spec)
    head, colon, chain = spec.partition(":")
    if colon:
        if head != "evm":
            raise _refuse(spec, f"has an unknown prefix {head + ':'!r} (only evm: takes a chain)")
        if not chain:
            raise _refuse(spec, "names no chain after 'evm:'")
        if _CHAIN.fullmatch(chain) is None:
            raise _refuse(spec, f"has an invalid chain name {chain!r} (a-z, 0-9 and '_')")
        return VenueSpec("evm", chain)
    if _ID.fullmatch(spec) is None:
        raise _refuse(spec, "is not a venue name (a-z, 0-9 and '_')")
    if spec not in exchange_ids():
        raise _refuse(spec, "is not paper, exchange, solana or a ccxt exchange id")
    return VenueSpec("ccxt", spec)


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


def venue_for(
    spec: str,
    *,
    require_credentials: bool,
    series_exchange: str | None = None,
    sandbox: bool = False,
    env: Mapping[str, str] | None = None,
    policy: Policy | None = None,
    context: Callable[[], PolicyContext] | None = None,
    journal: JournalRepository | None = None,
    run_id: str = "",
    config_path: Path | None = None,
    store: SignedStore | None = None,
    signed_store_path: Path | None = None,
    w3: Any = None,
    solana_client: Any = None,
    **venue_options: Any,
) -> Venue | None:
    """The venue ``spec`` names (``None`` for paper: the runner's paper venue).

    Chain venues judge every transaction under ``policy`` (the run's) with ``context`` (the kill
    switch and pause as they stand), keep signed transactions in ``store`` (default:
    ``signed_store_path``, else ``$DRYDOCK_HOME/live/signed.sqlite``) and journal decisions to
    ``journal``. ``venue_options`` go to :class:`~live.venues.evm.EvmVenue` or
    :class:`~live.venues.solana.SolanaVenue` (poll interval, timeout, sleep, fees).
    """
    parsed = parse_venue(spec)
    source = env if env is not None else os.environ
    if parsed.kind == "paper":
        return None
    if parsed.kind in ("exchange", "ccxt"):
        exchange_id = parsed.name or series_exchange
        if not exchange_id:
            raise ConfigError("Venue 'exchange' is the series' exchange, and none was given.")
        return exchange_venue(exchange_id, require_credentials=require_credentials,
                              sandbox=sandbox, env=source)  # fmt: skip
    if sandbox:
        raise ConfigError(
            f"--sandbox is for ccxt exchanges; venue {str(parsed)!r} picks its network by its "
            "RPC URL (point it at a testnet node instead)."
        )
    path = config_path or venues_file(source)
    config = load_venues(path)
    if parsed.kind == "evm":
        chain = config.evm.get(parsed.name)
        if chain is None:
            known = ", ".join(f"evm:{c}" for c in sorted(config.evm)) or "none"
            raise ConfigError(
                f"Venue 'evm:{parsed.name}': no [evm.{parsed.name}] in the venue config {path} "
                f"(configured: {known}). Add its chain_id, router, tokens and pairs there."
            )
        if not require_credentials:
            return _instruments_only(parsed.name, chain.pairs, _decimals(chain), chain.min_notional)
        return _evm_venue(parsed.name, chain, source, policy, context, journal, run_id,
                          store or _store(signed_store_path), w3, venue_options)  # fmt: skip
    solana = config.solana
    if solana is None:
        raise ConfigError(
            f"Venue 'solana': no [solana] settlement pool in the venue config {path}. Add its "
            "tokens (mint, decimals, wallet_account, pool_account) and pairs there (docs/venues.md)."
        )
    if not require_credentials:
        decimals = {s: t.decimals for s, t in solana.tokens.items()}
        return _instruments_only("solana", solana.pairs, decimals, solana.min_notional)
    return _solana_venue(solana, source, policy, context, journal, run_id,
                         store or _store(signed_store_path), solana_client, venue_options)  # fmt: skip


def check_live_environment(spec: str, env: Mapping[str, str] | None = None,
                           config_path: Path | None = None) -> None:  # fmt: skip
    """Refuse, without touching the network, a chain venue whose configuration or environment
    is incomplete for live trading (the CLI calls this before it opens anything)."""
    parsed = parse_venue(spec)
    if parsed.kind not in ("evm", "solana"):
        return
    source = env if env is not None else os.environ
    path = config_path or venues_file(source)
    config = load_venues(path)
    if parsed.kind == "evm":
        if parsed.name not in config.evm:
            known = ", ".join(f"evm:{c}" for c in sorted(config.evm)) or "none"
            raise ConfigError(
                f"Venue 'evm:{parsed.name}': no [evm.{parsed.name}] in the venue config {path} "
                f"(configured: {known}). Add its chain_id, router, tokens and pairs there."
            )
        name = str(parsed)
        _need(source, evm_rpc_env(parsed.name), name, "the chain's JSON-RPC URL")
        _need(source, ENV["evm_key"], name, "the wallet's private key, hex")
        return
    if config.solana is None:
        raise ConfigError(
            f"Venue 'solana': no [solana] settlement pool in the venue config {path}. Add its "
            "tokens (mint, decimals, wallet_account, pool_account) and pairs there (docs/venues.md)."
        )
    _need(source, ENV["solana_rpc_url"], "solana", "the cluster's RPC URL")
    _need(source, ENV["solana_keypair"], "solana", "the wallet's secret key")
    _need(source, ENV["solana_pool_keypair"], "solana", "the settlement pool's authority")


def _store(path: Path | None) -> SignedStore:
    from drydock.settings import get_settings

    return SignedStore(path or get_settings().live_dir / "signed.sqlite")


def _decimals(chain: EvmChainConfig) -> dict[str, int]:
    return {s: t.decimals for s, t in chain.tokens.items()}


def _need(source: Mapping[str, str], name: str, venue: str, what: str) -> str:
    value = source.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"Live trading on {venue} needs {name} ({what}) in the environment (never in files "
            "or config); export it, or run --mode dry-run."
        )
    return value


def _need_policy(policy: Policy | None, venue: str) -> Policy:
    if policy is None:
        raise ConfigError(f"Venue {venue!r} judges every transaction: give it the run's policy.")
    return policy


def _evm_venue(chain: str, config: EvmChainConfig, source: Mapping[str, str],
               policy: Policy | None, context: Callable[[], PolicyContext] | None,
               journal: JournalRepository | None, run_id: str, store: SignedStore, w3: Any,
               options: Mapping[str, Any]) -> Venue:  # fmt: skip
    from drydock.adapters.evm import KEY_ENV, account_from_env, web3_from_url
    from live.venues.evm import EvmVenue
    from live.venues.evm_swap import EvmSwapVenue, SwapMarket, Token

    name = f"evm:{chain}"
    if w3 is None:
        url = _need(source, evm_rpc_env(chain), name, "the chain's JSON-RPC URL")
        _need(source, KEY_ENV, name, "the wallet's private key, hex")
        w3 = web3_from_url(url)
    account = account_from_env(source)
    try:
        node_chain_id = int(w3.eth.chain_id)
    except Exception as exc:  # the URL may carry an API key: name the variable, not the value
        raise ConfigError(
            f"The {name} node ({evm_rpc_env(chain)}) did not answer eth_chainId: "
            f"{type(exc).__name__}. Check the URL and the network."
        ) from None
    if node_chain_id != config.chain_id:
        raise ConfigError(
            f"The {name} node reports chain id {node_chain_id}, the venue config says "
            f"{config.chain_id}: {evm_rpc_env(chain)} points at another chain."
        )
    evm = EvmVenue(w3, account, _need_policy(policy, name), store, chain=chain, context=context,
                   journal=journal, run_id=run_id, confirmations=config.confirmations, **options)  # fmt: skip
    tokens = {s: Token(s, t.address, t.decimals) for s, t in config.tokens.items()}
    market = SwapMarket(config.router, tokens, config.pairs, slippage_bps=config.slippage_bps,
                        deadline_seconds=config.deadline_seconds,
                        min_notional=config.min_notional)  # fmt: skip
    return EvmSwapVenue(evm, market, chain)


def keypair_from_text(text: str, variable: str) -> Keypair:
    """A keypair from a base58 secret key or solana-keygen's JSON byte array; a parse error
    names the variable, never the value."""
    try:
        if text.lstrip().startswith("["):
            return Keypair.from_bytes(bytes(json.loads(text)))
        return Keypair.from_base58_string(text.strip())
    except Exception:
        raise ConfigError(
            f"{variable} is not a Solana secret key (base58, or solana-keygen's JSON array of "
            "64 bytes)."
        ) from None


def _solana_venue(config: SolanaConfig, source: Mapping[str, str], policy: Policy | None,
                  context: Callable[[], PolicyContext] | None, journal: JournalRepository | None,
                  run_id: str, store: SignedStore, client: Any,
                  options: Mapping[str, Any]) -> Venue:  # fmt: skip
    from solders.pubkey import Pubkey

    from drydock.adapters.solana import RpcClient
    from live.venues.solana import SolanaVenue
    from live.venues.solana_swap import SettlementPool, SolanaSwapVenue, SplToken

    if client is None:
        client = RpcClient(_need(source, ENV["solana_rpc_url"], "solana", "the cluster's RPC URL"))
    wallet = keypair_from_text(
        _need(source, ENV["solana_keypair"], "solana", "the wallet's secret key"),
        ENV["solana_keypair"],
    )
    authority = keypair_from_text(
        _need(source, ENV["solana_pool_keypair"], "solana", "the settlement pool's authority"),
        ENV["solana_pool_keypair"],
    )
    tokens = {
        s: SplToken(s, Pubkey.from_string(t.mint), t.decimals,
                    Pubkey.from_string(t.wallet_account), Pubkey.from_string(t.pool_account))
        for s, t in config.tokens.items()
    }  # fmt: skip
    venue = SolanaVenue(client, wallet, _need_policy(policy, "solana"), store, context=context,
                        journal=journal, run_id=run_id, **options)  # fmt: skip
    pool = SettlementPool(tokens, config.pairs, authority, fee_bps=config.fee_bps,
                          slippage_bps=config.slippage_bps, min_notional=config.min_notional)  # fmt: skip
    return SolanaSwapVenue(venue, pool)


def _instruments_only(name: str, pairs: Mapping[str, tuple[str, str]],
                      decimals: Mapping[str, int], min_notional: Decimal) -> Venue:  # fmt: skip
    return ConfiguredInstruments(name, pairs, decimals, min_notional)


class ConfiguredInstruments:
    """A chain venue in dry-run: its configured instruments, no network, no sending."""

    def __init__(self, name: str, pairs: Mapping[str, tuple[str, str]],
                 decimals: Mapping[str, int], min_notional: Decimal):  # fmt: skip
        self.name, self._pairs, self._decimals = name, dict(pairs), dict(decimals)
        self._min_notional = min_notional

    def instrument(self, symbol: str) -> Instrument:
        if symbol not in self._pairs:
            raise VenueError(
                f"no pair {symbol!r} on {self.name}; configured: {', '.join(self._pairs)}"
            )
        base_token, quote_token = self._pairs[symbol]
        base, quote = sides(symbol)
        return Instrument(self.name, symbol, base, quote,
                          tick_size=Decimal(10) ** -self._decimals[quote_token],
                          lot_size=Decimal(10) ** -self._decimals[base_token],
                          min_notional=self._min_notional)  # fmt: skip

    def set_bar(self, bar: Bar) -> None:
        """Dry-run builds orders only; the bar is not needed."""

    def submit(self, order: Order) -> list[Fill]:
        raise VenueError(f"{self.name} was built for dry-run (no keys): it sends nothing")

    def fills_for(self, client_order_id: str) -> list[Fill]:
        return []
