"""An in-process EVM (py-evm through eth-tester) with vyper-compiled tokens, labelled whale
transfers and a Uniswap-V2-style swap of the watched wallet: the offline chain of the demo and of
the Dagster assets' ``sample`` mode. vyper and eth-tester are dev dependencies."""

from __future__ import annotations

from typing import Any

from drydock.labels import Label, LabelBook
from drydock.settings import REPO_ROOT

__all__ = ["CONTRACTS", "DEMO_WALLET", "TOKEN_SOURCE", "demo_chain"]

CONTRACTS = REPO_ROOT / "tests" / "fixtures" / "contracts"
TOKEN_SOURCE = CONTRACTS / "erc20.vy"
#: The watched EVM wallet of config/watchlist.toml: eth-tester's deterministic 4th account.
DEMO_WALLET = 3


def demo_chain() -> tuple[Any, dict[str, str], LabelBook]:
    """(web3, {token address: symbol}, labels of the demo accounts): a 6-decimal "USDC" deployed
    on py-evm and moved between a labelled exchange and whales, a WETH and a Uniswap-V2-style pool
    in which the watched wallet swaps 3,000 USDC for 1 WETH, then 12 blocks mined."""
    import vyper
    from web3 import EthereumTesterProvider, Web3

    w3: Any = Web3(EthereumTesterProvider())
    accounts = w3.eth.accounts
    w3.eth.default_account = accounts[0]
    out = vyper.compile_code(TOKEN_SOURCE.read_text(), output_formats=["abi", "bytecode"])
    factory = w3.eth.contract(abi=out["abi"], bytecode=out["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor("USD Coin", "USDC", 6, 50_000_000 * 10**6).transact()
    )
    token = w3.eth.contract(address=receipt["contractAddress"], abi=out["abi"])
    moves = [(0, 1, 2_000_000), (1, 2, 750_000), (0, 3, 1_200_000), (1, 5, 400_000), (2, 4, 90)]
    for sender, to, amount in moves:
        tx = token.functions.transfer(accounts[to], amount * 10**6).transact(
            {"from": accounts[sender]}
        )
        w3.eth.wait_for_transaction_receipt(tx)
    weth_out = vyper.compile_code(TOKEN_SOURCE.read_text(), output_formats=["abi", "bytecode"])
    weth_receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.contract(abi=weth_out["abi"], bytecode=weth_out["bytecode"])
        .constructor("Wrapped Ether", "WETH", 18, 10**24)
        .transact()
    )
    pool_out = vyper.compile_code(
        (CONTRACTS / "swap_pool.vy").read_text(), output_formats=["abi", "bytecode"]
    )
    pool_receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.contract(abi=pool_out["abi"], bytecode=pool_out["bytecode"])
        .constructor(token.address, weth_receipt["contractAddress"])
        .transact()
    )
    pool = w3.eth.contract(address=pool_receipt["contractAddress"], abi=pool_out["abi"])
    swap = pool.functions.swap_v2(3_000 * 10**6, 0, 0, 10**18, accounts[DEMO_WALLET]).transact()
    w3.eth.wait_for_transaction_receipt(swap)
    w3.testing.mine(12)
    low = [a.lower() for a in accounts]
    labels = LabelBook(
        {("ethereum", low[1]): Label("ethereum", low[1], "Demo Exchange", "exchange_hot"),
         ("ethereum", low[2]): Label("ethereum", low[2], "Demo Exchange", "exchange_cold")},
        [],
    )  # fmt: skip
    return w3, {str(token.address).lower(): "USDC"}, labels
