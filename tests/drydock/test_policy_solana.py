"""Solana rules against real transactions: built and signed with solders, serialized, parsed
back, judged by the engine; an allowed system transfer executed in LiteSVM moves exactly the
lamports the policy judged."""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from drydock.errors import ConfigError
from drydock.policy import Policy, PolicyContext, evaluate, load_policy, parse_policy
from drydock.policy._rolling import cap_usage
from drydock.policy._solana_payload import TOKEN_PROGRAM, SolanaTx
from drydock.types import Action, Verdict

WALLET = Keypair.from_seed(bytes(range(32)))
FRIEND = Pubkey.from_string("9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM")
USDC = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
FRIEND_USDC = Pubkey.from_string("7UX2i7SucgLMQcfZ75s3VXmZZY4YRUyJN9X1RgfMoDUi")
JUPITER = Pubkey.from_string("JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVtaV4")
STRANGER = Pubkey.new_unique()
TOKEN = Pubkey.from_string(TOKEN_PROGRAM)

RULES: dict[str, Any] = {
    "programs": [
        "11111111111111111111111111111111",
        TOKEN_PROGRAM,
        "ComputeBudget111111111111111111111111111111",
        str(JUPITER),
    ],
    "max_lamports": 2_000_000_000,  # 2 SOL
    "mints": [{"mint": str(USDC), "symbol": "USDC", "decimals": 6, "max_amount": 1_000.0}],
    "destinations": [str(FRIEND), str(FRIEND_USDC)],
    "delegates": [str(JUPITER)],
    "max_priority_fee_lamports": 100_000,
    "max_instructions": 6,
}


def policy(**overrides: Any) -> Policy:
    return parse_policy({"version": "sol", "transaction": {"solana": {**RULES, **overrides}}})


def spl(kind: int, amount: int, accounts: list[Pubkey], decimals: int | None = None) -> Instruction:
    """An SPL Token instruction by its documented layout: u8 tag, u64 amount[, u8 decimals]."""
    data = struct.pack("<BQ", kind, amount) + (bytes([decimals]) if decimals is not None else b"")
    metas = [AccountMeta(a, is_signer=a == WALLET.pubkey(), is_writable=True) for a in accounts]
    return Instruction(TOKEN, data, metas)


def checked_transfer(amount: int, dest: Pubkey = FRIEND_USDC, decimals: int = 6) -> Instruction:
    source = Pubkey.new_unique()
    return spl(12, amount, [source, USDC, dest, WALLET.pubkey()], decimals)


def signed(*ixs: Instruction, blockhash: Hash | None = None) -> Transaction:
    block = blockhash or Hash.default()
    return Transaction(
        [WALLET], Message.new_with_blockhash(list(ixs), WALLET.pubkey(), block), block
    )


def pay(lamports: int, to: Pubkey = FRIEND) -> Instruction:
    return transfer(TransferParams(from_pubkey=WALLET.pubkey(), to_pubkey=to, lamports=lamports))


def judge(tx: Transaction | SolanaTx, p: Policy | None = None, **ctx: Any) -> tuple[Verdict, list[str]]:  # fmt: skip
    payload = tx if isinstance(tx, SolanaTx) else SolanaTx.from_bytes(bytes(tx))  # round trip
    act = Action(kind="solana_tx", venue="", chain="solana", payload=payload,
                 wallet=str(WALLET.pubkey()), strategy_id="copy")  # fmt: skip
    decision = evaluate(act, PolicyContext(**ctx), p or policy())
    return decision.verdict, [v.rule_id for v in decision.violations]


def test_round_trip_decodes_programs_and_amounts() -> None:
    tx = signed(set_compute_unit_limit(100_000), set_compute_unit_price(500), pay(10**9),
                checked_transfer(250 * 10**6))  # fmt: skip
    parsed = SolanaTx.from_bytes(base64.b64encode(bytes(tx)).decode())
    assert parsed.problems() == ()
    assert parsed.fee_payer == str(WALLET.pubkey()) and parsed.signers == (str(WALLET.pubkey()),)
    assert [ix.name for ix in parsed.instructions] == [
        "set_compute_unit_limit", "set_compute_unit_price", "system_transfer",
        "spl_transfer_checked",
    ]  # fmt: skip
    assert parsed.lamports_out == 10**9
    assert parsed.priority_fee_lamports == 500 * 100_000 // 1_000_000 == 50
    assert parsed.instructions[3].fields["amount"] == 250 * 10**6
    assert parsed.instructions[3].fields["mint"] == str(USDC)
    assert judge(tx) == (Verdict.ALLOW, [])


