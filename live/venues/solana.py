"""A Solana venue: SOL and SPL transfers judged by the policy engine, signed with solders, sent once.

Each transaction carries a compute budget (unit limit and price) and a recent blockhash, is judged
as a ``solana_tx`` action (a deny is journaled and nothing is signed), then stored signed
(:mod:`live.venues.signed_store`) before it is sent and its confirmation awaited. A signed
transaction has one signature: resending the stored bytes after a crash can land it at most once.
If its blockhash expired before it landed it never can, so it is voided and the intent is built
again with a fresh blockhash (attempt keys ``<key>~1``, ``<key>~2``). A stored, unconfirmed
transaction is judged again before it is resent (the kill switch may have been flipped meanwhile).

Two clients speak to a chain: :class:`RpcClient` (JSON-RPC over httpx: ``getLatestBlockhash``,
``sendTransaction``, ``getSignatureStatuses``) and :class:`LiteSvmClient` (solders' in-process
VM, for tests and offline demos).
"""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from drydock.policy import Policy, PolicyContext, evaluate
from drydock.policy.solana_payload import TOKEN_PROGRAM, SolanaTx
from drydock.types import Action
from live.journal import JournalRepository
from live.venues.base import TransientVenueError, VenueError
from live.venues.evm import PolicyDenied
from live.venues.signed_store import SignedStore


class BlockhashExpired(VenueError):
    """The transaction's blockhash is too old: it can never land; build it again."""


class SolanaClient(Protocol):
    def latest_blockhash(self) -> Hash: ...
    def send(self, raw: bytes) -> str: ...
    def status(self, signature: str) -> bool | None:
        """True confirmed, None unknown or pending; raises VenueError if it failed."""
        ...


class LiteSvmClient:
    """solders' in-process Solana VM behind the client protocol."""

    def __init__(self, svm: Any):
        self.svm = svm

    def latest_blockhash(self) -> Hash:
        blockhash: Hash = self.svm.latest_blockhash()
        return blockhash

    def send(self, raw: bytes) -> str:
        tx = Transaction.from_bytes(raw)
        result = self.svm.send_transaction(tx)
        if type(result).__name__ == "FailedTransactionMetadata":
            err = str(result.err())
            if "BlockhashNotFound" in err:
                raise BlockhashExpired(f"solana transaction {tx.signatures[0]}: {err}")
            if "AlreadyProcessed" not in err:
                raise VenueError(f"solana transaction {tx.signatures[0]} failed: {err}")
        return str(tx.signatures[0])

    def status(self, signature: str) -> bool | None:
        found = self.svm.get_transaction(Signature.from_string(signature))
        if found is None:
            return None
        if type(found).__name__ == "FailedTransactionMetadata":
            raise VenueError(f"solana transaction {signature} failed: {found.err()}")
        return True


