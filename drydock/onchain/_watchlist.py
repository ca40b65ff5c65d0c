"""The watched wallets (``config/watchlist.toml``): chain, canonical address, label, mode
(simulation or live) and whether the entry is enabled; validated at load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from drydock.config_files import read_toml, validated
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


class _Entry(BaseModel):
    """One ``[[wallet]]`` table as written."""

    model_config = ConfigDict(extra="forbid", strict=True)

    chain: str
    address: str
    label: str = ""
    mode: str = "simulation"
    enabled: bool = True

    @field_validator("chain")
    @classmethod
    def _chain(cls, value: str) -> str:
        if value not in CHAINS:
            raise ValueError(f"chain {value!r} is not one of {', '.join(CHAINS)}")
        return value

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if value not in MODES:
            raise ValueError(f"mode {value!r} is not simulation or live")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return canonical_address(value, strict=True)
        except DrydockError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _address_fits_chain(self) -> _Entry:
        if self.address.startswith("0x") != (self.chain != "solana"):
            raise ValueError(f"{self.address} is not a {self.chain} address")
        return self


def load_watchlist(path: Path = WATCHLIST) -> list[Wallet]:
    """Every entry, validated: known chain and mode, canonical address, no duplicates."""
    data = read_toml(path, "Watchlist")
    wallets: list[Wallet] = []
    for i, raw in enumerate(data.get("wallet", []), start=1):
        where = f"{path} wallet {i}"
        entry = validated(_Entry, raw, where)
        if any((w.chain, w.address) == (entry.chain, entry.address) for w in wallets):
            raise ConfigError(
                f"{where}: {entry.chain} {entry.address} is listed twice; keep one entry."
            )
        wallets.append(Wallet(entry.chain, entry.address, entry.label, entry.mode, entry.enabled))
    return wallets
