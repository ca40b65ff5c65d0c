"""The EVM execution client: web3 reads and writes a venue needs, with nothing of policy or
journaling (those stay in :mod:`live.venues.evm`).

Fees are EIP-1559: max priority fee from the node (or a fixed one), max fee = 2 x the latest
base fee + the priority fee. The signing key comes from the environment only
(:func:`account_from_env`) and never reaches a log or an error message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.exceptions import TransactionNotFound

from drydock.errors import ConfigError, TransientVenueError, VenueError

KEY_ENV = "DRYDOCK_EVM_PRIVATE_KEY"

#: A local signing account (eth-account), as :func:`account_from_env` returns it.
Signer = LocalAccount


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


def web3_from_url(url: str) -> Any:
    """A web3 client over HTTP JSON-RPC (``eth_getLogs``, blocks, receipts)."""
    return Web3(HTTPProvider(url))


@dataclass(frozen=True, slots=True)
class Receipt:
    """A mined transaction: its hash, block, status (1 ok, 0 reverted) and gas used."""

    tx_hash: str
    block: int
    status: int
    gas_used: int


class EvmClient:
    """One chain behind web3: fees, transaction building, nonces, broadcast and receipts."""

    def __init__(self, w3: Web3, chain: str = "ethereum", priority_fee_wei: int | None = None):
        self.w3, self.chain, self.priority_fee_wei = w3, chain, priority_fee_wei
        self.chain_id = int(w3.eth.chain_id)

    def fees(self) -> dict[str, int]:
        """EIP-1559 fee fields from the latest block."""
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        tip = (
            self.priority_fee_wei
            if self.priority_fee_wei is not None
            else int(self.w3.eth.max_priority_fee)
        )
        return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base + tip}

    def build(self, call: Any, sender: str, gas: int = 300_000, value: int = 0) -> dict[str, Any]:
        """A contract call (``contract.functions.f(...)``) as a transaction dict, without nonce."""
        tx: dict[str, Any] = call.build_transaction(
            {
                "from": sender,
                "chainId": self.chain_id,
                "gas": gas,
                "value": value,
                "nonce": 0,
                **self.fees(),
            }
        )
        tx.pop("nonce")
        return tx

    def pending_nonce(self, address: str) -> int:
        """The next nonce of ``address`` counting its pending transactions."""
        return int(self.w3.eth.get_transaction_count(address, "pending"))  # type: ignore[arg-type]

    def broadcast(self, raw: bytes, tx_hash: str) -> None:
        """Send signed bytes; "already known" after a crash counts as sent."""
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as exc:  # "already known" / "nonce too low" after a crash: check hash
            if self.receipt(tx_hash) is not None or "known" in str(exc).lower():
                return
            raise TransientVenueError(f"{self.chain} broadcast of {tx_hash} failed: {exc}") from exc

    def receipt(self, tx_hash: str) -> Any:
        """The receipt of ``tx_hash``, or None while it is not mined."""
        try:
            return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def depth(self, receipt: Any) -> int:
        """Blocks on top of (and including) the receipt's block."""
        return int(self.w3.eth.block_number) - int(receipt["blockNumber"]) + 1

    def confirmed(self, receipt: Any) -> Receipt:
        """The receipt as a :class:`Receipt`; a reverted transaction is a :class:`VenueError`."""
        result = Receipt(receipt["transactionHash"].to_0x_hex(), int(receipt["blockNumber"]),
                         int(receipt["status"]), int(receipt["gasUsed"]))  # fmt: skip
        if result.status != 1:
            raise VenueError(f"{self.chain} transaction {result.tx_hash} reverted in block "
                             f"{result.block}")  # fmt: skip
        return result


def decode_signed(raw: bytes) -> dict[str, Any]:
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