class RpcClient:
    """Solana JSON-RPC over httpx (``commitment`` ``confirmed`` unless given)."""

    def __init__(self, url: str, client: httpx.Client | None = None, commitment: str = "confirmed"):
        self.url, self.commitment = url, commitment
        self.client = client or httpx.Client(timeout=httpx.Timeout(10.0))
        self._id = 0

    def _rpc(self, method: str, params: list[Any]) -> Any:
        self._id += 1
        try:
            response = self.client.post(
                self.url,
                json={"jsonrpc": "2.0", "id": self._id, "method": method, "params": params},
            )
        except httpx.TransportError as exc:
            raise TransientVenueError(f"solana rpc {method}: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientVenueError(f"solana rpc {method}: HTTP {response.status_code}")
        body = response.json()
        if "error" in body:
            message = str(body["error"].get("message", body["error"]))
            if "blockhash not found" in message.lower():
                raise BlockhashExpired(f"solana rpc {method}: {message}")
            if "already been processed" in message.lower():
                return None
            raise VenueError(f"solana rpc {method}: {message}")
        return body["result"]

    def latest_blockhash(self) -> Hash:
        result = self._rpc("getLatestBlockhash", [{"commitment": self.commitment}])
        return Hash.from_string(result["value"]["blockhash"])

    def send(self, raw: bytes) -> str:
        encoded = base64.b64encode(raw).decode()
        self._rpc("sendTransaction", [encoded, {"encoding": "base64",
                                                "preflightCommitment": self.commitment}])  # fmt: skip
        return str(Transaction.from_bytes(raw).signatures[0])

    def status(self, signature: str) -> bool | None:
        result = self._rpc(
            "getSignatureStatuses", [[signature], {"searchTransactionHistory": True}]
        )
        value = result["value"][0]
        if value is None:
            return None
        if value.get("err") is not None:
            raise VenueError(f"solana transaction {signature} failed: {value['err']}")
        return value.get("confirmationStatus") in ("confirmed", "finalized")


def transfer_checked(source: Pubkey, mint: Pubkey, dest: Pubkey, owner: Pubkey, amount: int,
                     decimals: int) -> Instruction:  # fmt: skip
    """SPL Token ``TransferChecked`` (tag 12, u64 amount, u8 decimals), by its documented layout."""
    data = struct.pack("<BQB", 12, amount, decimals)
    metas = [AccountMeta(source, False, True), AccountMeta(mint, False, False),
             AccountMeta(dest, False, True), AccountMeta(owner, True, False)]  # fmt: skip
    return Instruction(Pubkey.from_string(TOKEN_PROGRAM), data, metas)


class SolanaVenue:
    """One keypair on one Solana cluster."""

    def __init__(
        self,
        client: SolanaClient,
        keypair: Keypair,
        policy: Policy,
        store: SignedStore,
        *,
        context: Callable[[], PolicyContext] | None = None,
        journal: JournalRepository | None = None,
        run_id: str = "",
        compute_unit_limit: int = 200_000,
        compute_unit_price: int = 1_000,  # micro-lamports per unit
        poll_interval: float = 0.5,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client, self.keypair, self.policy, self.store = client, keypair, policy, store
        self.context = context or (lambda: PolicyContext(now=datetime.now(UTC)))
        self.journal, self.run_id = journal, run_id
        self.budget = [set_compute_unit_limit(compute_unit_limit),
                       set_compute_unit_price(compute_unit_price)]  # fmt: skip
        self.poll_interval, self.timeout, self._sleep = poll_interval, timeout, sleep
        self.address = str(keypair.pubkey())

    def _judge(self, key: str, raw: bytes) -> None:
        action = Action(kind="solana_tx", venue="solana", chain="solana",
                        payload=SolanaTx.from_bytes(raw), wallet=self.address,
                        strategy_id=self.run_id or "solana")  # fmt: skip
        ctx = self.context()
        decision = evaluate(action, ctx, self.policy)
        if self.journal is not None:
            self.journal.record_decision(self.run_id, key, ctx.now or datetime.now(UTC), action,
                                         decision, self.policy.version)  # fmt: skip
        if not decision.allowed:
            raise PolicyDenied(key, decision)

    def _attempt(self, key: str) -> str:
        """The key of the intent's current attempt (past voided ones)."""
        n, attempt = 0, key
        while self.store.voided(attempt) is not None:
            n += 1
            attempt = f"{key}~{n}"
        return attempt

    def send(self, key: str, instructions: Sequence[Instruction]) -> str:
        """Judge, sign, store, send and confirm once per ``key``; returns the signature."""
        attempt = self._attempt(key)
        stored = self.store.get(attempt)
        if stored is not None:
            if self.client.status(stored.tx_hash):
                return stored.tx_hash
            try:
                self._judge(f"{attempt}:recheck", stored.raw)
            except PolicyDenied:
                self.store.void(attempt, "denied on recheck")
                raise
            try:
                self.client.send(stored.raw)
                return self._wait(stored.tx_hash)
            except BlockhashExpired:
                self.store.void(attempt, "blockhash expired before it landed")
                attempt = self._attempt(key)
        blockhash = self.client.latest_blockhash()
        message = Message.new_with_blockhash([*self.budget, *instructions],
                                             self.keypair.pubkey(), blockhash)  # fmt: skip
        tx = Transaction([self.keypair], message, blockhash)
        raw = bytes(tx)
        self._judge(attempt, raw)
        signature = str(tx.signatures[0])
        self.store.record_unnonced(attempt, "solana", self.address, raw, signature)
        self.client.send(raw)
        return self._wait(signature)

    def _wait(self, signature: str) -> str:
        waited = 0.0
        while not self.client.status(signature):
            if waited >= self.timeout:
                raise TransientVenueError(
                    f"solana transaction {signature} not confirmed after {self.timeout:.0f} s; "
                    "it is checked again on the next attempt"
                )
            self._sleep(self.poll_interval)
            waited += self.poll_interval
        return signature

    def transfer_sol(self, key: str, to: Pubkey, lamports: int) -> str:
        params = TransferParams(from_pubkey=self.keypair.pubkey(), to_pubkey=to, lamports=lamports)
        return self.send(key, [transfer(params)])

    def transfer_spl(self, key: str, source: Pubkey, mint: Pubkey, dest: Pubkey, amount: int,
                     decimals: int) -> str:  # fmt: skip
        ix = transfer_checked(source, mint, dest, self.keypair.pubkey(), amount, decimals)
        return self.send(key, [ix])
