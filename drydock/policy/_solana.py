"""Solana transaction rules (``[transaction.solana]``): program allowlist, lamport, SPL and
priority-fee caps, destination and delegate allowlists. Deny by default.

A ``solana_tx`` passes only if its fee payer is the action's wallet (when one is named), every
program it calls is allowlisted, and every decoded instruction is within the rules:

- System ``Transfer``/``CreateAccount``: the lamports of the transaction (summed) within
  ``max_lamports``; transfers only to allowlisted ``destinations``.
- SPL ``TransferChecked`` (mint and decimals known): the mint listed, the amount within its cap,
  the destination token account allowlisted. A plain ``Transfer`` names no mint, so its amount
  cannot be judged: denied unless ``allow_unchecked_transfers`` (then only the destination binds).
- ``Approve``/``ApproveChecked``: only to allowlisted ``delegates``; ``SetAuthority`` and
  ``CloseAccount`` only when allowed.
- The priority fee (compute-unit price x limit) within ``max_priority_fee_lamports``; at most
  ``max_instructions`` instructions.

Destinations are the accounts that receive: a wallet for lamports, a *token account* for SPL
(its owner cannot be derived offline); list the token accounts your wallet pays into.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from drydock.policy._schema import Section, canonical_list, canonical_one
from drydock.policy._solana_payload import SolanaInstruction, SolanaTx
from drydock.policy._transaction import Spend
from drydock.symbols import canonical_address, canonical_token
from drydock.types import Action, Severity, Violation

if TYPE_CHECKING:
    from drydock.policy._config import Policy
    from drydock.policy._context import PolicyContext

LAMPORTS_PER_SOL = 1_000_000_000


class SplMint(Section):
    """An SPL mint the rules can judge: symbol, decimals and the per-transaction cap."""

    mint: str
    symbol: str
    decimals: int = Field(ge=0, le=18)
    max_amount: float | None = Field(default=None, gt=0)  # whole units

    _mint = field_validator("mint")(canonical_one(canonical_address))
    _symbol = field_validator("symbol")(canonical_one(canonical_token))


class SolanaRules(Section):
    """Rules for ``solana_tx`` actions."""

    programs: list[str] = Field(min_length=1)
    max_lamports: int | None = Field(default=None, ge=0)
    mints: list[SplMint] = Field(default_factory=list)
    destinations: list[str] = Field(default_factory=list)
    delegates: list[str] = Field(default_factory=list)
    allow_unchecked_transfers: bool = False
    allow_set_authority: bool = False
    allow_close_account: bool = False
    max_priority_fee_lamports: int | None = Field(default=None, ge=0)
    max_instructions: int | None = Field(default=None, ge=1)

    _programs = field_validator("programs")(canonical_list(canonical_address))
    _destinations = field_validator("destinations")(canonical_list(canonical_address))
    _delegates = field_validator("delegates")(canonical_list(canonical_address))

    def mint(self, address: str) -> SplMint | None:
        return next((m for m in self.mints if m.mint == address), None)


def _deny(rule: str, message: str, suggestion: str) -> Violation:
    return Violation(f"transaction.{rule}", "transaction", Severity.CRITICAL, message, suggestion)


def solana_rules(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """Violations of the Solana rules by a ``solana_tx`` action."""
    rules = policy.transaction.solana
    if rules is None:
        return [
            _deny(
                "solana_not_configured",
                "the policy has no [transaction.solana] rules, so a solana_tx is denied",
                "add [transaction.solana] with programs and caps",
            )
        ]
    tx = action.payload
    if not isinstance(tx, SolanaTx):  # the Action already flags a wrong payload as malformed
        return [_deny("solana_payload", f"{tx!r} is not a Solana payload", "build a SolanaTx")]
    if action.wallet and action.wallet != tx.fee_payer:
        return [
            _deny(
                "wallet_mismatch",
                f"the fee payer is {tx.fee_payer}, not the action's wallet {action.wallet}",
                "sign and pay with the wallet the action names",
            )
        ]
    foreign = [p for p in tx.programs if p not in rules.programs]
    if foreign:
        return [
            _deny(
                "program_not_allowed",
                f"programs not in the allowlist: {', '.join(foreign)}",
                "add them to transaction.solana.programs if they are trusted",
            )
        ]
    out = _tx_caps(tx, rules)
    for ix in tx.instructions:
        out.extend(_instruction_rules(ix, rules))
    return out


def _tx_caps(tx: SolanaTx, rules: SolanaRules) -> list[Violation]:
    out = []
    if rules.max_instructions is not None and len(tx.instructions) > rules.max_instructions:
        out.append(
            _deny(
                "max_instructions",
                f"{len(tx.instructions)} instructions exceed the cap {rules.max_instructions}",
                "split the transaction or raise max_instructions",
            )
        )
    lamports = tx.lamports_out
    if rules.max_lamports is not None and lamports > rules.max_lamports:
        out.append(
            _deny(
                "lamports",
                f"the transaction moves {lamports / LAMPORTS_PER_SOL:g} SOL, over the cap "
                f"{rules.max_lamports / LAMPORTS_PER_SOL:g} SOL",
                "send less or raise transaction.solana.max_lamports",
            )
        )
    fee = tx.priority_fee_lamports
    if rules.max_priority_fee_lamports is not None and fee > rules.max_priority_fee_lamports:
        out.append(
            _deny(
                "priority_fee",
                f"priority fee {fee:,} lamports exceeds the cap "
                f"{rules.max_priority_fee_lamports:,}",
                "lower the compute-unit price or limit, or raise max_priority_fee_lamports",
            )
        )
    return out


def _instruction_rules(ix: SolanaInstruction, rules: SolanaRules) -> list[Violation]:
    name, fields = ix.name, ix.fields
    out = []
    moves = name in ("system_transfer", "spl_transfer", "spl_transfer_checked")
    if moves and fields["destination"] not in rules.destinations:
        out.append(
            _deny(
                "destination_not_allowed",
                f"{name} to {fields['destination']}, which is not an allowlisted destination",
                "add it to transaction.solana.destinations",
            )
        )
    if name == "spl_transfer" and not rules.allow_unchecked_transfers:
        out.append(
            _deny(
                "spl_unchecked_transfer",
                "an SPL Transfer names no mint, so its amount cannot be judged",
                "use TransferChecked (or set allow_unchecked_transfers = true)",
            )
        )
    if name in ("spl_transfer_checked", "spl_approve_checked"):
        out.extend(_mint_amount(ix, rules))
    if name in ("spl_approve", "spl_approve_checked") and fields["delegate"] not in rules.delegates:
        out.append(
            _deny(
                "delegate_not_allowed",
                f"approve to delegate {fields['delegate']}, which is not allowlisted",
                "add it to transaction.solana.delegates",
            )
        )
    if name == "spl_set_authority" and not rules.allow_set_authority:
        out.append(
            _deny(
                "set_authority",
                "the transaction changes a token authority",
                "set allow_set_authority = true only for a wallet that must do this",
            )
        )
    if name == "spl_close_account" and not rules.allow_close_account:
        out.append(
            _deny(
                "close_account",
                "the transaction closes a token account",
                "set allow_close_account = true if the wallet cleans up accounts",
            )
        )
    return out


def _mint_amount(ix: SolanaInstruction, rules: SolanaRules) -> list[Violation]:
    mint = rules.mint(ix.fields["mint"])
    if mint is None:
        return [
            _deny(
                "mint_not_allowed",
                f"mint {ix.fields['mint']} is not listed",
                "add it to [[transaction.solana.mints]] with its decimals and cap",
            )
        ]
    if ix.fields["decimals"] != mint.decimals:
        return [
            _deny(
                "mint_decimals",
                f"the instruction says {ix.fields['decimals']} decimals for {mint.symbol}, the "
                f"policy {mint.decimals}",
                "fix the token's decimals in the policy or the instruction",
            )
        ]
    amount = ix.fields["amount"] / 10**mint.decimals
    if mint.max_amount is not None and amount > mint.max_amount:
        return [
            _deny(
                "spl_amount",
                f"{amount:,.6g} {mint.symbol} exceeds the per-transaction cap "
                f"{mint.max_amount:,.6g}",
                "send less or raise the mint's max_amount",
            )
        ]
    return []


def solana_spends(action: Action, policy: Policy) -> tuple[Spend, ...]:
    """What a ``solana_tx`` moves out: lamports of System transfers and account creation (SOL)
    and the amounts of SPL ``TransferChecked`` of listed mints (whole units)."""
    tx, rules = action.payload, policy.transaction.solana
    if not isinstance(tx, SolanaTx) or rules is None:
        return ()
    out = [
        Spend("SOL", ix.fields["lamports"] / LAMPORTS_PER_SOL, ix.fields["destination"])
        for ix in tx.named("system_transfer", "create_account")
    ]
    for ix in tx.named("spl_transfer_checked"):
        mint = rules.mint(ix.fields["mint"])
        if mint is not None:
            amount = ix.fields["amount"] / 10**mint.decimals
            out.append(Spend(mint.symbol, amount, ix.fields["destination"]))
    return tuple(out)
