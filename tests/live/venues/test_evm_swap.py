"""Market orders through the EVM chain venue on an in-process chain (web3 + eth-tester/py-evm, a
vyper constant-product router): buys and sells filled at the pool's price and read back from the
receipt, a router or kill switch denied by the policy leaves nothing signed, a duplicate id sends
no second transaction, a crash between signing and broadcast resumes with no duplicate."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from drydock.policy import Policy, PolicyContext, parse_policy
from drydock.types import Order, Side
from live.journal import RunRecord, SqliteJournal
from live.venues.base import InsufficientFundsError, MinNotionalError, VenueError
from live.venues.evm import KEY_ENV, EvmVenue, PolicyDenied, account_from_env
from live.venues.evm_swap import PRICE_QUANTUM, EvmSwapVenue, SwapMarket, Token
from live.venues.signed_store import SignedStore
from tests.evm_contracts import deploy

pytestmark = pytest.mark.integration  # compiles vyper contracts and starts py-evm

TEST_KEY = "0x" + "5d" * 32  # a throwaway key for the in-process chain only
POOL_WETH, POOL_USDC = 1_000, 3_000_000  # the pool's reserves: 3,000 USDC per WETH
T0 = datetime(2024, 1, 9, tzinfo=UTC)


class Chain:
    def __init__(self) -> None:
        from web3 import EthereumTesterProvider, Web3

        self.provider = EthereumTesterProvider()
        self.w3 = w3 = Web3(self.provider)
        self.faucet = w3.eth.accounts[0]
        w3.eth.default_account = self.faucet
        self.usdc = deploy(w3, "erc20", "USD Coin", "USDC", 6, 10**8 * 10**6)
        self.weth = deploy(w3, "erc20", "Wrapped Ether", "WETH", 18, 10**5 * 10**18)
        self.router = deploy(w3, "amm_router", self.weth.address, self.usdc.address)
        self.weth.functions.transfer(self.router.address, POOL_WETH * 10**18).transact()
        self.usdc.functions.transfer(self.router.address, POOL_USDC * 10**6).transact()
        self.toy_router = deploy(w3, "router")  # a router the policy does not list

    def fund(self, address: str, usdc: int = 20_000, weth: int = 0) -> None:
        self.w3.eth.send_transaction({"to": address, "value": 10**18})
        self.usdc.functions.transfer(address, usdc * 10**6).transact()
        if weth:
            self.weth.functions.transfer(address, weth * 10**18).transact()

    def mine(self, n: int = 1) -> None:
        self.provider.ethereum_tester.mine_blocks(n)

    def sent_by(self, address: str) -> int:
        return int(self.w3.eth.get_transaction_count(address))


@pytest.fixture
def chain() -> Chain:
    return Chain()


def policy(chain: Chain) -> Policy:
    cid = chain.w3.eth.chain_id
    swap = "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"
    erc20 = ["approve(address,uint256)", "transfer(address,uint256)"]
    return parse_policy({"version": "evm-swap", "transaction": {"evm": {
        "chains": [{"chain_id": cid, "native": "ETH", "max_value": 0.0,
                    "max_fee_per_gas_gwei": 500.0, "max_gas": 500_000}],
        "contracts": [
            {"chain_id": cid, "address": chain.usdc.address, "name": "USDC", "selectors": erc20},
            {"chain_id": cid, "address": chain.weth.address, "name": "WETH", "selectors": erc20},
            {"chain_id": cid, "address": chain.router.address, "name": "amm", "selectors": [swap]},
        ],
        "tokens": [
            {"chain_id": cid, "address": chain.usdc.address, "symbol": "USDC", "decimals": 6,
             "max_approve": 10_000.0},
            {"chain_id": cid, "address": chain.weth.address, "symbol": "WETH", "decimals": 18,
             "max_approve": 5.0},
        ],
        "spenders": [chain.router.address],
    }}})  # fmt: skip


def market(chain: Chain, router: Any = None, slippage_bps: int = 100) -> SwapMarket:
    tokens = {"WETH": Token("WETH", chain.weth.address, 18),
              "USDC": Token("USDC", chain.usdc.address, 6)}  # fmt: skip
    return SwapMarket((router or chain.router).address, tokens, ("WETH/USDC",),
                      slippage_bps=Decimal(slippage_bps))  # fmt: skip


def venue(chain: Chain, tmp_path: Path, *, router: Any = None, slippage_bps: int = 100,
          **kw: Any) -> EvmSwapVenue:  # fmt: skip
    account = account_from_env({KEY_ENV: TEST_KEY})
    evm = EvmVenue(chain.w3, account, policy(chain), SignedStore(tmp_path / "signed.sqlite"),
                   chain="anvil", priority_fee_wei=10**9, sleep=lambda s: chain.mine(), **kw)  # fmt: skip
    return EvmSwapVenue(evm, market(chain, router, slippage_bps))


def order(cid: str, side: Side, qty: str, price: str = "3000") -> Order:
    return Order(cid, "s", "anvil", "WETH/USDC", side, Decimal(qty), Decimal(price), T0)


def amm_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Uniswap V2's getAmountOut (0.3% fee), the formula the router runs."""
    return amount_in * 997 * reserve_out // (reserve_in * 1000 + amount_in * 997)


