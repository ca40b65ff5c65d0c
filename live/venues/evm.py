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
last. The private key comes from the environment only (:func:`account_from_env`) and is never
logged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound

from drydock.errors import ConfigError
from drydock.logs import get_logger
from drydock.policy import Policy, PolicyContext, evaluate
from drydock.policy.evm_payload import EvmTx
from drydock.types import Action, PolicyDecision
from live.journal import JournalRepository
from live.venues.base import TransientVenueError, VenueError
from live.venues.signed_store import SignedStore

log = get_logger(__name__)

KEY_ENV = "DRYDOCK_EVM_PRIVATE_KEY"


class PolicyDenied(VenueError):
    """The policy engine denied the transaction; it was not signed."""

    def __init__(self, key: str, decision: PolicyDecision):
        self.decision = decision
        rules = ", ".join(v.rule_id for v in decision.violations)
        super().__init__(f"transaction {key} denied by policy ({rules}); not signed")


def account_from_env(env: Mapping[str, str] | None = None) -> LocalAccount:
    """The signing account from ``DRYDOCK_EVM_PRIVATE_KEY`` (hex); a clear error if unset."""
    value = (env if env is not None else os.environ).get(KEY_ENV, "").strip()
    if not value:
        raise ConfigError(
            f"{KEY_ENV} is not set: export the wallet's private key (hex) in the environment "
            "of the live runner; it is never read from files or config."
        )
    try:
        account: LocalAccount = Account.from_key(value)
    except Exception:  # the message of a parse error could echo the key: keep it out
        raise ConfigError(f"{KEY_ENV} is not a valid 32-byte hex private key.") from None
    return account


@dataclass(frozen=True, slots=True)
class Receipt:
    """A mined transaction: its hash, block, status (1 ok, 0 reverted) and gas used."""

    tx_hash: str
    block: int
    status: int
    gas_used: int


class EvmVenue:
    """One wallet on one EVM chain."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
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
        self.chain, self.chain_id = chain, int(w3.eth.chain_id)
        self.context = context or (lambda: PolicyContext(now=datetime.now(UTC)))
        self.journal, self.run_id = journal, run_id
        self.confirmations, self.priority_fee_wei = confirmations, priority_fee_wei
        self.poll_interval, self.timeout, self._sleep = poll_interval, timeout, sleep
        self.address = account.address

    # -- building ----------------------------------------------------------------------------
    def fees(self) -> dict[str, int]:
        """EIP-1559 fee fields from the latest block."""
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        tip = (
            self.priority_fee_wei
            if self.priority_fee_wei is not None
            else int(self.w3.eth.max_priority_fee)
        )
        return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base + tip}

    def build(self, call: Any, gas: int = 300_000, value: int = 0) -> dict[str, Any]:
        """A contract call (``contract.functions.f(...)``) as a transaction dict, without nonce."""
        tx: dict[str, Any] = call.build_transaction(
            {
                "from": self.address,
                "chainId": self.chain_id,
                "gas": gas,
                "value": value,
                "nonce": 0,
                **self.fees(),
            }
        )
        tx.pop("nonce")
        return tx

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
            pending = self.w3.eth.get_transaction_count(self.address, "pending")
            with self.store.reserve(self.chain, self.address, pending) as slot:
                signed = self.account.sign_transaction({**tx, "nonce": slot.nonce})
                slot.record(key, bytes(signed.raw_transaction), signed.hash.to_0x_hex())
            stored = self.store.get(key)
            assert stored is not None
            log.info("evm.signed", key=key, nonce=slot.nonce, tx_hash=stored.tx_hash)
        elif (receipt := self._receipt(stored.tx_hash)) is not None:
            return self._confirmed(receipt)
        else:  # signed before a crash and not on chain: does it still hold?
            decoded = _decode(stored.raw)
            decision = self._judge(key, {**decoded, "from": self.address}, ":recheck")
            if not decision.allowed:
                self.store.void(key, "denied on recheck: " + ", ".join(
                    v.rule_id for v in decision.violations))  # fmt: skip
                raise PolicyDenied(key, decision)
        self._broadcast(stored.raw, stored.tx_hash)
        return self._wait(stored.tx_hash)

    def _broadcast(self, raw: bytes, tx_hash: str) -> None:
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as exc:  # "already known" / "nonce too low" after a crash: check hash
            if self._receipt(tx_hash) is not None or "known" in str(exc).lower():
                return
            raise TransientVenueError(f"{self.chain} broadcast of {tx_hash} failed: {exc}") from exc

    def _receipt(self, tx_hash: str) -> Any:
        try:
            return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def _wait(self, tx_hash: str) -> Receipt:
        waited = 0.0
        while True:
            receipt = self._receipt(tx_hash)
            if receipt is not None:
                depth = self.w3.eth.block_number - receipt["blockNumber"] + 1
                if depth >= self.confirmations:
                    return self._confirmed(receipt)
            if waited >= self.timeout:
                raise TransientVenueError(
                    f"{self.chain} transaction {tx_hash} not confirmed to {self.confirmations} "
                    f"blocks after {self.timeout:.0f} s; it is checked again on the next attempt"
                )
            self._sleep(self.poll_interval)
            waited += self.poll_interval

    def _confirmed(self, receipt: Any) -> Receipt:
        result = Receipt(receipt["transactionHash"].to_0x_hex(), int(receipt["blockNumber"]),
                         int(receipt["status"]), int(receipt["gasUsed"]))  # fmt: skip
        if result.status != 1:
            raise VenueError(f"{self.chain} transaction {result.tx_hash} reverted in block "
                             f"{result.block}")  # fmt: skip
        return result

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


def _decode(raw: bytes) -> dict[str, Any]:
    """The fields of a signed EIP-1559 transaction, in web3's dict form (for a recheck)."""
    from eth_account.typed_transactions.typed_transaction import TypedTransaction

    fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    to = fields.get("to")
    return {
        "chainId": fields["chainId"], "to": Web3.to_checksum_address(to) if to else "",
        "value": fields["value"], "data": HexBytes(fields["data"]).to_0x_hex(),
        "gas": fields["gas"], "maxFeePerGas": fields["maxFeePerGas"],
        "maxPriorityFeePerGas": fields["maxPriorityFeePerGas"],
    }  # fmt: skip