def test_allowed_transfer_executes_in_litesvm_with_the_judged_lamports() -> None:
    from solders.litesvm import LiteSVM

    svm = LiteSVM()
    svm.airdrop(WALLET.pubkey(), 5 * 10**9)
    tx = signed(set_compute_unit_price(100), pay(1_500_000_000), blockhash=svm.latest_blockhash())
    assert judge(tx) == (Verdict.ALLOW, [])
    judged = SolanaTx.from_bytes(bytes(tx)).lamports_out
    before = svm.get_balance(FRIEND) or 0
    result = svm.send_transaction(tx)
    assert type(result).__name__ == "TransactionMetadata", result
    assert svm.get_balance(FRIEND) - before == judged == 1_500_000_000


@pytest.mark.parametrize(
    ("ixs", "expected"),
    [
        ([pay(3 * 10**9)], ["transaction.lamports"]),
        ([pay(10**9), pay(1_500_000_000)], ["transaction.lamports"]),  # summed per transaction
        ([pay(10**6, STRANGER)], ["transaction.destination_not_allowed"]),
        ([checked_transfer(1_001 * 10**6)], ["transaction.spl_amount"]),
        ([checked_transfer(10**6, dest=STRANGER)], ["transaction.destination_not_allowed"]),
        ([checked_transfer(10**6, decimals=9)], ["transaction.mint_decimals"]),
        ([spl(3, 10**6, [Pubkey.new_unique(), FRIEND_USDC, WALLET.pubkey()])],
         ["transaction.spl_unchecked_transfer"]),
        ([spl(13, 10**6, [Pubkey.new_unique(), USDC, STRANGER, WALLET.pubkey()], 6)],
         ["transaction.delegate_not_allowed"]),
        ([Instruction(TOKEN, bytes([6, 2, 0]), [AccountMeta(WALLET.pubkey(), True, True)])],
         ["transaction.set_authority"]),
        ([Instruction(STRANGER, b"\x01", [AccountMeta(WALLET.pubkey(), True, True)])],
         ["transaction.program_not_allowed"]),
        ([set_compute_unit_limit(1_400_000), set_compute_unit_price(100_000), pay(1)],
         ["transaction.priority_fee"]),
        ([set_compute_unit_price(1_000_000), pay(1)], ["transaction.priority_fee"]),  # default limit
        ([pay(1)] * 7, ["transaction.max_instructions"]),
    ],
)  # fmt: skip
def test_deny_rules(ixs: list[Instruction], expected: list[str]) -> None:
    assert judge(signed(*ixs)) == (Verdict.DENY, expected)


def test_allowed_approve_to_jupiter_and_compute_budget() -> None:
    approve = spl(13, 10**6, [Pubkey.new_unique(), USDC, JUPITER, WALLET.pubkey()], 6)
    assert judge(signed(set_compute_unit_limit(200_000), approve)) == (Verdict.ALLOW, [])


def test_malformed_payloads_are_denied() -> None:
    raw = bytes(signed(pay(10)))
    for bad in (raw[:40], b"\x00" * 10, "not base64!!"):
        payload = SolanaTx.from_bytes(bad)
        assert payload.problems()
        assert judge(payload) == (Verdict.DENY, ["system.malformed_action"])
    short = Instruction(TOKEN, bytes([12, 1, 2]), [AccountMeta(WALLET.pubkey(), True, True)])
    payload = SolanaTx.from_bytes(bytes(signed(short)))
    assert any("too short" in p for p in payload.problems())


