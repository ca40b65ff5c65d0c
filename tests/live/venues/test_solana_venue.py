"""The Solana venue in LiteSVM (solders' in-process VM, SPL Token program included) and its JSON-RPC
client over httpx: SOL and SPL transfers through the policy, denials never signed, one landing per
intent through crashes, an expired blockhash rebuilt, the kill switch honoured on resume."""

from __future__ import annotations

import base64
import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from solders.account import Account
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from drydock.adapters.solana import BlockhashExpired, LiteSvmClient, RpcClient
from drydock.policy import Policy, PolicyContext, parse_policy
from drydock.policy._solana_payload import TOKEN_PROGRAM
from live.venues.base import TransientVenueError, VenueError
from live.venues.evm import PolicyDenied
from live.venues.signed_store import SignedStore
from live.venues.solana import SolanaVenue

WALLET = Keypair.from_seed(bytes(range(32)))
FRIEND = Pubkey.from_string("9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM")
STRANGER = Pubkey.from_string("7UX2i7SucgLMQcfZ75s3VXmZZY4YRUyJN9X1RgfMoDUi")
MINT = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")  # USDC's mint address
SOURCE = Pubkey.from_string("4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU")
DEST = Pubkey.from_string("BQcdHdAQW1hczDbBi9hiegXAR7A98Q9jx3X3iBBBDiq4")
TOKEN = Pubkey.from_string(TOKEN_PROGRAM)


def policy() -> Policy:
    return parse_policy({"version": "sol-venue", "transaction": {"solana": {
        "programs": ["11111111111111111111111111111111", TOKEN_PROGRAM,
                     "ComputeBudget111111111111111111111111111111"],
        "max_lamports": 2_000_000_000,
        "mints": [{"mint": str(MINT), "symbol": "USDC", "decimals": 6, "max_amount": 1_000.0}],
        "destinations": [str(FRIEND), str(DEST)],
        "max_priority_fee_lamports": 10_000,
        "max_instructions": 4,
    }}})  # fmt: skip


def mint_data(decimals: int, supply: int) -> bytes:
    """An initialized SPL mint (82 bytes): no authorities, ``supply``, ``decimals``."""
    return struct.pack("<I32sQBBI32s", 0, bytes(32), supply, decimals, 1, 0, bytes(32))


def token_account_data(mint: Pubkey, owner: Pubkey, amount: int) -> bytes:
    """An initialized SPL token account (165 bytes) by the token program's documented layout."""
    return (bytes(mint) + bytes(owner) + struct.pack("<Q", amount) + bytes(36) + bytes([1])
            + bytes(12) + struct.pack("<Q", 0) + bytes(36))  # fmt: skip


def token_balance(svm: LiteSVM, account: Pubkey) -> int:
    return int(struct.unpack_from("<Q", bytes(svm.get_account(account).data), 64)[0])


@pytest.fixture
def svm() -> LiteSVM:
    svm = LiteSVM()
    svm.airdrop(WALLET.pubkey(), 5 * 10**9)
    rent = svm.minimum_balance_for_rent_exemption(165)
    svm.set_account(MINT, Account(rent, mint_data(6, 10**12), TOKEN, False, 0))
    svm.set_account(
        SOURCE,
        Account(rent, token_account_data(MINT, WALLET.pubkey(), 5_000 * 10**6), TOKEN, False, 0),
    )
    svm.set_account(DEST, Account(rent, token_account_data(MINT, FRIEND, 0), TOKEN, False, 0))
    return svm


def venue(client: Any, tmp_path: Path, **kw: Any) -> SolanaVenue:
    return SolanaVenue(client, WALLET, policy(), SignedStore(tmp_path / "signed.sqlite"),
                       sleep=lambda s: None, **kw)  # fmt: skip


def test_sol_transfer_lands_with_the_judged_lamports_and_a_compute_budget(
    svm: LiteSVM, tmp_path: Path
) -> None:
    v = venue(LiteSvmClient(svm), tmp_path)
    before = svm.get_balance(FRIEND) or 0
    signature = v.transfer_sol("k-sol", FRIEND, 1_500_000_000)
    assert svm.get_balance(FRIEND) - before == 1_500_000_000
    tx = Transaction.from_bytes(v.store.get("k-sol").raw)  # type: ignore[union-attr]
    assert str(tx.signatures[0]) == signature
    programs = [str(tx.message.account_keys[ix.program_id_index]) for ix in tx.message.instructions]
    assert programs[:2] == ["ComputeBudget111111111111111111111111111111"] * 2


def test_spl_transfer_checked_moves_the_tokens(svm: LiteSVM, tmp_path: Path) -> None:
    v = venue(LiteSvmClient(svm), tmp_path)
    v.transfer_spl("k-spl", SOURCE, MINT, DEST, 250 * 10**6, 6)
    assert token_balance(svm, DEST) == 250 * 10**6
    assert token_balance(svm, SOURCE) == 4_750 * 10**6


@pytest.mark.parametrize(
    ("send", "rule"),
    [
        (lambda v: v.transfer_sol("k", STRANGER, 10), "destination_not_allowed"),
        (lambda v: v.transfer_sol("k", FRIEND, 3 * 10**9), "transaction.lamports"),
        (lambda v: v.transfer_spl("k", SOURCE, MINT, DEST, 1_001 * 10**6, 6), "spl_amount"),
    ],
)
def test_denied_transfers_are_never_signed_or_sent(
    svm: LiteSVM, tmp_path: Path, send: Any, rule: str
) -> None:
    v = venue(LiteSvmClient(svm), tmp_path)
    with pytest.raises(PolicyDenied, match=rule):
        send(v)
    assert v.store.get("k") is None
    assert svm.get_balance(WALLET.pubkey()) == 5 * 10**9  # not even a fee paid


