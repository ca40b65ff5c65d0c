"""Value and rolling-window caps over what an action spends (layer 3, after the chain rules).

An action reduces to :class:`~drydock.policy._transaction.Spend` items: an exchange entry spends
its notional (asset = the symbol's base), a ``transfer``/``withdraw`` its amount, a chain
transaction what its payload decodes to (:func:`drydock.policy._evm.evm_spends`,
:func:`drydock.policy._solana.solana_spends`). Exits and deposits spend nothing.

A rolling cap counts spends per *scope key*: the wallet, the strategy, the asset, the destination,
or ``*`` (total). ``ctx.rolling_usage[(cap id, key)]`` is what allowed actions already used inside
the cap's window (rebuilt from the journal, so restarts keep it); :func:`cap_usage` is what this
action adds, which the runner journals with an ALLOW. Caps in ``usd`` price each spend with its own
``usd`` or ``ctx.prices_usd[asset]``; a spend with no price fails closed
(``transaction.unpriced_asset``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from drydock.policy._build import critical
from drydock.policy._transaction import Spend
from drydock.types import ORDER_KINDS, Action, Violation

if TYPE_CHECKING:
    from drydock.policy._config import Policy, RollingCap
    from drydock.policy._context import PolicyContext

LAYER = "transaction"


def _deny(rule: str, message: str, suggestion: str) -> Violation:
    return critical(f"{LAYER}.{rule}", LAYER, message, suggestion)


def spends_of(action: Action, policy: Policy) -> tuple[Spend, ...]:
    """What ``action`` moves out of the wallet or account (empty for exits and deposits)."""
    kind = action.kind
    if kind in ORDER_KINDS:
        if action.reduces_position:
            return ()
        base = action.symbol.split("/", 1)[0]
        return (Spend(base, action.quantity, "", action.notional_usd),)
    if kind in ("transfer", "withdraw"):
        usd = action.notional_usd if action.price > 0 else None
        return (Spend(action.token, action.quantity, action.to, usd),)
    if kind in ("evm_tx", "evm_sign_typed_data"):
        from drydock.policy._evm import evm_spends

        return evm_spends(action, policy)
    if kind == "solana_tx":
        from drydock.policy._solana import solana_spends

        return solana_spends(action, policy)
    return ()


def spend_usd(spend: Spend, ctx: PolicyContext) -> float | None:
    """USD value of a spend: its own ``usd``, else amount x the context's price, else None."""
    if spend.usd is not None:
        return spend.usd
    price = ctx.price_of(spend.asset)
    return None if price is None else spend.amount * price


def _key(cap: RollingCap, action: Action, spend: Spend) -> str:
    if cap.scope == "wallet":
        return action.wallet
    if cap.scope == "strategy":
        return action.strategy_id
    if cap.scope == "asset":
        return spend.asset
    if cap.scope == "destination":
        return spend.destination
    return "*"


def _amounts(
    cap: RollingCap, action: Action, spends: tuple[Spend, ...], ctx: PolicyContext
) -> tuple[dict[str, float], list[str]]:
    """Per scope key, what the action adds to ``cap``; and the assets it could not price."""
    added: dict[str, float] = {}
    unpriced: list[str] = []
    for spend in spends:
        if cap.unit == "usd":
            amount = spend_usd(spend, ctx)
            if amount is None or not math.isfinite(amount):
                unpriced.append(spend.asset)
                continue
        elif spend.asset == cap.unit:
            amount = spend.amount
        else:
            continue
        key = _key(cap, action, spend)
        if cap.keys is not None and key not in cap.keys:
            continue
        added[key] = added.get(key, 0.0) + amount
    return added, unpriced


def cap_usage(action: Action, ctx: PolicyContext, policy: Policy) -> dict[tuple[str, str], float]:
    """What an allowed ``action`` adds to each rolling cap: ``(cap id, scope key) -> amount``.

    The runner journals this with the ALLOW (in the same transaction as the decision), and the
    context builder sums the rows inside each cap's window into ``ctx.rolling_usage``.
    """
    caps = policy.transaction.rolling_caps
    if not caps:
        return {}
    spends = spends_of(action, policy)
    out: dict[tuple[str, str], float] = {}
    for cap in caps:
        added, _ = _amounts(cap, action, spends, ctx)
        for key, amount in added.items():
            if amount > 0:
                out[(cap.id, key)] = amount
    return out


def rolling_rules(
    action: Action, spends: tuple[Spend, ...], ctx: PolicyContext, policy: Policy
) -> list[Violation]:
    """Deny when a spend would take any rolling cap past its maximum within the window."""
    out: list[Violation] = []
    for cap in policy.transaction.rolling_caps:
        added, unpriced = _amounts(cap, action, spends, ctx)
        if unpriced:
            out.append(
                _deny(
                    "unpriced_asset",
                    f"no USD price for {', '.join(sorted(set(unpriced)))}, so rolling cap "
                    f"{cap.id!r} cannot be checked",
                    "pass the asset's price in the context's prices_usd",
                )
            )
            continue
        for key, amount in added.items():
            used = ctx.rolling_usage.get((cap.id, key), 0.0)
            if used + amount > cap.max * (1 + 1e-12):
                unit = "USD" if cap.unit == "usd" else cap.unit
                out.append(
                    _deny(
                        "rolling_cap",
                        f"rolling cap {cap.id!r} ({cap.scope} {key!r}): {used:,.6g} {unit} used "
                        f"in the last {cap.window_hours:g} h + {amount:,.6g} would exceed "
                        f"{cap.max:,.6g} {unit}",
                        f"wait for the window to roll, spend less, or raise the cap {cap.id!r}",
                    )
                )
    return out


def transfer_rules(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """``transfer`` and ``withdraw``: destination allowlist and per-action amount and USD caps."""
    rules = policy.transaction.transfers
    if rules is None:
        return [
            _deny(
                "transfers_not_configured",
                f"the policy has no [transaction.transfers] rules, so a {action.kind} is denied",
                "add [transaction.transfers] with a destination_allowlist and caps",
            )
        ]
    out: list[Violation] = []
    allow = rules.destination_allowlist
    if allow is not None and action.to not in allow:
        out.append(
            _deny(
                "destination_not_allowed",
                f"destination {action.to!r} is not in the allowlist",
                "add it to transaction.transfers.destination_allowlist",
            )
        )
    cap = rules.max_amount.get(action.token)
    if cap is not None and action.quantity > cap:
        out.append(
            _deny(
                "transfer_amount",
                f"{action.quantity:,.6g} {action.token} exceeds the per-transfer cap {cap:,.6g}",
                "send less or raise transaction.transfers.max_amount",
            )
        )
    if rules.max_usd is not None:
        usd = spend_usd(Spend(action.token, action.quantity, action.to, _priced(action)), ctx)
        if usd is None:
            out.append(
                _deny(
                    "unpriced_asset",
                    f"no USD price for {action.token}, so max_usd cannot be checked",
                    "pass price on the action or the asset's price in prices_usd",
                )
            )
        elif usd > rules.max_usd:
            out.append(
                _deny(
                    "transfer_usd",
                    f"{usd:,.2f} USD exceeds the per-transfer cap {rules.max_usd:,.2f} USD",
                    "send less or raise transaction.transfers.max_usd",
                )
            )
    return out


def _priced(action: Action) -> float | None:
    return action.notional_usd if action.price > 0 else None
