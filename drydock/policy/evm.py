"""EVM transaction rules (placeholder until the EVM rules land: every EVM action is denied)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drydock.policy.schema import Section
from drydock.policy.transaction import Spend
from drydock.types import Action, Severity, Violation

if TYPE_CHECKING:
    from drydock.policy.config import Policy
    from drydock.policy.context import PolicyContext


class EvmRules(Section):
    """Rules for ``evm_tx`` and ``evm_sign_typed_data`` actions."""


def evm_rules(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """Violations of the EVM rules by an ``evm_tx`` or ``evm_sign_typed_data`` action."""
    return [
        Violation(
            "transaction.evm_not_configured",
            "transaction",
            Severity.CRITICAL,
            "EVM rules are not implemented yet",
            "",
        )
    ]


def evm_spends(action: Action, policy: Policy) -> tuple[Spend, ...]:
    """The value an EVM action moves (native value and decoded token transfers/approvals)."""
    return ()