def test_fee_payer_must_be_the_actions_wallet_and_rules_are_required() -> None:
    other = Keypair()
    block = Hash.default()
    send = transfer(TransferParams(from_pubkey=other.pubkey(), to_pubkey=FRIEND, lamports=1))
    tx = Transaction([other], Message.new_with_blockhash([send], other.pubkey(), block), block)
    assert judge(tx) == (Verdict.DENY, ["transaction.wallet_mismatch"])
    assert judge(signed(pay(1)), parse_policy({"version": "none"})) == (
        Verdict.DENY,
        ["transaction.solana_not_configured"],
    )


def test_spends_feed_rolling_caps() -> None:
    capped = parse_policy(
        {
            "version": "sol",
            "transaction": {
                "solana": RULES,
                "rolling_caps": [
                    {"id": "sol-day", "scope": "wallet", "unit": "SOL", "max": 3.0},
                    {"id": "usd-day", "scope": "wallet", "unit": "usd", "max": 500.0},
                ],
            },
        }
    )
    tx = SolanaTx.from_bytes(bytes(signed(pay(10**9), checked_transfer(100 * 10**6))))
    act = Action(kind="solana_tx", venue="", payload=tx, wallet=str(WALLET.pubkey()))
    prices = {"SOL": 150.0, "USDC": 1.0}
    usage = cap_usage(act, PolicyContext(prices_usd=prices), capped)
    assert usage == {
        ("sol-day", str(WALLET.pubkey())): 1.0,
        ("usd-day", str(WALLET.pubkey())): 250.0,
    }
    used = PolicyContext(prices_usd=prices, rolling_usage={("sol-day", str(WALLET.pubkey())): 2.5})
    assert [v.rule_id for v in evaluate(act, used, capped).violations] == [
        "transaction.rolling_cap"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"programs": [" 1111111111111111111111111111111\u200b"]}, "U\\+200B"),
        ({"destinations": ["0OIl" * 8]}, "base58"),
        ({"programs": []}, "programs"),
        ({"mints": [{"mint": str(USDC), "symbol": "USDC", "decimals": 6, "max_amount": -1}]},
         "max_amount"),
    ],
)  # fmt: skip
def test_bad_solana_config_fails_at_load(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        policy(**change)


def test_bundled_copy_trading_policy() -> None:
    p = load_policy(Path(__file__).parents[2] / "policies" / "solana_copy_trading.toml")
    assert p.transaction.solana is not None and str(JUPITER) in p.transaction.solana.programs


@settings(max_examples=150, deadline=None)
@given(
    lamports=st.integers(0, 2**40),
    amount=st.integers(0, 2**40),
    dest=st.sampled_from(["friend", "stranger"]),
)
def test_no_transfer_above_a_cap_or_to_a_foreign_destination_is_allowed(
    lamports: int, amount: int, dest: str
) -> None:
    """Build -> serialize -> parse -> rule: an ALLOW implies every cap and allowlist held."""
    to, token_to = (FRIEND, FRIEND_USDC) if dest == "friend" else (STRANGER, STRANGER)
    verdict, _ = judge(signed(pay(lamports, to), checked_transfer(amount, token_to)))
    ok = dest == "friend" and lamports <= 2 * 10**9 and amount <= 1_000 * 10**6
    assert (verdict is Verdict.ALLOW) == ok


def test_policy_explain_reads_a_solana_payload_from_json(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from drydock.cli import build_app

    root = Path(__file__).parents[2]
    raw = base64.b64encode(bytes(signed(pay(3 * 10**9)))).decode()
    action = {"kind": "solana_tx", "venue": "", "chain": "solana",
              "wallet": str(WALLET.pubkey()), "payload": raw}  # fmt: skip
    path = tmp_path / "action.json"
    path.write_text(json.dumps(action), encoding="utf-8")
    policy = str(root / "policies" / "solana_copy_trading.toml")
    result = CliRunner().invoke(build_app(), ["policy", "explain", policy, str(path), "--json"])
    assert result.exit_code == 1, result.output
    record = json.loads(result.output)
    assert record["verdict"] == "deny"
    assert [v["rule_id"] for v in record["violations"]] == ["transaction.lamports"]  # 3 SOL > 2
    path.write_text(json.dumps({**action, "payload": 5}), encoding="utf-8")
    bad = CliRunner().invoke(build_app(), ["policy", "explain", policy, str(path)])
    assert bad.exit_code != 0 and "payload" in str(bad.exception or bad.output)
