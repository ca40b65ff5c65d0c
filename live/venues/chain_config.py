"""The chain venues' configuration (``config/venues.toml``, or the file ``DRYDOCK_VENUES_FILE``
names): per EVM chain the router, tokens and pairs; for Solana the settlement pool's accounts.
No secret is ever read from it: RPC URLs and keys come from the environment (:data:`ENV`).

Validated at load through pydantic (``drydock.config_files``): an unknown field, a bad address, a
pair naming a token that is not listed fails with the file, the entry and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drydock.config_files import read_toml, validated
from drydock.errors import ConfigError
from drydock.settings import REPO_ROOT
from drydock.symbols import canonical_address

__all__ = [
    "ENV",
    "EvmChainConfig",
    "SolanaConfig",
    "VenuesConfig",
    "evm_rpc_env",
    "load_venues",
    "venues_file",
]

#: The environment variables the chain venues read (``<CHAIN>``: the chain upper-cased).
ENV = {
    "venues_file": "DRYDOCK_VENUES_FILE",
    "evm_rpc_url": "DRYDOCK_EVM_<CHAIN>_RPC_URL",
    "evm_key": "DRYDOCK_EVM_PRIVATE_KEY",
    "solana_rpc_url": "DRYDOCK_SOLANA_RPC_URL",
    "solana_keypair": "DRYDOCK_SOLANA_KEYPAIR",
    "solana_pool_keypair": "DRYDOCK_SOLANA_POOL_KEYPAIR",
}


def evm_rpc_env(chain: str) -> str:
    """``DRYDOCK_EVM_BASE_RPC_URL`` for ``base``."""
    return f"DRYDOCK_EVM_{chain.upper()}_RPC_URL"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvmToken(_Strict):
    address: str
    decimals: int = Field(ge=0, le=36)

    _address = field_validator("address")(lambda cls, v: _evm_address(v))


def _address(value: str) -> str:
    try:
        return canonical_address(value)
    except ConfigError as exc:  # a ValueError, so the loader names the file and the field
        raise ValueError(str(exc)) from None


def _evm_address(value: str) -> str:
    canonical = _address(value)
    if not canonical.startswith("0x"):
        raise ValueError(f"{value!r} is not an EVM address (0x + 40 hex digits)")
    return value


class EvmChainConfig(_Strict):
    """One EVM chain: its id (checked against the node at start), router, tokens and pairs."""

    chain_id: int = Field(gt=0)
    router: str
    tokens: dict[str, EvmToken] = Field(min_length=2)
    pairs: dict[str, tuple[str, str]] = Field(min_length=1)
    slippage_bps: Decimal = Field(default=Decimal(50), ge=0, lt=10_000)
    deadline_seconds: int = Field(default=300, gt=0)
    confirmations: int = Field(default=1, ge=1)
    min_notional: Decimal = Field(default=Decimal(1), ge=0)

    _router = field_validator("router")(lambda cls, v: _evm_address(v))


class SplTokenConfig(_Strict):
    mint: str
    decimals: int = Field(ge=0, le=18)
    wallet_account: str
    pool_account: str

    _keys = field_validator("mint", "wallet_account", "pool_account")(
        lambda cls, v: _solana_address(v)
    )


def _solana_address(value: str) -> str:
    canonical = _address(value)
    if canonical.startswith("0x"):
        raise ValueError(f"{value!r} is not a Solana address (base58, 32 bytes)")
    return canonical


class SolanaConfig(_Strict):
    """The settlement pool the Solana venue trades against (see :mod:`live.venues.solana_swap`)."""

    tokens: dict[str, SplTokenConfig] = Field(min_length=2)
    pairs: dict[str, tuple[str, str]] = Field(min_length=1)
    fee_bps: int = Field(default=30, ge=0, lt=10_000)
    slippage_bps: Decimal = Field(default=Decimal(50), ge=0, lt=10_000)
    min_notional: Decimal = Field(default=Decimal(1), ge=0)


class VenuesConfig(_Strict):
    evm: dict[str, EvmChainConfig] = Field(default_factory=dict)
    solana: SolanaConfig | None = None


def venues_file(env: Mapping[str, str]) -> Path:
    """``DRYDOCK_VENUES_FILE`` if set, else the repository's ``config/venues.toml``."""
    given = env.get(ENV["venues_file"], "").strip()
    return Path(given).expanduser() if given else REPO_ROOT / "config" / "venues.toml"


def load_venues(path: Path) -> VenuesConfig:
    """The validated chain venue configuration of ``path`` (empty when the file is absent)."""
    if not path.exists():
        return VenuesConfig()
    raw: Any = read_toml(path, "Venue config")
    config = validated(VenuesConfig, raw, f"Venue config {path}")
    for name, chain in config.evm.items():
        _check_pairs(path, f"evm.{name}", chain.pairs, chain.tokens)
    if config.solana is not None:
        _check_pairs(path, "solana", config.solana.pairs, config.solana.tokens)
    return config


def _check_pairs(path: Path, where: str, pairs: Mapping[str, tuple[str, str]],
                 tokens: Mapping[str, object]) -> None:  # fmt: skip
    for symbol, sides in pairs.items():
        missing = [s for s in sides if s not in tokens]
        if missing:
            raise ConfigError(
                f"Venue config {path}, [{where}.pairs] {symbol!r}: {', '.join(missing)} is not "
                f"in [{where}.tokens] ({', '.join(sorted(tokens))}); add it there or fix the pair."
            )
