"""Which orders of a vectorized backtest the policy's static rules would deny.

Every order of the backtest (a change of the simulated position) becomes an
:class:`~drydock.types.Action` and is judged by the real engine (``drydock.policy.evaluate``)
against the book just before it: the held notional at the order's price, equity at the previous
close, open positions. Only **static** rules apply, the ones a backtest can judge without journal
history or venue quotes: system switches and blocklists, session grants (with the order's time as
the clock), the symbol whitelist, min/max order notional, max position notional, leverage,
concentration, min position notional and max concurrent positions. Stateful or quote-dependent
rules (daily trades and loss, cooldown, order rate, risk per trade, slippage, fee, rolling caps,
breakers, approvals) are left out and listed in :attr:`PolicyAudit.not_applied`; the event replay
(``drydock live replay``) enforces them all.

The audit reports; it does not change the simulation (a denied order still fills in the
backtest). ``policy_clean`` is true when no order would be denied.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from drydock.execution import FillTiming
from drydock.policy import Policy, PolicyContext, evaluate
from drydock.types import Action, Side

if TYPE_CHECKING:
    from research.backtest import BacktestResult

#: (section, field) -> value that switches a stateful or quote-dependent rule off.
STATEFUL: dict[tuple[str, str], Any] = {
    ("risk", "max_daily_trades"): None,
    ("risk", "max_daily_loss_usd"): None,
    ("risk", "max_daily_loss_pct"): None,
    ("risk", "cooldown_minutes"): None,
    ("risk", "max_orders_per_minute"): None,
    ("risk", "max_risk_per_trade_pct"): None,
    ("risk", "max_slippage_bps"): None,
    ("risk", "max_fee_pct"): None,
    ("circuit_breakers", "max_drawdown_pct"): None,
    ("circuit_breakers", "max_consecutive_losses"): None,
    ("circuit_breakers", "max_consecutive_failures"): None,
    ("circuit_breakers", "min_win_rate_pct"): None,
    ("transaction", "rolling_caps"): [],
    ("approvals", "above_notional_usd"): None,
    ("approvals", "kinds"): [],
}


def static_policy(policy: Policy) -> tuple[Policy, list[str]]:
    """The policy with its stateful rules switched off, and the names of those that were set."""
    update: dict[str, dict[str, Any]] = {}
    dropped = []
    for (section, name), off in STATEFUL.items():
        current = getattr(getattr(policy, section), name)
        if current != off:
            dropped.append(f"{section}.{name}")
            update.setdefault(section, getattr(policy, section).model_dump())[name] = off
    return policy.model_copy(update=update), dropped


@dataclass(frozen=True)
class PolicyAudit:
    """Per-order verdicts of the static rules and the count per rule."""

    policy_hash: str
    policy_version: str
    orders: pl.DataFrame  # ts, side, qty, price, notional, allowed, rule_ids, first_rule
    rule_counts: dict[str, int] = field(default_factory=dict)
    not_applied: list[str] = field(default_factory=list)

    @property
    def denied(self) -> int:
        return int((~self.orders["allowed"]).sum()) if self.orders.height else 0

    @property
    def clean(self) -> bool:
        return self.denied == 0


def audit_orders(result: BacktestResult, frame: pl.DataFrame, policy: Policy) -> PolicyAudit:
    """Judge every order of ``result`` (run on ``frame``) with the policy's static rules."""
    static, dropped = static_policy(policy)
    position = np.asarray(result.position, dtype=np.float64)
    held_before = np.concatenate([[0.0], position[:-1]])
    change = position - held_before
    rows = np.flatnonzero(np.abs(change) > 0)
    next_open = result.execution.fill == FillTiming.NEXT_OPEN
    price = frame["open" if next_open else "close"].to_numpy()
    equity = np.asarray(result.equity, dtype=np.float64)
    start_cash = result.execution.init_cash
    ts = frame["ts"].to_list()
    records: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for i in rows.tolist():
        side = Side.BUY if change[i] > 0 else Side.SELL
        qty, px = abs(float(change[i])), float(price[i])
        held = float(held_before[i]) * px
        action = Action(
            kind="order", venue=result.key.exchange, symbol=result.key.symbol, side=side,
            quantity=qty, price=px, strategy_id=result.strategy_id,
            reduces_position=bool(side is Side.SELL and held_before[i] > 0),
        )  # fmt: skip
        ctx = PolicyContext(
            now=ts[i],
            position_notional_usd={result.key.symbol: held} if held else {},
            open_positions=1 if held_before[i] > 0 else 0,
            equity_usd=float(equity[i - 1]) if i else start_cash,
        )
        decision = evaluate(action, ctx, static)
        rule_ids = [v.rule_id for v in decision.violations if not decision.allowed]
        counts.update(rule_ids)
        records.append(
            {"ts": ts[i], "side": side.value, "qty": qty, "price": px, "notional": qty * px,
             "allowed": decision.allowed, "rule_ids": rule_ids,
             "first_rule": rule_ids[0] if rule_ids else None}
        )  # fmt: skip
    schema: dict[str, pl.DataType] = {
        "ts": pl.Datetime("us", "UTC"), "side": pl.String(), "qty": pl.Float64(),
        "price": pl.Float64(), "notional": pl.Float64(), "allowed": pl.Boolean(),
        "rule_ids": pl.List(pl.String()), "first_rule": pl.String(),
    }  # fmt: skip
    orders = pl.DataFrame(records, schema=schema)
    return PolicyAudit(policy.content_hash, policy.version, orders, dict(counts), dropped)


def metric_name(rule_id: str) -> str:
    """An MLflow-legal metric name for a rule's denial count."""
    return "policy_denied." + "".join(c if c.isalnum() or c in "._-" else "_" for c in rule_id)
