"""The EVM venue on an in-process chain (web3 + eth-tester/py-evm, vyper contracts): approve and
swap through the policy, a denied approve never signed, nonces continuous across restarts and
crashes, a kill switch flipped during a crash honoured, the key never logged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from drydock.errors import ConfigError
from drydock.policy import Policy, PolicyContext, parse_policy
from live.journal import SqliteJournal
from live.venues.base import VenueError
from live.venues.evm import KEY_ENV, EvmVenue, PolicyDenied, account_from_env
from live.venues.signed_store import SignedStore
from tests.evm_contracts import deploy as deploy_contract

pytestmark = pytest.mark.integration  # compiles vyper contracts and starts py-evm

CONTRACTS = Path(__file__).parents[2] / "fixtures" / "contracts"
TEST_KEY = "0x" + "4c" * 32  # a throwaway key for the in-process chain only
FAR = 2**40  # a deadline far in the future


class Chain:
    def __init__(self) -> None:
        from web3 import EthereumTesterProvider, Web3

        self.provider = EthereumTesterProvider()
        self.w3 = w3 = Web3(self.provider)
        self.faucet = w3.eth.accounts[0]
        w3.eth.default_account = self.faucet

        def deploy(name: str, *args: Any) -> Any:
            return deploy_contract(w3, name, *args)

        self.usdc = deploy("erc20", "USD Coin", "USDC", 6, 10**6 * 10**6)
        self.weth = deploy("erc20", "Wrapped Ether", "WETH", 18, 1_000 * 10**18)
        self.router = deploy("router")
        self.weth.functions.transfer(self.router.address, 100 * 10**18).transact()

    def fund(self, address: str) -> None:
        self.w3.eth.send_transaction({"to": address, "value": 10**18})
        self.usdc.functions.transfer(address, 20_000 * 10**6).transact()

    def mine(self, n: int = 1) -> None:
        self.provider.ethereum_tester.mine_blocks(n)


@pytest.fixture
def chain() -> Chain:
    return Chain()


def policy(chain: Chain) -> Policy:
    cid = chain.w3.eth.chain_id
    return parse_policy({"version": "evm-venue", "transaction": {"evm": {
        "chains": [{"chain_id": cid, "native": "ETH", "max_value": 0.1,
                    "max_fee_per_gas_gwei": 500.0, "max_gas": 500_000}],
        "contracts": [
            {"chain_id": cid, "address": chain.usdc.address, "name": "USDC",
             "selectors": ["approve(address,uint256)", "transfer(address,uint256)"]},
            {"chain_id": cid, "address": chain.router.address, "name": "router",
             "selectors": ["swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"]},
        ],
        "tokens": [
            {"chain_id": cid, "address": chain.usdc.address, "symbol": "USDC", "decimals": 6,
             "max_approve": 10_000.0, "max_transfer": 5_000.0},
            {"chain_id": cid, "address": chain.weth.address, "symbol": "WETH", "decimals": 18},
        ],
        "spenders": [chain.router.address],
        "destinations": [chain.faucet],
    }}})  # fmt: skip


def venue(chain: Chain, tmp_path: Path, **kw: Any) -> EvmVenue:
    account = account_from_env({KEY_ENV: TEST_KEY})
    return EvmVenue(chain.w3, account, policy(chain), SignedStore(tmp_path / "signed.sqlite"),
                    priority_fee_wei=10**9, sleep=lambda s: chain.mine(), **kw)  # fmt: skip


def test_approve_then_swap_through_the_policy(chain: Chain, tmp_path: Path) -> None:
    v = venue(chain, tmp_path)
    chain.fund(v.address)
    approved = v.approve("k-approve", chain.usdc, chain.router.address, 1_000 * 10**6)
    assert approved.status == 1
    assert chain.usdc.functions.allowance(v.address, chain.router.address).call() == 1_000 * 10**6
    swapped = v.swap_exact_tokens("k-swap", chain.router, 1_000 * 10**6, 5 * 10**17,
                                  [chain.usdc.address, chain.weth.address], FAR)  # fmt: skip
    assert swapped.block == approved.block + 1
    assert chain.weth.functions.balanceOf(v.address).call() == 5 * 10**17
    assert chain.usdc.functions.balanceOf(v.address).call() == 19_000 * 10**6
    tx = chain.w3.eth.get_transaction(swapped.tx_hash)
    assert (tx["nonce"], tx["type"]) == (1, 2)  # EIP-1559, the wallet's second nonce
    assert tx["maxPriorityFeePerGas"] == 10**9


def test_a_denied_approve_is_never_signed_and_takes_no_nonce(chain: Chain, tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    from live.journal import RunRecord

    journal.start_run(RunRecord("evm-run", "s", {}, "live", "ethereum", "-", "-", "v", "h"))
    v = venue(chain, tmp_path, journal=journal, run_id="evm-run")
    chain.fund(v.address)
    with pytest.raises(PolicyDenied, match=r"transaction\.approve"):
        v.approve("k-big", chain.usdc, chain.router.address, 50_000 * 10**6)  # cap is 10,000
    with pytest.raises(PolicyDenied, match="spender"):
        v.approve("k-stranger", chain.usdc, chain.faucet, 10 * 10**6)
    assert v.store.get("k-big") is None and v.store.get("k-stranger") is None
    assert chain.w3.eth.get_transaction_count(v.address) == 0  # nothing reached the chain
    [big, stranger] = journal.decisions("evm-run")
    assert not big.allowed and not stranger.allowed
    ok = v.approve("k-ok", chain.usdc, chain.router.address, 10 * 10**6)
    assert chain.w3.eth.get_transaction(ok.tx_hash)["nonce"] == 0  # no gap from the denials
    journal.close()


def test_nonces_continue_across_a_restart(chain: Chain, tmp_path: Path) -> None:
    first = venue(chain, tmp_path)
    chain.fund(first.address)
    a = first.transfer("k-1", chain.usdc, chain.faucet, 10**6)
    first.store.close()
    second = venue(chain, tmp_path)  # a new process, same store
    again = second.transfer("k-1", chain.usdc, chain.faucet, 10**6)  # a duplicate signal
    b = second.transfer("k-2", chain.usdc, chain.faucet, 10**6)
    assert again == a  # the stored receipt, nothing sent twice
    nonces = [chain.w3.eth.get_transaction(r.tx_hash)["nonce"] for r in (a, b)]
    assert nonces == [0, 1] and chain.w3.eth.get_transaction_count(second.address) == 2
    assert chain.usdc.functions.balanceOf(second.address).call() == 20_000 * 10**6 - 2 * 10**6


class CrashAfterSigning(Exception):
    pass


def crash_before_broadcast(v: EvmVenue) -> None:
    def boom(raw: bytes, tx_hash: str) -> None:
        raise CrashAfterSigning(tx_hash)

    v.client.broadcast = boom  # type: ignore[method-assign]


def test_a_crash_between_signing_and_broadcast_resends_the_same_bytes(
    chain: Chain, tmp_path: Path
) -> None:
    v = venue(chain, tmp_path)
    chain.fund(v.address)
    crash_before_broadcast(v)
    with pytest.raises(CrashAfterSigning) as crashed:
        v.transfer("k-crash", chain.usdc, chain.faucet, 10**6)
    assert chain.w3.eth.get_transaction_count(v.address) == 0
    restarted = venue(chain, tmp_path)
    receipt = restarted.transfer("k-crash", chain.usdc, chain.faucet, 10**6)
    assert receipt.tx_hash == str(crashed.value)  # the very bytes signed before the crash
    later = restarted.transfer("k-next", chain.usdc, chain.faucet, 10**6)
    assert chain.w3.eth.get_transaction(later.tx_hash)["nonce"] == 1


def test_kill_switch_flipped_during_a_crash_voids_the_signed_tx_and_frees_its_nonce(
    chain: Chain, tmp_path: Path
) -> None:
    v = venue(chain, tmp_path)
    chain.fund(v.address)
    crash_before_broadcast(v)
    with pytest.raises(CrashAfterSigning):
        v.transfer("k-killed", chain.usdc, chain.faucet, 10**6)
    killed = venue(chain, tmp_path, context=lambda: PolicyContext(
        now=datetime.now(UTC), kill_file_present=True))  # fmt: skip
    with pytest.raises(PolicyDenied, match="kill"):
        killed.transfer("k-killed", chain.usdc, chain.faucet, 10**6)
    assert chain.w3.eth.get_transaction_count(v.address) == 0  # never broadcast
    with pytest.raises(VenueError, match="voided"):
        killed.transfer("k-killed", chain.usdc, chain.faucet, 10**6)
    resumed = venue(chain, tmp_path)
    r = resumed.transfer("k-after", chain.usdc, chain.faucet, 10**6)
    assert chain.w3.eth.get_transaction(r.tx_hash)["nonce"] == 0  # the voided nonce, reused


def test_receipts_wait_for_confirmations(chain: Chain, tmp_path: Path) -> None:
    v = venue(chain, tmp_path, confirmations=4)
    chain.fund(v.address)
    r = v.approve("k-conf", chain.usdc, chain.router.address, 10**6)
    assert chain.w3.eth.block_number - r.block + 1 == 4  # three more blocks mined while waiting


def test_a_reverting_transaction_is_a_venue_error(chain: Chain, tmp_path: Path) -> None:
    v = venue(chain, tmp_path)
    chain.fund(v.address)  # no approve: the router's transferFrom reverts
    with pytest.raises(VenueError, match="reverted"):
        v.swap_exact_tokens("k-revert", chain.router, 10**6, 1, [chain.usdc.address,
                            chain.weth.address], FAR)  # fmt: skip


def test_key_comes_from_the_environment_and_is_never_logged(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match=KEY_ENV):
        account_from_env({})
    with pytest.raises(ConfigError, match="not a valid") as bad:
        account_from_env({KEY_ENV: "0xnot-a-key-but-secret-material"})
    assert "secret-material" not in str(bad.value)
    v = venue(chain, tmp_path)
    chain.fund(v.address)
    v.transfer("k-log", chain.usdc, chain.faucet, 10**6)
    err = capsys.readouterr().err
    assert "evm.signed" in err and TEST_KEY[2:] not in err and TEST_KEY[2:].upper() not in err
