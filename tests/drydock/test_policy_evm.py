"""EVM rules against real calldata: vyper contracts on an in-process chain (py-evm), transactions
built by web3, judged by the engine, and the allowed ones executed so the judged bytes are the
bytes that ran."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drydock.errors import ConfigError
from drydock.policy import Policy, PolicyContext, evaluate, parse_policy
from drydock.policy._evm_payload import MAX_UINT256, EvmTx, TypedData
from drydock.policy._rolling import cap_usage
from drydock.types import Action, Verdict
from tests.evm_contracts import deploy as deploy_contract

pytestmark = pytest.mark.integration  # compiles two vyper contracts and starts py-evm (~4 s)

CONTRACTS = Path(__file__).parents[1] / "fixtures" / "contracts"
STRANGER = "0x" + "5a" * 20


class Chain:
    """Web3 on EthereumTesterProvider with a USDC-like token (6 decimals), a WETH-like token and
    a router holding WETH."""

    def __init__(self) -> None:
        from web3 import EthereumTesterProvider, Web3

        self.w3 = w3 = Web3(EthereumTesterProvider())
        self.wallet, self.friend = w3.eth.accounts[0], w3.eth.accounts[1]
        w3.eth.default_account = self.wallet

        def deploy(name: str, *args: Any) -> Any:
            return deploy_contract(w3, name, *args)

        self.usdc = deploy("erc20", "USD Coin", "USDC", 6, 10**6 * 10**6)
        self.weth = deploy("erc20", "Wrapped Ether", "WETH", 18, 1_000 * 10**18)
        self.router = deploy("router")
        self.weth.functions.transfer(self.router.address, 100 * 10**18).transact()
        self.chain_id = w3.eth.chain_id

    def tx(self, call: Any, **extra: Any) -> dict[str, Any]:
        # An explicit gas limit: web3 would estimate it by running the call, which reverts for a
        # swap built before its approve (the order a runner builds and judges them in).
        built: dict[str, Any] = call.build_transaction(
            {"from": self.wallet, "gas": 300_000, **extra}
        )
        return built

    def send(self, built: dict[str, Any]) -> Any:
        return self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_transaction(built))

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.w3.eth.get_block("latest")["timestamp"], UTC)


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain()


def rules(chain: Chain, **overrides: Any) -> dict[str, Any]:
    """A server-wallet policy for the test chain: both tokens, the router, caps."""
    evm: dict[str, Any] = {
        "chains": [{"chain_id": chain.chain_id, "native": "ETH", "max_value": 1.0,
                    "max_fee_per_gas_gwei": 50.0, "max_gas": 500_000}],
        "contracts": [
            {"chain_id": chain.chain_id, "address": chain.usdc.address, "name": "USDC",
             "selectors": ["approve(address,uint256)", "transfer(address,uint256)"]},
            {"chain_id": chain.chain_id, "address": chain.weth.address, "name": "WETH",
             "selectors": ["0x095ea7b3"]},
            {"chain_id": chain.chain_id, "address": chain.router.address, "name": "router",
             "selectors": ["swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"]},
        ],
        "tokens": [
            {"chain_id": chain.chain_id, "address": chain.usdc.address, "symbol": "USDC",
             "decimals": 6, "max_approve": 10_000.0, "max_transfer": 5_000.0},
            {"chain_id": chain.chain_id, "address": chain.weth.address, "symbol": "WETH",
             "decimals": 18, "max_approve": 5.0},
        ],
        "spenders": [chain.router.address],
        "destinations": [chain.friend],
        "typed_data_domains": [
            {"name": "USD Coin", "chain_id": chain.chain_id,
             "verifying_contract": chain.usdc.address, "primary_types": ["Permit"]},
        ],
    }  # fmt: skip
    evm.update(overrides)
    return evm


def policy(chain: Chain, **overrides: Any) -> Policy:
    return parse_policy({"version": "evm", "transaction": {"evm": rules(chain, **overrides)}})


def action(tx: EvmTx | TypedData, **kw: Any) -> Action:
    kind = tx.kind
    return Action(kind=kind, venue="", chain="ethereum", payload=tx, strategy_id="s", **kw)


def verdict(chain: Chain, built: dict[str, Any] | EvmTx | TypedData, p: Policy | None = None,
            **ctx: Any) -> tuple[Verdict, list[str]]:  # fmt: skip
    tx = built if isinstance(built, EvmTx | TypedData) else EvmTx.from_web3(built)
    decision = evaluate(
        action(tx), PolicyContext(now=ctx.pop("now", chain.now()), **ctx), p or policy(chain)
    )
    return decision.verdict, [v.rule_id for v in decision.violations]


def test_allowed_approve_runs_on_chain_with_the_decoded_amount(chain: Chain) -> None:
    built = chain.tx(chain.usdc.functions.approve(chain.router.address, 2_500 * 10**6))
    tx = EvmTx.from_web3(built)
    assert tx.call is not None and tx.call.name == "approve"
    assert tx.call.args == {"spender": chain.router.address.lower(), "amount": 2_500 * 10**6}
    assert verdict(chain, tx) == (Verdict.ALLOW, [])
    chain.send(built)
    assert (
        chain.usdc.functions.allowance(chain.wallet, chain.router.address).call() == 2_500 * 10**6
    )


@pytest.mark.parametrize(
    ("spender", "amount", "expected"),
    [
        ("stranger", 10 * 10**6, ["transaction.approve_spender"]),
        ("router", MAX_UINT256, ["transaction.approve_unlimited"]),
        ("router", 10_001 * 10**6, ["transaction.approve_amount"]),
        ("stranger", MAX_UINT256, ["transaction.approve_spender", "transaction.approve_unlimited"]),
    ],
)
def test_approve_rules(chain: Chain, spender: str, amount: int, expected: list[str]) -> None:
    to = chain.router.address if spender == "router" else chain.w3.to_checksum_address(STRANGER)
    built = chain.tx(chain.usdc.functions.approve(to, amount))
    assert verdict(chain, built) == (Verdict.DENY, expected)


def test_unlimited_approve_only_when_a_rule_allows_it(chain: Chain) -> None:
    built = chain.tx(chain.usdc.functions.approve(chain.router.address, MAX_UINT256))
    assert verdict(chain, built, policy(chain, allow_unlimited_approve=True))[0] is Verdict.ALLOW


def test_transfer_rules_and_spend(chain: Chain) -> None:
    ok = chain.tx(chain.usdc.functions.transfer(chain.friend, 1_000 * 10**6))
    assert verdict(chain, ok) == (Verdict.ALLOW, [])
    before = chain.usdc.functions.balanceOf(chain.friend).call()
    chain.send(ok)
    assert chain.usdc.functions.balanceOf(chain.friend).call() - before == 1_000 * 10**6
    foreign = chain.tx(chain.usdc.functions.transfer(chain.w3.to_checksum_address(STRANGER), 10**6))
    assert verdict(chain, foreign) == (Verdict.DENY, ["transaction.transfer_destination"])
    big = chain.tx(chain.usdc.functions.transfer(chain.friend, 5_001 * 10**6))
    assert verdict(chain, big) == (Verdict.DENY, ["transaction.transfer_amount"])
    # The decoded transfer is what the rolling caps count: 1,000 USDC to the friend.
    capped = parse_policy(
        {
            "version": "evm",
            "transaction": {
                "evm": rules(chain),
                "rolling_caps": [{"id": "usdc-day", "scope": "asset", "unit": "USDC", "max": 1500}],
            },
        }
    )
    act = action(EvmTx.from_web3(ok))
    assert cap_usage(act, PolicyContext(now=chain.now()), capped) == {("usdc-day", "USDC"): 1000.0}
    used = PolicyContext(now=chain.now(), rolling_usage={("usdc-day", "USDC"): 600.0})
    assert [v.rule_id for v in evaluate(act, used, capped).violations] == [
        "transaction.rolling_cap"
    ]


def test_swap_rules_and_execution(chain: Chain) -> None:
    deadline = int((chain.now() + timedelta(minutes=5)).timestamp())
    path = [chain.usdc.address, chain.weth.address]

    def swap(out_min: int, to: str | None = None, when: int = deadline, route: list[str] = path) -> dict[str, Any]:  # fmt: skip
        call = chain.router.functions.swapExactTokensForTokens(
            100 * 10**6, out_min, route, to or chain.wallet, when
        )
        return chain.tx(call)

    good = swap(10**16)
    assert verdict(chain, good) == (Verdict.ALLOW, [])
    chain.send(chain.tx(chain.usdc.functions.approve(chain.router.address, 100 * 10**6)))
    before = chain.weth.functions.balanceOf(chain.wallet).call()
    chain.send(good)
    assert chain.weth.functions.balanceOf(chain.wallet).call() - before == 10**16
    assert verdict(chain, swap(0)) == (Verdict.DENY, ["transaction.swap_no_min_out"])
    assert verdict(chain, swap(1, to=chain.friend)) == (
        Verdict.DENY,
        ["transaction.swap_recipient"],
    )
    assert verdict(chain, swap(1, when=deadline - 3600)) == (
        Verdict.DENY,
        ["transaction.swap_deadline"],
    )
    odd = chain.w3.to_checksum_address(STRANGER)
    assert verdict(chain, swap(1, route=[chain.usdc.address, odd])) == (
        Verdict.DENY,
        ["transaction.swap_path"],
    )
    # A swap's input is a spend of 100 USDC to the router.
    from drydock.policy._evm import evm_spends

    spends = evm_spends(action(EvmTx.from_web3(good)), policy(chain))
    assert [(s.asset, s.amount, s.destination) for s in spends] == [
        ("USDC", 100.0, chain.router.address.lower())
    ]


V3_SINGLE = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint160))"
V3_SINGLE_DEADLINE = (
    "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
)


def test_uniswap_v3_exact_input_single(chain: Chain) -> None:
    """SwapRouter02's struct call (no deadline) and SwapRouter's (with one), encoded by eth_abi
    with their real selectors, decode to the same path, recipient and amounts as a V2 swap."""
    from eth_abi.abi import encode
    from eth_utils.abi import function_signature_to_4byte_selector

    from drydock.policy._evm import evm_spends

    deadline = int((chain.now() + timedelta(minutes=5)).timestamp())
    v3 = policy(chain, contracts=[
        *rules(chain)["contracts"][:2],
        {"chain_id": chain.chain_id, "address": chain.router.address, "name": "router",
         "selectors": [V3_SINGLE, V3_SINGLE_DEADLINE]},
    ])  # fmt: skip

    def single(out_min: int, to: str = chain.wallet, token_out: str = chain.weth.address,
               when: int | None = None) -> EvmTx:  # fmt: skip
        head = (chain.usdc.address, token_out, 500, to)
        tail = (250 * 10**6, out_min, 0)
        if when is None:
            signature, args, types = V3_SINGLE, (*head, *tail), "address,address,uint24,address,uint256,uint256,uint160"  # fmt: skip
        else:
            signature, args = V3_SINGLE_DEADLINE, (*head, when, *tail)
            types = "address,address,uint24,address,uint256,uint256,uint256,uint160"
        data = function_signature_to_4byte_selector(signature) + encode([f"({types})"], [args])
        return EvmTx(chain.chain_id, chain.wallet, chain.router.address, 0, data, 200_000)

    ok = single(10**15)
    assert ok.call is not None and ok.call.args["path"] == (
        chain.usdc.address.lower(),
        chain.weth.address.lower(),
    )
    assert verdict(chain, ok, v3) == (Verdict.ALLOW, [])
    assert verdict(chain, single(10**15, when=deadline), v3) == (Verdict.ALLOW, [])
    assert verdict(chain, single(10**15, when=deadline - 3600), v3) == (
        Verdict.DENY,
        ["transaction.swap_deadline"],
    )
    assert verdict(chain, single(0), v3) == (Verdict.DENY, ["transaction.swap_no_min_out"])
    assert verdict(chain, single(1, to=chain.friend), v3) == (
        Verdict.DENY,
        ["transaction.swap_recipient"],
    )
    assert verdict(chain, single(1, token_out=chain.w3.to_checksum_address(STRANGER)), v3) == (
        Verdict.DENY,
        ["transaction.swap_path"],
    )
    spends = evm_spends(action(ok), v3)
    assert [(s.asset, s.amount) for s in spends] == [("USDC", 250.0)]


def test_contract_selector_value_gas_and_chain_rules(chain: Chain) -> None:
    # transfer on WETH: the contract is listed but only approve is allowed there.
    weth_transfer = chain.tx(chain.weth.functions.transfer(chain.friend, 1))
    assert verdict(chain, weth_transfer) == (Verdict.DENY, ["transaction.selector_not_allowed"])
    # A contract that is not listed at all.
    unlisted = EvmTx(
        chain.chain_id, chain.wallet, STRANGER, 0, bytes.fromhex("a9059cbb") + bytes(64)
    )
    assert verdict(chain, unlisted) == (Verdict.DENY, ["transaction.contract_not_allowed"])
    # Native value: to an allowlisted destination within the cap, then above it.
    pay = {"from": chain.wallet, "to": chain.friend, "value": 10**18, "gas": 21_000,
           "maxFeePerGas": 30 * 10**9, "maxPriorityFeePerGas": 10**9,
           "chainId": chain.chain_id}  # fmt: skip
    assert verdict(chain, pay) == (Verdict.ALLOW, [])
    assert verdict(chain, {**pay, "value": 2 * 10**18}) == (
        Verdict.DENY,
        ["transaction.native_value"],
    )
    assert verdict(chain, {**pay, "to": STRANGER}) == (
        Verdict.DENY,
        ["transaction.destination_not_allowed"],
    )
    assert verdict(chain, {**pay, "maxFeePerGas": 80 * 10**9}) == (
        Verdict.DENY,
        ["transaction.gas_price"],
    )
    assert verdict(chain, {**pay, "gas": 600_000}) == (Verdict.DENY, ["transaction.gas_limit"])
    assert verdict(chain, {**pay, "chainId": 8453}) == (
        Verdict.DENY,
        ["transaction.chain_not_allowed"],
    )
    receipt = chain.send(pay)
    assert receipt.status == 1


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"chainId": "1"}, "chain_id"),
        ({"chainId": True}, "chain_id"),
        ({"data": "0x095ea7"}, "shorter than a 4-byte selector"),
        ({"data": "0x095ea7b3" + "00" * 10}, "does not decode"),
        ({"to": " " + "0x" + "11" * 20}, "padded"),
        ({"to": "0x" + "11" * 19 + "1\u200b"}, "U+200B"),
        ({"to": "0xAbCdEf0000000000000000000000000000000001"}, "EIP-55"),
        ({"value": -1}, "value_wei"),
        ({"gas": 0}, "gas"),
        ({"maxPriorityFeePerGas": -1}, "max_priority_fee_per_gas"),
        ({"value": 2**256}, "value_wei"),
    ],
)
def test_malformed_evm_transactions_are_denied(chain: Chain, change: dict[str, Any], problem: str) -> None:  # fmt: skip
    base = {"from": chain.wallet, "to": chain.friend, "value": 0, "gas": 21_000,
            "chainId": chain.chain_id, "data": "0x"}  # fmt: skip
    tx = EvmTx.from_web3({**base, **change})
    assert any(problem in p for p in tx.problems()), tx.problems()
    decision = evaluate(action(tx), PolicyContext(now=chain.now()), policy(chain))
    assert [v.rule_id for v in decision.violations] == ["system.malformed_action"]


def test_typed_data_domain_type_and_permit(chain: Chain) -> None:
    def permit(spender: str, value: int, **domain: Any) -> TypedData:
        return TypedData.from_eip712(
            {
                "domain": {"name": "USD Coin", "version": "2", "chainId": chain.chain_id,
                           "verifyingContract": chain.usdc.address, **domain},
                "primaryType": domain.pop("primary", "Permit"),
                "message": {"owner": chain.wallet, "spender": spender, "value": value,
                            "nonce": 0, "deadline": 2**40},
            }
        )  # fmt: skip

    assert verdict(chain, permit(chain.router.address, 10**6)) == (Verdict.ALLOW, [])
    assert verdict(chain, permit(STRANGER, 10**6)) == (Verdict.DENY, ["transaction.permit_spender"])
    assert verdict(chain, permit(chain.router.address, MAX_UINT256)) == (
        Verdict.DENY,
        ["transaction.approve_unlimited"],
    )
    assert verdict(chain, permit(chain.router.address, 10**6, name="USD Coin Phish")) == (
        Verdict.DENY,
        ["transaction.typed_data_domain"],
    )
    assert verdict(chain, permit(chain.router.address, 10**6, chainId=8453)) == (
        Verdict.DENY,
        ["transaction.typed_data_domain"],
    )
    order = TypedData.from_eip712(
        {"domain": {"name": "USD Coin", "chainId": chain.chain_id,
                    "verifyingContract": chain.usdc.address},
         "primaryType": "Order", "message": {}}
    )  # fmt: skip
    assert verdict(chain, order) == (Verdict.DENY, ["transaction.typed_data_type"])


def test_evm_actions_are_denied_without_rules_and_for_another_wallet(chain: Chain) -> None:
    built = chain.tx(chain.usdc.functions.approve(chain.router.address, 1))
    empty = parse_policy({"version": "none"})
    assert verdict(chain, built, empty) == (Verdict.DENY, ["transaction.evm_not_configured"])
    act = Action(kind="evm_tx", venue="", payload=EvmTx.from_web3(built), wallet=chain.friend)
    decision = evaluate(act, PolicyContext(now=chain.now()), policy(chain))
    assert [v.rule_id for v in decision.violations] == ["transaction.wallet_mismatch"]
    wrong = Action(kind="evm_sign_typed_data", venue="", payload=EvmTx.from_web3(built))
    assert "carries a evm_tx payload" in wrong.malformed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"spenders": ["0xAbCdEf0000000000000000000000000000000001"]}, "EIP-55"),
        ({"spenders": ["0x" + "11" * 19]}, "40 hex digits"),
        ({"chains": []}, "chains"),
        ({"contracts": [{"chain_id": 1, "address": "0x" + "11" * 20, "selectors": ["0x12"]}]},
         "selector"),
        ({"tokens": [{"chain_id": 999, "address": "0x" + "11" * 20, "symbol": "X", "decimals": 6}]},
         "not in transaction.evm.chains"),
        ({"tokens": [{"chain_id": 1, "address": "0x" + "11" * 20, "symbol": "X", "decimals": 99}]},
         "decimals"),
    ],
)  # fmt: skip
def test_bad_evm_config_fails_at_load(chain: Chain, change: dict[str, Any], message: str) -> None:
    evm = rules(chain, **change)
    if "tokens" in change or "contracts" in change:
        evm["chains"] = [*evm["chains"], {"chain_id": 1}]
    with pytest.raises(ConfigError, match=message):
        parse_policy({"version": "bad", "transaction": {"evm": evm}})


@settings(max_examples=150, deadline=None)
@given(
    amount=st.integers(0, 2**256 - 1),
    spender=st.sampled_from(["router", "stranger", "friend"]),
)
def test_no_approve_above_the_cap_or_to_a_foreign_spender_is_allowed(
    chain: Chain, amount: int, spender: str
) -> None:
    """Encode -> decode -> rule: an ALLOW implies an allowlisted spender and amount <= cap."""
    from eth_abi import encode

    to = {"router": chain.router.address, "stranger": STRANGER, "friend": chain.friend}[spender]
    data = bytes.fromhex("095ea7b3") + encode(["address", "uint256"], [to, amount])
    tx = EvmTx(chain.chain_id, chain.wallet, chain.usdc.address, 0, data, 60_000)
    allowed = evaluate(action(tx), PolicyContext(now=chain.now()), policy(chain)).allowed
    assert allowed == (spender == "router" and amount <= 10_000 * 10**6)
