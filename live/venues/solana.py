"""A Solana venue: SOL and SPL transfers judged by the policy engine, signed with solders, sent once.

Each transaction carries a compute budget (unit limit and price) and a recent blockhash, is judged
as a ``solana_tx`` action (a deny is journaled and nothing is signed), then stored signed
(:mod:`live.venues.signed_store`) before it is sent and its confirmation awaited. A signed
transaction has one signature: resending the stored bytes after a crash can land it at most once.
If its blockhash expired before it landed it never can, so it is voided and the intent is built
again with a fresh blockhash (attempt keys ``<key>~1``, ``<key>~2``). A stored, unconfirmed
transaction is judged again before it is resent (the kill switch may have been flipped meanwhile).

The chain clients (:class:`drydock.adapters.solana.RpcClient` over JSON-RPC and
:class:`drydock.adapters.solana.LiteSvmClient`, solders' in-process VM) live in the Solana adapter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from drydock.adapters.solana import BlockhashExpired, SolanaClient, transfer_checked
from drydock.policy import Policy, PolicyContext, SolanaTx, evaluate
from drydock.polling import check_poll_config, poll_until
from drydock.types import Action
from live.faults import checkpoint
from live.journal import JournalRepository
from live.venues.base import TransientVenueError
from live.venues.evm import PolicyDenied
from live.venues.signed_store import SignedStore


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
        check_poll_config(poll_interval, timeout)
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

    def current_attempt(self, key: str) -> str:
        """The idempotency key under which ``key``'s transaction is (or will be) stored."""
        return self._attempt(key)

    def send(
        self,
        key: str,
        instructions: Sequence[Instruction] | Callable[[], Sequence[Instruction]],
        cosigners: Sequence[Keypair] = (),
    ) -> str:
        """Judge, sign, store, send and confirm once per ``key``; returns the signature.
        ``instructions`` may be a function, called only when a new attempt is built (a quote
        read then, not when the stored bytes are resent); ``cosigners`` sign beside the wallet
        (a settlement counterparty's authority)."""
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
        built = instructions() if callable(instructions) else instructions
        blockhash = self.client.latest_blockhash()
        message = Message.new_with_blockhash([*self.budget, *built],
                                             self.keypair.pubkey(), blockhash)  # fmt: skip
        tx = Transaction([self.keypair, *cosigners], message, blockhash)
        raw = bytes(tx)
        self._judge(attempt, raw)
        signature = str(tx.signatures[0])
        self.store.record_unnonced(attempt, "solana", self.address, raw, signature)
        checkpoint("signed")  # a crash here leaves signed bytes that were never sent
        self.client.send(raw)
        return self._wait(signature)

    def _wait(self, signature: str) -> str:
        confirmed = poll_until(lambda: self.client.status(signature) or None,
                               interval=self.poll_interval, timeout=self.timeout, sleep=self._sleep)  # fmt: skip
        if confirmed is None:
            raise TransientVenueError(
                f"solana transaction {signature} not confirmed after {self.timeout:.0f} s; "
                "it is checked again on the next attempt"
            )
        return signature

    def transfer_sol(self, key: str, to: Pubkey, lamports: int) -> str:
        params = TransferParams(from_pubkey=self.keypair.pubkey(), to_pubkey=to, lamports=lamports)
        return self.send(key, [transfer(params)])

    def transfer_spl(self, key: str, source: Pubkey, mint: Pubkey, dest: Pubkey, amount: int,
                     decimals: int) -> str:  # fmt: skip
        ix = transfer_checked(source, mint, dest, self.keypair.pubkey(), amount, decimals)
        return self.send(key, [ix])
