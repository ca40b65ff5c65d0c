"""An EVM venue: transactions judged by the policy engine, signed locally, sent once, confirmed.

Every transaction is built first without a nonce and judged as an ``evm_tx`` action; a deny is
journaled and the transaction is never signed. An allowed one takes the wallet's next nonce and
is signed and stored in one commit (:mod:`live.venues.signed_store`), then broadcast, and its
receipt awaited to ``confirmations`` blocks. Fees are EIP-1559: max priority fee from the node
(or ``priority_fee_wei``), max fee = 2 x the latest base fee + the priority fee.

After a crash the same idempotency key finds the stored bytes: if the chain has a receipt for
their hash, it is returned; if not, the stored transaction is judged again under what holds now
(kill switch, pause, breakers) and, if still allowed, the same bytes are broadcast (a chain runs
one hash once); if denied now, it is voided and its nonce handed back when it is the wallet's
last. The web3 side (fees, building, nonces, broadcast, receipts, the key from the environment)
is :class:`drydock.adapters.evm.EvmClient`; this module adds policy, the signed store and journaling.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from drydock.adapters.evm import (
    KEY_ENV,
    EvmClient,
    Receipt,
    Signer,
    account_from_env,
    decode_signed,
)
from drydock.errors import TransientVenueError, VenueError
from drydock.logs import get_logger
from drydock.policy import EvmTx, Policy, PolicyContext, evaluate
from drydock.polling import check_poll_config, poll_until
from drydock.types import Action, PolicyDecision
from live.faults import checkpoint
from live.journal import JournalRepository
from live.venues.signed_store import SignedStore

__all__ = ["KEY_ENV", "EvmVenue", "PolicyDenied", "Receipt", "account_from_env"]

log = get_logger(__name__)


class PolicyDenied(VenueError):
    """The policy engine denied the transaction; it was not signed."""

    def __init__(self, key: str, decision: PolicyDecision):
        self.decision = decision
        rules = ", ".join(v.rule_id for v in decision.violations)
        super().__init__(f"transaction {key} denied by policy ({rules}); not signed")


class EvmVenue:
    """One wallet on one EVM chain."""

    def __init__(
        self,
        w3: Any,
        account: Signer,
        policy: Policy,
        store: SignedStore,
        *,
        chain: str = "ethereum",
        context: Callable[[], PolicyContext] | None = None,
        journal: JournalRepository | None = None,
        run_id: str = "",
        confirmations: int = 1,
        priority_fee_wei: int | None = None,
        poll_interval: float = 1.0,
        timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.w3, self.account, self.policy, self.store = w3, account, policy, store
        self.client = EvmClient(w3, chain, priority_fee_wei)
        self.chain, self.chain_id = chain, self.client.chain_id
        self.context = context or (lambda: PolicyContext(now=datetime.now(UTC)))
        self.journal, self.run_id = journal, run_id
        self.confirmations, self.priority_fee_wei = confirmations, priority_fee_wei
        check_poll_config(poll_interval, timeout)
        self.poll_interval, self.timeout, self._sleep = poll_interval, timeout, sleep
        self.address = account.address

    # -- building ----------------------------------------------------------------------------
    def fees(self) -> dict[str, int]:
        """EIP-1559 fee fields from the latest block."""
        return self.client.fees()

    def build(self, call: Any, gas: int = 300_000, value: int = 0) -> dict[str, Any]:
        """A contract call (``contract.functions.f(...)``) as a transaction dict, without nonce."""
        return self.client.build(call, self.address, gas, value)

    # -- judging and sending -----------------------------------------------------------------
    def _judge(self, key: str, tx: Mapping[str, Any], suffix: str = "") -> PolicyDecision:
        action = Action(
            kind="evm_tx", venue=self.chain, chain=self.chain, payload=EvmTx.from_web3(tx),
            wallet=self.address, strategy_id=self.run_id or "evm",
        )  # fmt: skip
        ctx = self.context()
        decision = evaluate(action, ctx, self.policy)
        if self.journal is not None:
            self.journal.record_decision(
                self.run_id,
                key + suffix,
                ctx.now or datetime.now(UTC),
                action,
                decision,
                self.policy.version,
            )
        return decision

    def send(self, key: str, tx: Mapping[str, Any]) -> Receipt:
        """Judge, sign, store, broadcast and confirm ``tx`` once per idempotency ``key``."""
        if (why := self.store.voided(key)) is not None:
            raise VenueError(f"transaction {key} was voided ({why}); build a new one")
        stored = self.store.get(key)
        if stored is None:
            decision = self._judge(key, tx)
            if not decision.allowed:
                raise PolicyDenied(key, decision)
            pending = self.client.pending_nonce(self.address)
            with self.store.reserve(self.chain, self.address, pending) as slot:
                signed = self.account.sign_transaction({**tx, "nonce": slot.nonce})
                slot.record(key, bytes(signed.raw_transaction), signed.hash.to_0x_hex())
            stored = self.store.get(key)
            assert stored is not None
            log.info("evm.signed", key=key, nonce=slot.nonce, tx_hash=stored.tx_hash)
            checkpoint("signed")  # a crash here leaves signed bytes that were never broadcast
        elif (receipt := self.client.receipt(stored.tx_hash)) is not None:
            return self.client.confirmed(receipt)
        else:  # signed before a crash and not on chain: does it still hold?
            decoded = decode_signed(stored.raw)
            decision = self._judge(key, {**decoded, "from": self.address}, ":recheck")
            if not decision.allowed:
                self.store.void(key, "denied on recheck: " + ", ".join(
                    v.rule_id for v in decision.violations))  # fmt: skip
                raise PolicyDenied(key, decision)
        self.client.broadcast(stored.raw, stored.tx_hash)
        return self._wait(stored.tx_hash)

    def _wait(self, tx_hash: str) -> Receipt:
        def deep_enough() -> Any:
            receipt = self.client.receipt(tx_hash)
            return receipt if receipt is not None and self.client.depth(
                receipt) >= self.confirmations else None  # fmt: skip

        receipt = poll_until(deep_enough, interval=self.poll_interval, timeout=self.timeout,
                             sleep=self._sleep)  # fmt: skip
        if receipt is None:
            raise TransientVenueError(
                f"{self.chain} transaction {tx_hash} not confirmed to {self.confirmations} "
                f"blocks after {self.timeout:.0f} s; it is checked again on the next attempt"
            )
        return self.client.confirmed(receipt)

    # -- conveniences ------------------------------------------------------------------------
    def approve(self, key: str, token: Any, spender: str, amount: int) -> Receipt:
        return self.send(key, self.build(token.functions.approve(spender, amount), gas=100_000))

    def transfer(self, key: str, token: Any, to: str, amount: int) -> Receipt:
        return self.send(key, self.build(token.functions.transfer(to, amount), gas=100_000))

    def swap_exact_tokens(self, key: str, router: Any, amount_in: int, min_out: int,
                          path: list[str], deadline: int) -> Receipt:  # fmt: skip
        call = router.functions.swapExactTokensForTokens(
            amount_in, min_out, path, self.address, deadline
        )
        return self.send(key, self.build(call, gas=300_000))
