"""Risk rules on the size and cost of a new entry: position floor, concentration, slippage, fees.

They need no journal state, only the action and the context's equity and position, and run at
the end of the risk layer (exits are exempt, like the rest of it). Each is off unless configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drydock.policy._build import critical
from drydock.types import Action, Side, Violation

if TYPE_CHECKING:
    from drydock.policy._config import RiskRules
    from drydock.policy._context import PolicyContext


def sizing_rules(
    action: Action, ctx: PolicyContext, rules: RiskRules, held: float
) -> list[Violation]:
    """Violations of the configured sizing and cost limits by an entry adding to ``held``."""
    out: list[Violation] = []
    after = held + action.notional_usd
    floor = rules.min_position_notional_usd
    if floor is not None and after < floor:
        out.append(min_position_notional(action.symbol, after, floor))
    share = rules.max_concentration_pct
    if share is not None:
        equity = ctx.equity_usd
        pct = after / equity * 100.0 if equity > 0 else float("inf")
        if pct > share:
            out.append(max_concentration(action.symbol, pct, equity, share))
    bps = rules.max_slippage_bps
    if bps is not None:
        out.extend(slippage(action, bps))
    fee_cap = rules.max_fee_pct
    if fee_cap is not None and action.fee_usd / action.notional_usd * 100.0 > fee_cap:
        out.append(max_fee(action, fee_cap))
    return out


def min_position_notional(symbol: str, after: float, floor: float) -> Violation:
    return critical(
        "risk.min_position_notional",
        "risk",
        f"position in {symbol} would be {after:,.2f} USD, under the minimum {floor:,.2f} USD",
        "trade larger or lower risk.min_position_notional_usd",
    )


def max_concentration(symbol: str, pct: float, equity: float, share: float) -> Violation:
    shown = f"{pct:.2f}%" if equity > 0 else "all (equity is not positive)"
    return critical(
        "risk.max_concentration",
        "risk",
        f"{symbol} would be {shown} of equity, over the {share:g}% cap",
        "trade smaller or raise risk.max_concentration_pct",
    )


def max_fee(action: Action, fee_cap: float) -> Violation:
    pct = action.fee_usd / action.notional_usd * 100.0
    return critical(
        "risk.max_fee",
        "risk",
        f"fee {action.fee_usd:,.2f} USD is {pct:.3f}% of the {action.notional_usd:,.2f} "
        f"USD notional, over the {fee_cap:g}% cap",
        "wait for cheaper gas or fees, trade larger, or raise risk.max_fee_pct",
    )


def slippage(action: Action, bps: float) -> list[Violation]:
    """The price may be worse than the quote by at most ``bps`` basis points (no quote: deny)."""
    quote = action.quoted_price
    if quote <= 0:
        return [
            critical(
                "risk.max_slippage",
                "risk",
                "no quoted price was given, so slippage cannot be checked",
                "pass the venue's quote as quoted_price",
            )
        ]
    worse = action.price - quote if action.side is Side.BUY else quote - action.price
    moved = worse / quote * 10_000.0
    if moved <= bps:
        return []
    return [
        critical(
            "risk.max_slippage",
            "risk",
            f"price {action.price:g} is {moved:.1f} bps worse than the quote {quote:g} "
            f"(limit {bps:g} bps)",
            "re-quote, use a limit price closer to the quote, or raise risk.max_slippage_bps",
        )
    ]
