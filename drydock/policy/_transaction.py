"""The transaction layer's shared vocabulary: chain payloads and the value an action moves.

An on-chain action (``evm_tx``, ``evm_sign_typed_data``, ``solana_tx``) carries a *payload*: a
frozen, validated description of the transaction built at the boundary (from web3 / solders
objects or raw bytes). The engine never parses bytes per rule: a payload decodes once, when it is
built, and lists its own problems (a payload with problems makes the action malformed).

Every action that moves value reduces to :class:`Spend` items (asset, amount in whole units,
destination). Value caps and the rolling 24h caps count spends, so an ERC-20 ``transfer`` in
calldata, a native ``value``, a Solana SPL transfer and a plain ``transfer`` action are capped by
the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Spend:
    """Value leaving the wallet in one action.

    ``asset`` is a canonical token symbol (``ETH``, ``USDC``, ``SOL``) or, for a token the policy
    does not name, its canonical address; ``amount`` is in whole units of the asset (ETH, not wei;
    finite, >= 0); ``destination`` the canonical address that receives it ("" if none).
    """

    asset: str
    amount: float
    destination: str = ""
    #: USD value when the action itself prices it (an order's notional, a priced transfer);
    #: None: the engine prices it from the context's ``prices_usd`` (no price there: denied).
    usd: float | None = None


@runtime_checkable
class Payload(Protocol):
    """A chain transaction attached to an :class:`~drydock.types.Action`."""

    @property
    def kind(self) -> str:
        """The action kind this payload belongs to, e.g. ``evm_tx``."""
        ...

    def problems(self) -> tuple[str, ...]:
        """Why the payload cannot be decided on (empty when it is well formed)."""
        ...
