"""Solana transaction rules (placeholder until the EVM rules land: every Solana action is denied)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drydock.policy.schema import Section
from drydock.policy.transaction import Spend
from drydock.types import Action, Severity, Violation

if TYPE_CHECKING:
    from drydock.policy.config import Policy
    from drydock.policy.context import PolicyContext


class SolanaRules(Section):
    """Rules for ``solana_tx`` actions."""


def solana_rules(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """Violations of the EVM rules by a ``solana_tx`` action."""
    return [
        Violation(
            "transaction.solana_not_configured",
            "transaction",
            Severity.CRITICAL,
            "Solana rules are not implemented yet",
            "",
        )
    ]


def solana_spends(action: Action, policy: Policy) -> tuple[Spend, ...]:
    """The value an EVM action moves (native value and decoded token transfers/approvals)."""
    return ()
