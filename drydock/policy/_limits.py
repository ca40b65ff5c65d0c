"""Risk rules that read journaled state: daily loss, risk per trade, cooldown, order rate.

Like the rest of the risk layer they bind new exposure only (exits are exempt: a loss limit must
never trap a position). Each is off unless configured; each needs its input in the context and
fails closed without it (no clock for a cooldown, no stop for risk per trade).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from drydock.policy._build import critical
from drydock.types import Action, Side, Violation

if TYPE_CHECKING:
    from drydock.policy._config import RiskRules
    from drydock.policy._context import PolicyContext


def limit_rules(action: Action, ctx: PolicyContext, rules: RiskRules) -> list[Violation]:
    """Violations of the stateful risk limits by an entry."""
    out: list[Violation] = []
    out.extend(daily_loss(ctx, rules))
    if rules.max_risk_per_trade_pct is not None:
        out.extend(risk_per_trade(action, ctx, rules.max_risk_per_trade_pct))
    if rules.cooldown_minutes is not None:
        out.extend(cooldown(action, ctx, rules.cooldown_minutes))
    rate = rules.max_orders_per_minute
    if rate is not None and ctx.orders_last_minute >= rate:
        out.append(max_orders_per_minute(ctx.orders_last_minute, rate))
    return out


def max_orders_per_minute(orders: int, rate: int) -> Violation:
    return critical(
        "risk.max_orders_per_minute",
        "risk",
        f"{orders} orders in the last minute reach the cap {rate}",
        "slow down or raise risk.max_orders_per_minute",
    )


def daily_loss(ctx: PolicyContext, rules: RiskRules) -> list[Violation]:
    loss = max(0.0, -ctx.daily_pnl_usd)
    window = "today (UTC)" if rules.daily_loss_window == "utc_day" else "in the last 24 h"
    out = []
    cap = rules.max_daily_loss_usd
    if cap is not None and loss >= cap:
        out.append(
            critical(
                "risk.max_daily_loss",
                "risk",
                f"lost {loss:,.2f} USD {window}, at or over the limit {cap:,.2f} USD",
                "wait for the window to roll or raise risk.max_daily_loss_usd",
            )
        )
    pct = rules.max_daily_loss_pct
    if pct is not None:
        base = ctx.day_start_equity_usd
        if base <= 0:
            out.append(
                critical(
                    "risk.max_daily_loss",
                    "risk",
                    "the window's starting equity is not positive, so the daily loss in percent "
                    "cannot be checked",
                    "journal an equity mark (or a deposit) before trading",
                )
            )
        elif loss / base * 100.0 >= pct:
            out.append(
                critical(
                    "risk.max_daily_loss",
                    "risk",
                    f"lost {loss / base * 100.0:.2f}% of {base:,.2f} USD {window}, at or over "
                    f"the limit {pct:g}%",
                    "wait for the window to roll or raise risk.max_daily_loss_pct",
                )
            )
    return out


def risk_per_trade(action: Action, ctx: PolicyContext, pct: float) -> list[Violation]:
    stop = action.stop_price
    if stop <= 0:
        return [
            critical(
                "risk.risk_per_trade",
                "risk",
                "the entry has no stop_price, so its risk cannot be checked",
                "attach a protective stop (stop_price) to the entry",
            )
        ]
    wrong = stop >= action.price if action.side is Side.BUY else stop <= action.price
    if wrong:
        where = "below" if action.side is Side.BUY else "above"
        return [
            critical(
                "risk.risk_per_trade",
                "risk",
                f"stop {stop:g} is not {where} the {action.side} price {action.price:g}",
                f"a {action.side} entry's stop must sit {where} its price",
            )
        ]
    risk = action.quantity * abs(action.price - stop)
    equity = ctx.equity_usd
    share = risk / equity * 100.0 if equity > 0 else float("inf")
    if share <= pct:
        return []
    shown = f"{share:.2f}% of equity" if equity > 0 else "all of it (equity is not positive)"
    return [
        critical(
            "risk.risk_per_trade",
            "risk",
            f"the stop risks {risk:,.2f} USD, {shown}, over the {pct:g}% cap",
            "trade smaller, tighten the stop, or raise risk.max_risk_per_trade_pct",
        )
    ]


def cooldown(action: Action, ctx: PolicyContext, minutes: float) -> list[Violation]:
    closed = ctx.last_close_at.get(action.symbol)
    if closed is None:
        return []
    if ctx.now is None:
        return [
            critical(
                "risk.cooldown",
                "risk",
                f"{action.symbol} closed at {closed.isoformat()} and the context has no clock",
                "pass now in the context",
            )
        ]
    ready = closed + timedelta(minutes=minutes)
    if ctx.now >= ready:
        return []
    left = (ready - ctx.now).total_seconds() / 60.0
    return [
        critical(
            "risk.cooldown",
            "risk",
            f"{action.symbol} closed at {closed.isoformat()}; {left:.1f} of the {minutes:g} "
            "minutes of cooldown remain",
            "wait, or lower risk.cooldown_minutes",
        )
    ]
