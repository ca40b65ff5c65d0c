"""Clients that speak to a Solana cluster: JSON-RPC over httpx (``getLatestBlockhash``,
``sendTransaction``, ``getSignatureStatuses``) and solders' in-process LiteSVM (tests and offline
demos), behind one protocol; plus the SPL ``TransferChecked`` instruction by its layout."""

from __future__ import annotations

import base64
import struct
from typing import Any, Protocol

import httpx
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

from drydock.errors import TransientVenueError, VenueError
from drydock.policy import TOKEN_PROGRAM


class BlockhashExpired(VenueError):
    """The transaction's blockhash is too old: it can never land; build it again."""


class SolanaClient(Protocol):
    def latest_blockhash(self) -> Hash: ...
    def send(self, raw: bytes) -> str: ...
    def status(self, signature: str) -> bool | None:
        """True confirmed, None unknown or pending; raises VenueError if it failed."""
        ...

    def token_amount(self, account: Pubkey) -> int:
        """The raw amount an SPL token account holds."""
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

    def token_amount(self, account: Pubkey) -> int:
        """The amount field of an SPL token account (bytes 64..72 of its documented layout)."""
        found = self.svm.get_account(account)
        if found is None:
            raise VenueError(f"solana token account {account} does not exist")
        return int(struct.unpack_from("<Q", bytes(found.data), 64)[0])


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

    def token_amount(self, account: Pubkey) -> int:
        result = self._rpc(
            "getTokenAccountBalance", [str(account), {"commitment": self.commitment}]
        )
        return int(result["value"]["amount"])


def transfer_checked(source: Pubkey, mint: Pubkey, dest: Pubkey, owner: Pubkey, amount: int,
                     decimals: int) -> Instruction:  # fmt: skip
    """SPL Token ``TransferChecked`` (tag 12, u64 amount, u8 decimals), by its documented layout."""
    data = struct.pack("<BQB", 12, amount, decimals)
    metas = [AccountMeta(source, False, True), AccountMeta(mint, False, False),
             AccountMeta(dest, False, True), AccountMeta(owner, True, False)]  # fmt: skip
    return Instruction(Pubkey.from_string(TOKEN_PROGRAM), data, metas)
