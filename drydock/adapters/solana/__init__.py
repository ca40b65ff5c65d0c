"""Solana through Helius: enhanced-transaction parsing into swaps and transfers, and the webhook
inbox that lands the watched wallets' swaps."""

from __future__ import annotations

from drydock.adapters.solana._helius import SOL_MINT, parse_swap
from drydock.adapters.solana._rpc import (
    BlockhashExpired,
    LiteSvmClient,
    RpcClient,
    SolanaClient,
    transfer_checked,
)
from drydock.adapters.solana._transfers import scan_helius_transfers
from drydock.adapters.solana._webhooks import ingest_transactions, process_inbox

__all__ = [
    "SOL_MINT",
    "BlockhashExpired",
    "LiteSvmClient",
    "RpcClient",
    "SolanaClient",
    "ingest_transactions",
    "parse_swap",
    "process_inbox",
    "scan_helius_transfers",
    "transfer_checked",
]
