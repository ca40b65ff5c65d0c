"""EVM chains through web3: the adaptive ``eth_getLogs`` reader with its cursor, ERC-20 and
Uniswap V2/V3 decoders, the whale and wallet-swap scans, and the in-process demo chain."""

from __future__ import annotations

from drydock.adapters.evm._erc20 import DECIMALS_SELECTOR, DecimalsCache, decode_transfer
from drydock.adapters.evm._execution import (
    KEY_ENV,
    EvmClient,
    Receipt,
    Signer,
    account_from_env,
    decode_signed,
    web3_from_url,
)
from drydock.adapters.evm._logs import (
    TRANSFER_TOPIC,
    AdaptiveLogReader,
    Cursor,
    RangeTooLarge,
    load_cursor,
    save_cursor,
)
from drydock.adapters.evm._router import (
    ERC20_ABI,
    V2_ROUTER_ABI,
    block_time,
    erc20,
    receipt_transfers,
    v2_router,
)
from drydock.adapters.evm._sample_chain import CONTRACTS, DEMO_WALLET, TOKEN_SOURCE, demo_chain
from drydock.adapters.evm._swaps import V2_SWAP, V3_SWAP, PoolTokens, decode_swaps, scan_swaps
from drydock.adapters.evm._whales import scan_whales

__all__ = [
    "CONTRACTS",
    "DECIMALS_SELECTOR",
    "DEMO_WALLET",
    "ERC20_ABI",
    "KEY_ENV",
    "TOKEN_SOURCE",
    "TRANSFER_TOPIC",
    "V2_ROUTER_ABI",
    "V2_SWAP",
    "V3_SWAP",
    "AdaptiveLogReader",
    "Cursor",
    "DecimalsCache",
    "EvmClient",
    "PoolTokens",
    "RangeTooLarge",
    "Receipt",
    "Signer",
    "account_from_env",
    "block_time",
    "decode_signed",
    "decode_swaps",
    "decode_transfer",
    "demo_chain",
    "erc20",
    "load_cursor",
    "receipt_transfers",
    "save_cursor",
    "scan_swaps",
    "scan_whales",
    "v2_router",
    "web3_from_url",
]
