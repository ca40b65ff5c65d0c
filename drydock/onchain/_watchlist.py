"""The watched wallets (``config/watchlist.toml``): chain, canonical address, label, mode
(simulation or live) and whether the entry is enabled; validated at load."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from drydock.errors import ConfigError, DrydockError
from drydock.settings import REPO_ROOT
from drydock.symbols import canonical_address

WATCHLIST = REPO_ROOT / "config" / "watchlist.toml"
CHAINS = ("ethereum", "base", "arbitrum", "solana")
MODES = ("simulation", "live")


@dataclass(frozen=True, slots=True)
class Wallet:
    chain: str
    address: str
    label: str
    mode: str
    enabled: bool


def load_watchlist(path: Path = WATCHLIST) -> list[Wallet]:
    """Every entry, validated: known chain and mode, canonical address, no duplicates."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Watchlist {path} cannot be read ({exc}); fix the TOML.") from None
    wallets: list[Wallet] = []
    for i, raw in enumerate(data.get("wallet", []), start=1):
        where = f"{path} wallet {i}"
        unknown = set(raw) - {"chain", "address", "label", "mode", "enabled"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown keys {sorted(unknown)}; known: chain, address, label, mode, enabled."
            )
        chain, mode = raw.get("chain"), raw.get("mode", "simulation")
        if chain not in CHAINS:
            raise ConfigError(f"{where}: chain {chain!r} is not one of {', '.join(CHAINS)}.")
        if mode not in MODES:
            raise ConfigError(f"{where}: mode {mode!r} is not simulation or live.")
        try:
            address = canonical_address(str(raw.get("address", "")), strict=True)
        except DrydockError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if (address.startswith("0x")) != (chain != "solana"):
            raise ConfigError(f"{where}: {address} is not a {chain} address.")
        if any((w.chain, w.address) == (chain, address) for w in wallets):
            raise ConfigError(f"{where}: {chain} {address} is listed twice; keep one entry.")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}: enabled must be true or false.")
        wallets.append(Wallet(chain, address, str(raw.get("label", "")), mode, enabled))
    return wallets