def test_a_market_buy_then_sell_fill_at_the_pools_price(chain: Chain, tmp_path: Path) -> None:
    v = venue(chain, tmp_path)
    chain.fund(v.evm.address)
    [buy] = v.submit(order("c-buy", Side.BUY, "0.5"))
    paid = 1_500 * 10**6  # 0.5 x 3,000 USDC
    got = amm_out(paid, POOL_USDC * 10**6, POOL_WETH * 10**18)
    assert got == 498_251_621_566_649_025  # 0.498 WETH: 0.3% fee and 0.05% price impact
    assert (buy.side, buy.qty, buy.fee, buy.venue) == (Side.BUY, Decimal(got) / 10**18,
                                                       Decimal(0), "anvil")  # fmt: skip
    assert buy.price == (Decimal(1_500) / (Decimal(got) / 10**18)).quantize(PRICE_QUANTUM)
    assert round(buy.price, 4) == Decimal("3010.5271")
    assert chain.weth.functions.balanceOf(v.evm.address).call() == got
    assert chain.usdc.functions.balanceOf(v.evm.address).call() == 18_500 * 10**6
    block = chain.w3.eth.get_block(chain.w3.eth.get_transaction_receipt(
        v.evm.store.get("c-buy:swap").tx_hash)["blockNumber"])  # type: ignore[union-attr]  # fmt: skip
    assert buy.ts == datetime.fromtimestamp(block["timestamp"], UTC)  # the block's time
    assert v.fills_for("c-buy") == [buy]  # from the store and the receipt, not memory

    [sell] = v.submit(order("c-sell", Side.SELL, "0.4"))
    sold = 4 * 10**17
    usdc_out = amm_out(sold, POOL_WETH * 10**18 - got, POOL_USDC * 10**6 + paid)
    assert (sell.side, sell.qty) == (Side.SELL, Decimal("0.4"))
    assert sell.price == ((Decimal(usdc_out) / 10**6) / Decimal("0.4")).quantize(PRICE_QUANTUM)
    assert round(sell.price, 4) == Decimal("2992.7931")  # the 0.3% fee, against the seller
    assert chain.usdc.functions.balanceOf(v.evm.address).call() == 18_500 * 10**6 + usdc_out
    assert v.balances() == {"WETH": Decimal(got - sold) / 10**18,
                            "USDC": Decimal(18_500 * 10**6 + usdc_out) / 10**6}  # fmt: skip
    # two orders, each an exact approve and a swap
    assert chain.sent_by(v.evm.address) == 4


def test_the_slippage_bound_reverts_a_swap_below_min_out(chain: Chain, tmp_path: Path) -> None:
    v = venue(chain, tmp_path, slippage_bps=10)  # the pool's 0.3% fee alone exceeds 0.1%
    chain.fund(v.evm.address)
    with pytest.raises(VenueError, match="reverted"):
        v.submit(order("c-tight", Side.BUY, "0.5"))
    assert v.fills_for("c-tight") == []
    with pytest.raises(VenueError, match="reverted"):  # the same id: no second attempt
        v.submit(order("c-tight", Side.BUY, "0.5"))
    assert chain.sent_by(v.evm.address) == 2  # the approve and one reverted swap
    assert chain.weth.functions.balanceOf(v.evm.address).call() == 0


def test_a_duplicate_submit_sends_no_second_transaction(chain: Chain, tmp_path: Path) -> None:
    v = venue(chain, tmp_path)
    chain.fund(v.evm.address)
    first = v.submit(order("c-dup", Side.BUY, "0.5"))
    sent = chain.sent_by(v.evm.address)
    again = v.submit(order("c-dup", Side.BUY, "0.5"))
    restarted = venue(chain, tmp_path)  # a new process on the same signed store
    assert restarted.fills_for("c-dup") == first
    assert restarted.submit(order("c-dup", Side.BUY, "0.5")) == first == again
    assert chain.sent_by(v.evm.address) == sent == 2