def test_a_duplicate_signal_lands_once(svm: LiteSVM, tmp_path: Path) -> None:
    v = venue(LiteSvmClient(svm), tmp_path)
    first = v.transfer_sol("k-dup", FRIEND, 10**9)
    again = venue(LiteSvmClient(svm), tmp_path).transfer_sol("k-dup", FRIEND, 10**9)
    assert again == first and svm.get_balance(FRIEND) == 10**9


class CrashOnSend(LiteSvmClient):
    def send(self, raw: bytes) -> str:
        raise KeyboardInterrupt("killed between storing and sending")


def test_crash_between_store_and_send_resends_the_same_bytes(svm: LiteSVM, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        venue(CrashOnSend(svm), tmp_path).transfer_sol("k-crash", FRIEND, 10**9)
    stored = SignedStore(tmp_path / "signed.sqlite").get("k-crash")
    assert stored is not None and svm.get_balance(FRIEND) is None
    signature = venue(LiteSvmClient(svm), tmp_path).transfer_sol("k-crash", FRIEND, 10**9)
    assert signature == stored.tx_hash and svm.get_balance(FRIEND) == 10**9


def test_an_expired_blockhash_is_voided_and_rebuilt(svm: LiteSVM, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        venue(CrashOnSend(svm), tmp_path).transfer_sol("k-old", FRIEND, 10**9)
    old = SignedStore(tmp_path / "signed.sqlite").get("k-old")
    svm.expire_blockhash()
    v = venue(LiteSvmClient(svm), tmp_path)
    signature = v.transfer_sol("k-old", FRIEND, 10**9)
    assert old is not None and signature != old.tx_hash
    assert v.store.voided("k-old") == "blockhash expired before it landed"
    assert v.store.get("k-old~1").tx_hash == signature  # type: ignore[union-attr]
    assert svm.get_balance(FRIEND) == 10**9  # exactly once


def test_kill_switch_flipped_during_a_crash_stops_the_resend(svm: LiteSVM, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        venue(CrashOnSend(svm), tmp_path).transfer_sol("k-kill", FRIEND, 10**9)
    killed = venue(LiteSvmClient(svm), tmp_path, context=lambda: PolicyContext(
        now=datetime.now(UTC), kill_file_present=True))  # fmt: skip
    with pytest.raises(PolicyDenied, match="kill"):
        killed.transfer_sol("k-kill", FRIEND, 10**9)
    assert svm.get_balance(FRIEND) is None and killed.store.voided("k-kill") == "denied on recheck"


# -- the JSON-RPC client, over httpx with answers in the documented JSON-RPC shapes -------------
BLOCKHASH = "EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N"


def rpc(handler: Any) -> RpcClient:
    return RpcClient("https://rpc.example", httpx.Client(transport=httpx.MockTransport(handler)))


def test_rpc_client_sends_base64_and_reads_statuses() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        result: Any = {
            "getLatestBlockhash": {"context": {"slot": 2792}, "value": {
                "blockhash": BLOCKHASH, "lastValidBlockHeight": 3090}},
            "sendTransaction": "sig-placeholder",
            "getSignatureStatuses": {"context": {"slot": 82}, "value": [{
                "slot": 72, "confirmations": 10, "err": None, "status": {"Ok": None},
                "confirmationStatus": "confirmed"}]},
        }[body["method"]]  # fmt: skip
        return httpx.Response(200, json={"jsonrpc": "2.0", "result": result, "id": body["id"]})

    client = rpc(handler)
    tmp = Path(__import__("tempfile").mkdtemp())
    v = SolanaVenue(client, WALLET, policy(), SignedStore(tmp / "s.sqlite"), sleep=lambda s: None)
    signature = v.transfer_sol("k-rpc", FRIEND, 10**6)
    assert [b["method"] for b in seen] == ["getLatestBlockhash", "sendTransaction",
                                          "getSignatureStatuses"]  # fmt: skip
    sent = Transaction.from_bytes(base64.b64decode(seen[1]["params"][0]))
    assert str(sent.signatures[0]) == signature and str(sent.message.recent_blockhash) == BLOCKHASH
    assert seen[1]["params"][1]["encoding"] == "base64"


def test_rpc_errors_map_to_venue_errors() -> None:
    def answer(status: int, payload: dict[str, Any]) -> RpcClient:
        return rpc(lambda r: httpx.Response(status, json=payload))

    with pytest.raises(TransientVenueError, match="429"):
        answer(429, {}).latest_blockhash()
    expired = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32002, "message":
               "Transaction simulation failed: Blockhash not found"}}  # fmt: skip
    with pytest.raises(BlockhashExpired):
        answer(200, expired).send(bytes(Transaction.default()))
    failed = {"jsonrpc": "2.0", "id": 1, "result": {"context": {"slot": 1}, "value": [
        {"slot": 1, "confirmations": None, "err": {"InstructionError": [0, "Custom"]},
         "confirmationStatus": "finalized"}]}}  # fmt: skip
    with pytest.raises(VenueError, match="InstructionError"):
        answer(200, failed).status("sig")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(TransientVenueError, match="ConnectTimeout"):
        rpc(down).latest_blockhash()
