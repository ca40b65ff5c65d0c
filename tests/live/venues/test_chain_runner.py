"""The live runner trading through the EVM chain venue on an in-process chain: six days of real
BTC/USDT 1h bars, ema_cross, every order a policy-checked approve and router swap, each order's
fill journaled from its receipt; a resumed run sends nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tenacity import wait_none

from drydock.execution import ExecutionModel
from drydock.ohlcv import SeriesKey
from drydock.policy import Policy, parse_policy
from drydock.settings import Settings
from drydock.types import Side
from live.journal import SqliteJournal
from live.runner import Mode, RunnerSummary, SimulatedClock, run_strategy
from live.venues.evm import KEY_ENV, EvmVenue, account_from_env
from live.venues.evm_swap import EvmSwapVenue, SwapMarket, Token
from live.venues.signed_store import SignedStore
from strategies import get_strategy
from tests.evm_contracts import deploy

pytestmark = pytest.mark.integration  # compiles vyper contracts and starts py-evm

START = datetime(2024, 1, 1, tzinfo=UTC)
END = START + timedelta(days=6)
TEST_KEY = "0x" + "6e" * 32  # a throwaway key for the in-process chain only
POOL_BTC, POOL_USDT = 10_000, 430_000_000  # 43,000 USDT per BTC, deep enough to barely move


class Chain:
    def __init__(self) -> None:
        from web3 import EthereumTesterProvider, Web3

        self.provider = EthereumTesterProvider()
        self.w3 = w3 = Web3(self.provider)
        w3.eth.default_account = w3.eth.accounts[0]
        self.usdt = deploy(w3, "erc20", "Tether USD", "USDT", 6, 10**10 * 10**6)
        self.wbtc = deploy(w3, "erc20", "Wrapped BTC", "WBTC", 8, 10**6 * 10**8)
        self.router = deploy(w3, "amm_router", self.wbtc.address, self.usdt.address)
        self.wbtc.functions.transfer(self.router.address, POOL_BTC * 10**8).transact()
        self.usdt.functions.transfer(self.router.address, POOL_USDT * 10**6).transact()

    def mine(self) -> None:
        self.provider.ethereum_tester.mine_blocks(1)


def tx_policy(chain: Chain) -> Policy:
    cid = chain.w3.eth.chain_id
    erc20 = ["approve(address,uint256)"]
    swap = ["swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"]
    return parse_policy({"version": "chain-runner", "transaction": {"evm": {
        "chains": [{"chain_id": cid, "native": "ETH", "max_value": 0.0,
                    "max_fee_per_gas_gwei": 500.0, "max_gas": 500_000}],
        "contracts": [
            {"chain_id": cid, "address": chain.usdt.address, "name": "USDT", "selectors": erc20},
            {"chain_id": cid, "address": chain.wbtc.address, "name": "WBTC", "selectors": erc20},
            {"chain_id": cid, "address": chain.router.address, "name": "amm", "selectors": swap},
        ],
        "tokens": [
            {"chain_id": cid, "address": chain.usdt.address, "symbol": "USDT", "decimals": 6,
             "max_approve": 100_000.0},
            {"chain_id": cid, "address": chain.wbtc.address, "symbol": "WBTC", "decimals": 8,
             "max_approve": 5.0},
        ],
        "spenders": [chain.router.address],
    }}})  # fmt: skip


def chain_venue(chain: Chain, tmp_path: Path) -> EvmSwapVenue:
    evm = EvmVenue(chain.w3, account_from_env({KEY_ENV: TEST_KEY}), tx_policy(chain),
                   SignedStore(tmp_path / "signed.sqlite"), chain="anvil", priority_fee_wei=10**9,
                   sleep=lambda s: chain.mine())  # fmt: skip
    tokens = {"WBTC": Token("WBTC", chain.wbtc.address, 8),
              "USDT": Token("USDT", chain.usdt.address, 6)}  # fmt: skip
    # The series' symbol trades the wrapped token; a 10% bound covers the six days' moves
    # against a pool held at 43,000.
    market = SwapMarket(chain.router.address, tokens, {"BTC/USDT": ("WBTC", "USDT")},
                        slippage_bps=Decimal(1_000))  # fmt: skip
    return EvmSwapVenue(evm, market)


def run(settings: Settings, key: SeriesKey, venue: Any, **kw: Any) -> RunnerSummary:
    strategy = get_strategy("ema_cross")
    return run_strategy(
        strategy, strategy.resolve_params({"fast": 5, "slow": 20}), key, START,
        settings.policy_dir / "research.toml", ExecutionModel(), Mode.LIVE,
        clock=SimulatedClock(END), until=END, venue=venue, confirm_live=True,
        retry_wait=wait_none(), **kw,
    )  # fmt: skip


def test_the_live_runner_trades_through_router_swaps_once_each(
    lake: SeriesKey, settings: Settings, tmp_path: Path
) -> None:
    chain = Chain()
    venue = chain_venue(chain, tmp_path)
    wallet = venue.evm.address
    chain.w3.eth.send_transaction({"to": wallet, "value": 10**18})
    chain.usdt.functions.transfer(wallet, 100_000 * 10**6).transact()

    summary = run(settings, lake, venue, run_id="chain")
    with SqliteJournal(settings.journal_path) as journal:
        orders = journal.orders("chain")
        fills = journal.fills("chain")
    assert len(orders) >= 4 and len(fills) == len(orders)  # every order filled once
    assert {o.venue for o in orders} == {"anvil"} and summary.state == "stopped"
    sent = chain.w3.eth.get_transaction_count(wallet)
    assert sent == 2 * len(orders)  # an exact approve and one swap per order, nothing else
    held = sum((f.qty if f.side is Side.BUY else -f.qty) for f in fills)
    assert chain.wbtc.functions.balanceOf(wallet).call() == int(held * 10**8)  # journal = chain
    for fill in fills:  # each fill is its swap's receipt, read again from the chain
        assert venue.fills_for(fill.client_order_id) == [fill]

    again = run(settings, lake, chain_venue(chain, tmp_path), run_id="chain")  # a restart
    assert chain.w3.eth.get_transaction_count(wallet) == sent  # nothing sent twice
    assert again.result.orders == summary.result.orders
