"""Watched wallets' swaps from Uniswap V2 and V3 Swap events emitted on py-evm by vyper pools with
the real event signatures: tokens from token0/token1, amounts scaled by decimals, wallet_swaps rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drydock.adapters.evm import V2_SWAP, V3_SWAP, decode_swaps
from drydock.onchain import WALLET_SWAPS_SCHEMA as SCHEMA
from drydock.onchain import Wallet
from tests.evm_contracts import deploy as deploy_contract

pytestmark = pytest.mark.integration  # vyper and py-evm

CONTRACTS = Path(__file__).parents[2] / "fixtures" / "contracts"


def test_v2_and_v3_swaps_of_a_watched_wallet(tmp_path: Path) -> None:
    from web3 import EthereumTesterProvider, Web3

    w3: Any = Web3(EthereumTesterProvider())
    w3.eth.default_account = w3.eth.accounts[0]

    def deploy(name: str, *args: Any) -> Any:
        return deploy_contract(w3, name, *args)

    usdc = deploy("erc20", "USD Coin", "USDC", 6, 10**12)
    weth = deploy("erc20", "Wrapped Ether", "WETH", 18, 10**24)
    v2 = deploy("swap_pool", usdc.address, weth.address)
    v3 = deploy("swap_pool_v3", usdc.address, weth.address)
    wallet, other = w3.eth.accounts[3], w3.eth.accounts[4]
    hashes = [
        v2.functions.swap_v2(
            3_000 * 10**6, 0, 0, 10**18, wallet
        ).transact(),  # 3,000 USDC -> 1 WETH
        v3.functions.swap_v3(wallet, -2_900 * 10**6, 10**18).transact(),  # 1 WETH -> 2,900 USDC
        v2.functions.swap_v2(10**6, 0, 0, 10**15, other).transact(),  # someone else
    ]
    logs = [lg for h in hashes for lg in w3.eth.wait_for_transaction_receipt(h)["logs"]]
    watch = [Wallet("ethereum", wallet.lower(), "desk", "simulation", True)]
    rows, skipped = decode_swaps(logs, w3, watch)
    assert [
        (r["source"], r["token_in"], r["amount_in"], r["token_out"], r["amount_out"]) for r in rows
    ] == [
        ("UNISWAP_V2", usdc.address.lower(), 3_000.0, weth.address.lower(), 1.0),
        ("UNISWAP_V3", weth.address.lower(), 1.0, usdc.address.lower(), 2_900.0),
    ]
    assert skipped == {"unwatched": 1} and set(rows[0]) == set(SCHEMA)
    assert {_hex(lg["topics"][0]) for lg in logs} == {V2_SWAP, V3_SWAP}


def _hex(value: Any) -> str:
    text = value.hex()
    return text if text.startswith("0x") else "0x" + text


def test_non_swap_and_malformed_logs_are_counted() -> None:
    watch = [Wallet("ethereum", "0x" + "ab" * 20, "desk", "simulation", True)]
    logs = [
        {"topics": ["0x" + "11" * 32]},
        {
            "topics": [V2_SWAP, "0x" + "00" * 32, "0x" + "00" * 12 + "ab" * 20],
            "data": "0x" + "00" * 32,
        },
    ]
    rows, skipped = decode_swaps(logs, object(), watch)
    assert rows == [] and skipped == {"not a Uniswap swap": 1, "malformed swap data": 1}
