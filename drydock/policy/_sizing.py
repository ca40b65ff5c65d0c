"""Risk rules on the size and cost of a new entry: position floor, concentration, slippage, fees.

They need no journal state, only the action and the context's equity and position, and run at
the end of the risk layer (exits are exempt, like the rest of it). Each is off unless configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drydock.types import Action, Severity, Side, Violation

if TYPE_CHECKING:
    from drydock.policy._config import RiskRules
    from drydock.policy._context import PolicyContext


def _deny(rule: str, message: str, suggestion: str) -> Violation:
    return Violation(f"risk.{rule}", "risk", Severity.CRITICAL, message, suggestion)


def sizing_rules(
    action: Action, ctx: PolicyContext, rules: RiskRules, held: float
) -> list[Violation]:
    """Violations of the configured sizing and cost limits by an entry adding to ``held``."""
    out: list[Violation] = []
    after = held + action.notional_usd
    floor = rules.min_position_notional_usd
    if floor is not None and after < floor:
        out.append(
            _deny(
                "min_position_notional",
                f"position in {action.symbol} would be {after:,.2f} USD, under the minimum "
                f"{floor:,.2f} USD",
                "trade larger or lower risk.min_position_notional_usd",
            )
        )
    share = rules.max_concentration_pct
    if share is not None:
        equity = ctx.equity_usd
        pct = after / equity * 100.0 if equity > 0 else float("inf")
        if pct > share:
            shown = f"{pct:.2f}%" if equity > 0 else "all (equity is not positive)"
            out.append(
                _deny(
                    "max_concentration",
                    f"{action.symbol} would be {shown} of equity, over the {share:g}% cap",
                    "trade smaller or raise risk.max_concentration_pct",
                )
            )
    bps = rules.max_slippage_bps
    if bps is not None:
        out.extend(_slippage(action, bps))
    fee_cap = rules.max_fee_pct
    if fee_cap is not None and action.fee_usd / action.notional_usd * 100.0 > fee_cap:
        pct = action.fee_usd / action.notional_usd * 100.0
        out.append(
            _deny(
                "max_fee",
                f"fee {action.fee_usd:,.2f} USD is {pct:.3f}% of the {action.notional_usd:,.2f} "
                f"USD notional, over the {fee_cap:g}% cap",
                "wait for cheaper gas or fees, trade larger, or raise risk.max_fee_pct",
            )
        )
    return out


def _slippage(action: Action, bps: float) -> list[Violation]:
    """The price may be worse than the quote by at most ``bps`` basis points (no quote: deny)."""
    quote = action.quoted_price
    if quote <= 0:
        return [
            _deny(
                "max_slippage",
                "no quoted price was given, so slippage cannot be checked",
                "pass the venue's quote as quoted_price",
            )
        ]
    worse = action.price - quote if action.side is Side.BUY else quote - action.price
    moved = worse / quote * 10_000.0
    if moved <= bps:
        return []
    return [
        _deny(
            "max_slippage",
            f"price {action.price:g} is {moved:.1f} bps worse than the quote {quote:g} "
            f"(limit {bps:g} bps)",
            "re-quote, use a limit price closer to the quote, or raise risk.max_slippage_bps",
        )
    ]