class Killed(BaseException):
    """Stands in for SIGKILL at the ``signed`` checkpoint: nothing after it runs."""


def test_a_crash_between_signing_and_broadcast_resumes_with_no_duplicate(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = venue(chain, tmp_path)
    chain.fund(v.evm.address)
    passed: list[str] = []

    def die_at_second_signing(name: str) -> None:
        passed.append(name)
        if len(passed) == 2:  # the approve went out; the swap is signed, stored, not broadcast
            raise Killed

    monkeypatch.setattr("live.venues.evm.checkpoint", die_at_second_signing)
    with pytest.raises(Killed):
        v.submit(order("c-crash", Side.BUY, "0.5"))
    monkeypatch.undo()
    stored = SignedStore(tmp_path / "signed.sqlite").get("c-crash:swap")
    assert stored is not None and chain.sent_by(v.evm.address) == 1  # only the approve
    resumed = venue(chain, tmp_path)
    assert resumed.fills_for("c-crash") == []  # signed, never broadcast: no fill yet
    [fill] = resumed.submit(order("c-crash", Side.BUY, "0.5"))
    swaps = [chain.w3.eth.get_transaction_receipt(stored.tx_hash)]
    assert swaps[0]["status"] == 1 and chain.sent_by(v.evm.address) == 2  # the same bytes, once
    assert (
        fill.qty == Decimal(amm_out(1_500 * 10**6, POOL_USDC * 10**6, POOL_WETH * 10**18)) / 10**18
    )
    assert resumed.submit(order("c-crash", Side.BUY, "0.5")) == [fill]
    assert chain.sent_by(v.evm.address) == 2


def test_a_router_off_the_allowlist_is_denied_and_nothing_is_signed(
    chain: Chain, tmp_path: Path
) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    journal.start_run(RunRecord("swap-run", "s", {}, "live", "anvil", "-", "-", "v", "h"))
    chain.weth.functions.transfer(chain.toy_router.address, 10 * 10**18).transact()
    v = venue(chain, tmp_path, router=chain.toy_router, journal=journal, run_id="swap-run")
    chain.fund(v.evm.address)
    with pytest.raises(PolicyDenied, match="spender"):  # the approve to it is refused first
        v.submit(order("c-stranger", Side.BUY, "0.5"))
    assert (
        v.evm.store.get("c-stranger:approve") is None and v.evm.store.get("c-stranger:swap") is None
    )
    assert chain.sent_by(v.evm.address) == 0
    [decision] = journal.decisions("swap-run")
    assert not decision.allowed
    journal.close()


def test_the_kill_switch_denies_the_swap_before_signing(chain: Chain, tmp_path: Path) -> None:
    killed = venue(chain, tmp_path, context=lambda: PolicyContext(
        now=datetime.now(UTC), kill_file_present=True))  # fmt: skip
    chain.fund(killed.evm.address)
    with pytest.raises(PolicyDenied, match="kill"):
        killed.submit(order("c-kill", Side.BUY, "0.5"))
    assert chain.sent_by(killed.evm.address) == 0 and killed.fills_for("c-kill") == []


def test_orders_the_wallet_cannot_pay_or_the_venue_does_not_list(
    chain: Chain, tmp_path: Path
) -> None:
    v = venue(chain, tmp_path)
    chain.fund(v.evm.address, usdc=100)
    with pytest.raises(InsufficientFundsError, match="holds 100 USDC, the swap needs 1500"):
        v.submit(order("c-poor", Side.BUY, "0.5"))
    assert chain.sent_by(v.evm.address) == 0  # not even the approve
    with pytest.raises(MinNotionalError):
        v.submit(order("c-dust", Side.BUY, "0.0001"))
    with pytest.raises(VenueError, match="no pair 'WBTC/USDC'"):
        v.instrument("WBTC/USDC")
    with pytest.raises(VenueError, match="reference price"):
        v.submit(order("c-noprice", Side.SELL, "0.1", price="0"))
    inst = v.instrument("WETH/USDC")
    assert (inst.base, inst.quote, inst.lot_size, inst.tick_size) == (
        "WETH", "USDC", Decimal("1e-18"), Decimal("0.000001"))  # fmt: skip
