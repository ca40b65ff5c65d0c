"""Solana payloads for the policy engine: a transaction decoded once, with solders.

:class:`SolanaTx` resolves every instruction's program id and accounts from the message's
account keys and decodes the instructions the rules understand: System Program ``Transfer`` and
``CreateAccount`` (lamports), SPL Token / Token-2022 ``Transfer``, ``TransferChecked``,
``Approve``, ``ApproveChecked``, ``SetAuthority``, ``CloseAccount``, and Compute Budget
``SetComputeUnitLimit`` / ``SetComputeUnitPrice`` (the priority fee). Bytes that do not parse, an
account index outside the keys, instruction data too short for its type, or a v0 message with
address-table lookups (their accounts cannot be resolved offline, so a rule could be fooled) are
problems: the action is malformed and denied.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass, field
from typing import Any

SYSTEM_PROGRAM = "11111111111111111111111111111111"
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
COMPUTE_BUDGET_PROGRAM = "ComputeBudget111111111111111111111111111111"
TOKEN_PROGRAMS = frozenset({TOKEN_PROGRAM, TOKEN_2022_PROGRAM})
#: Compute units a transaction gets when it sets no limit (per non-budget instruction).
DEFAULT_UNITS_PER_INSTRUCTION = 200_000


@dataclass(frozen=True, slots=True)
class SolanaInstruction:
    """One instruction: program id, account keys (base58) and, when decoded, its name and
    fields (``lamports``, ``amount``, ``decimals``, ``source``, ``destination``, ``mint``,
    ``owner``, ``delegate``, ``units``, ``micro_lamports``)."""

    program: str
    accounts: tuple[str, ...]
    data: bytes
    name: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


def _u64(data: bytes, at: int) -> int:
    return int(struct.unpack_from("<Q", data, at)[0])


def _decode(ix: SolanaInstruction, problems: list[str]) -> SolanaInstruction:
    """``ix`` with its name and fields when the rules know its program and type."""
    data, acc = ix.data, ix.accounts
    try:
        if ix.program == SYSTEM_PROGRAM and len(data) >= 4:
            kind = struct.unpack_from("<I", data, 0)[0]
            if kind == 2:  # Transfer { lamports: u64 }; accounts [from, to]
                fields = {"lamports": _u64(data, 4), "source": acc[0], "destination": acc[1]}
                return _named(ix, "system_transfer", fields)
            if kind == 0:  # CreateAccount { lamports, space, owner }; accounts [from, new]
                fields = {"lamports": _u64(data, 4), "source": acc[0], "destination": acc[1]}
                return _named(ix, "create_account", fields)
            return _named(ix, f"system_{kind}", {})
        if ix.program in TOKEN_PROGRAMS and data:
            kind = data[0]
            if kind == 3:  # Transfer { amount }; [source, destination, owner]
                fields = {"amount": _u64(data, 1), "source": acc[0], "destination": acc[1],
                          "owner": acc[2]}  # fmt: skip
                return _named(ix, "spl_transfer", fields)
            if kind == 12:  # TransferChecked { amount, decimals }; [source, mint, dest, owner]
                fields = {"amount": _u64(data, 1), "decimals": data[9], "source": acc[0],
                          "mint": acc[1], "destination": acc[2], "owner": acc[3]}  # fmt: skip
                return _named(ix, "spl_transfer_checked", fields)
            if kind == 4:  # Approve { amount }; [source, delegate, owner]
                fields = {"amount": _u64(data, 1), "delegate": acc[1], "owner": acc[2]}
                return _named(ix, "spl_approve", fields)
            if kind == 13:  # ApproveChecked { amount, decimals }; [source, mint, delegate, owner]
                fields = {"amount": _u64(data, 1), "decimals": data[9], "mint": acc[1],
                          "delegate": acc[2], "owner": acc[3]}  # fmt: skip
                return _named(ix, "spl_approve_checked", fields)
            names = {6: "spl_set_authority", 9: "spl_close_account"}
            return _named(ix, names.get(kind, f"spl_{kind}"), {})
        if ix.program == COMPUTE_BUDGET_PROGRAM and data:
            if data[0] == 2:  # SetComputeUnitLimit { units: u32 }
                return _named(ix, "set_compute_unit_limit", {"units": struct.unpack_from("<I", data, 1)[0]})  # fmt: skip
            if data[0] == 3:  # SetComputeUnitPrice { micro_lamports: u64 }
                return _named(ix, "set_compute_unit_price", {"micro_lamports": _u64(data, 1)})
    except (struct.error, IndexError):
        problems.append(
            f"instruction of program {ix.program} is too short for its type "
            f"({len(data)} data bytes, {len(acc)} accounts)"
        )
    return ix


def _named(ix: SolanaInstruction, name: str, fields: dict[str, Any]) -> SolanaInstruction:
    return SolanaInstruction(ix.program, ix.accounts, ix.data, name, fields)


@dataclass(frozen=True, slots=True)
class SolanaTx:
    """A Solana transaction as the engine sees it (``kind`` ``solana_tx``): fee payer, signers
    and decoded instructions."""

    fee_payer: str
    signers: tuple[str, ...]
    instructions: tuple[SolanaInstruction, ...]
    _problems: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def kind(self) -> str:
        return "solana_tx"

    def problems(self) -> tuple[str, ...]:
        return self._problems

    @property
    def programs(self) -> tuple[str, ...]:
        """Distinct program ids in instruction order."""
        return tuple(dict.fromkeys(ix.program for ix in self.instructions))

    def named(self, *names: str) -> list[SolanaInstruction]:
        return [ix for ix in self.instructions if ix.name in names]

    @property
    def lamports_out(self) -> int:
        """Lamports the transaction moves by System transfers and account creation."""
        return sum(ix.fields["lamports"] for ix in self.named("system_transfer", "create_account"))

    @property
    def priority_fee_lamports(self) -> int:
        """Compute-unit price x limit (the default limit when none is set), in lamports."""
        price = next(
            (ix.fields["micro_lamports"] for ix in self.named("set_compute_unit_price")), 0
        )
        limit = next((ix.fields["units"] for ix in self.named("set_compute_unit_limit")), None)
        if limit is None:
            others = sum(ix.program != COMPUTE_BUDGET_PROGRAM for ix in self.instructions)
            limit = DEFAULT_UNITS_PER_INSTRUCTION * max(others, 1)
        return int(price * limit // 1_000_000)

    @classmethod
    def from_solders(cls, tx: Any) -> SolanaTx:
        """From a solders ``Transaction``, ``VersionedTransaction``, ``Message`` or ``MessageV0``."""
        message = getattr(tx, "message", tx)
        problems: list[str] = []
        keys = [str(k) for k in message.account_keys]
        if getattr(message, "address_table_lookups", None):
            problems.append(
                "the v0 message loads accounts from address lookup tables, which cannot be "
                "resolved offline; resolve them before the policy check"
            )
        header = message.header
        signers = tuple(keys[: header.num_required_signatures])
        out = []
        for compiled in message.instructions:
            indexes = [compiled.program_id_index, *list(compiled.accounts)]
            if any(i >= len(keys) for i in indexes):
                problems.append(f"an instruction names account index {max(indexes)} of {len(keys)}")
                continue
            ix = SolanaInstruction(
                keys[compiled.program_id_index],
                tuple(keys[i] for i in compiled.accounts),
                bytes(compiled.data),
            )
            out.append(_decode(ix, problems))
        payer = keys[0] if keys else ""
        return cls(payer, signers, tuple(out), tuple(problems))

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> SolanaTx:
        """From a serialized legacy or versioned transaction (bytes, or base64 text)."""
        from solders.transaction import Transaction, VersionedTransaction

        try:
            data = base64.b64decode(raw, validate=True) if isinstance(raw, str) else bytes(raw)
        except (binascii.Error, ValueError):
            return cls("", (), (), ("the transaction is not valid base64",))
        for parse in (VersionedTransaction.from_bytes, Transaction.from_bytes):
            try:
                return cls.from_solders(parse(data))
            except Exception:  # solders raises its own error types per parser
                continue
        return cls("", (), (), (f"{len(data)} bytes do not parse as a Solana transaction",))
