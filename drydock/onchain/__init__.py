"""On-chain lake datasets and their config: ``whale_transfers`` (with prices and classification),
``wallet_swaps`` and the watched wallets. Reading chains lives in drydock.adapters (evm, solana)."""

from __future__ import annotations

from drydock.onchain._wallet_swaps import DATASET as WALLET_SWAPS_DATASET
from drydock.onchain._wallet_swaps import REBUILD as WALLET_SWAPS_REBUILD
from drydock.onchain._wallet_swaps import SCHEMA as WALLET_SWAPS_SCHEMA
from drydock.onchain._wallet_swaps import SwapReport, read_wallet_swaps, write_swaps
from drydock.onchain._watchlist import CHAINS, MODES, WATCHLIST, Wallet, load_watchlist
from drydock.onchain._whales import DATASET as WHALES_DATASET
from drydock.onchain._whales import QUARANTINE as WHALES_QUARANTINE
from drydock.onchain._whales import REBUILD as WHALES_REBUILD
from drydock.onchain._whales import SCHEMA as WHALES_SCHEMA
from drydock.onchain._whales import (
    STABLE,
    Prices,
    ScanReport,
    Transfer,
    quarantine_whales,
    read_whales,
    whale_row,
    write_whales,
)

__all__ = [
    "CHAINS",
    "MODES",
    "STABLE",
    "WALLET_SWAPS_DATASET",
    "WALLET_SWAPS_REBUILD",
    "WALLET_SWAPS_SCHEMA",
    "WATCHLIST",
    "WHALES_DATASET",
    "WHALES_QUARANTINE",
    "WHALES_REBUILD",
    "WHALES_SCHEMA",
    "Prices",
    "ScanReport",
    "SwapReport",
    "Transfer",
    "Wallet",
    "load_watchlist",
    "quarantine_whales",
    "read_wallet_swaps",
    "read_whales",
    "whale_row",
    "write_swaps",
    "write_whales",
]
