"""The policy engine: ``evaluate(action, context, policy)``, pure, layered, deny by default.

Layers run in DESIGN order: system, session, transaction, risk, circuit_breakers. The first
layer that objects decides: its violations (all of that layer's, in rule order) are returned with
a DENY and later layers are not consulted. An action no layer denies is ALLOWed, or held as
NEEDS_APPROVAL when ``[approvals]`` asks for an operator (:func:`approval_required`). Notes:

- **Inputs.** Identifiers arrive canonical (an :class:`~drydock.types.Action` canonicalizes
  itself when built; the policy's lists at validation), so rules compare exactly. An action that
  did not canonicalize, an order without a finite quantity and price > 0, or a chain action whose
  payload does not decode, is denied as ``system.malformed_action``; a context with a NaN,
  infinite or negative input as ``system.malformed_context`` (a NaN compares False against every
  limit, so it would pass).
- **Kinds.** ``order`` (exchange orders), ``evm_tx``, ``evm_sign_typed_data``, ``solana_tx``
  (chain payloads), ``transfer``, ``withdraw``, ``deposit`` (moves). Anything else is denied.
  A chain action needs its chain's section (``[transaction.evm]``, ``[transaction.solana]``) and a
  transfer or withdrawal ``[transaction.transfers]``, or it is denied: deny by default.
- **Exits.** An order with ``reduces_position=True`` skips the risk and breaker layers (a tripped
  breaker or a full book must never trap a position), and the kill switch lets it through so the
  operator can flatten. It must not exceed the held notional, or it is no exit and is denied.
  ``emergency_stop`` and the blocklists bind exits too. Only orders can be exits.
- **Session.** With no grants configured the layer is open. With grants, an action passes only
  if some grant for its strategy (or ``"*"``) permits kind, venue, symbol, notional and time.
- **Transaction.** Chain rules for the kind, then per-action and rolling-window value caps over
  what the action spends (:mod:`drydock.policy._rolling`); entries count too, exits do not.
- **Risk** binds exchange-order entries; **breakers** bind order and chain-transaction entries
  (not plain transfers, deposits or withdrawals: moving money is no new exposure).
"""

from __future__ import annotations

from collections.abc import Callable

from drydock.policy import _plan
from drydock.policy._build import critical
from drydock.policy._config import SUPPORTED_ACTION_KINDS, Grant, Policy
from drydock.policy._context import PolicyContext
from drydock.policy._evm import evm_rules
from drydock.policy._limits import limit_rules
from drydock.policy._rolling import rolling_rules, spend_usd, spends_of, transfer_rules
from drydock.policy._sizing import sizing_rules
from drydock.policy._solana import solana_rules
from drydock.types import (
    ORDER_KINDS,
    PAYLOAD_KINDS,
    Action,
    PolicyDecision,
    Severity,
    Verdict,
    Violation,
)

SYSTEM, SESSION, TRANSACTION, RISK, BREAKERS = (
    "system",
    "session",
    "transaction",
    "risk",
    "circuit_breakers",
)
APPROVAL = "approval"

Rule = Callable[[Action, PolicyContext, Policy], list[Violation]]


def _critical(layer: str, rule: str, message: str, suggestion: str) -> Violation:
    return critical(f"{layer}.{rule}", layer, message, suggestion)


def system_layer(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """Switches, blocklists, chain allowlist, malformed actions and unsupported kinds."""
    rules, out = policy.system, []
    if action.kind not in SUPPORTED_ACTION_KINDS:
        out.append(
            _critical(
                SYSTEM,
                "unsupported_action",
                f"action kind {action.kind!r} has no rules in this engine, so it is denied",
                f"supported kinds: {', '.join(sorted(SUPPORTED_ACTION_KINDS))}",
            )
        )
    if action.malformed:
        out.append(
            _critical(
                SYSTEM,
                "malformed_action",
                action.malformed,
                "build the action from canonical identifiers and a finite quantity and price > 0",
            )
        )
    problems = ctx.problems()
    if problems:
        out.append(
            _critical(
                SYSTEM,
                "malformed_context",
                f"the decision context is not usable: {'; '.join(problems)}",
                "fix the state the context is built from (NaN or negative inputs fail closed)",
            )
        )
    if rules.emergency_stop:
        out.append(
            _critical(
                SYSTEM,
                "emergency_stop",
                "emergency stop is on: every action, exits included, is denied",
                "set system.emergency_stop = false once the incident is resolved",
            )
        )
    if not action.reduces_position and action.kind != "deposit":
        if rules.kill_switch:
            out.append(
                _critical(
                    SYSTEM,
                    "kill_switch",
                    "the policy's kill switch is on: new exposure is denied (exits still pass)",
                    "set system.kill_switch = false to resume trading",
                )
            )
        if ctx.kill_file_present:
            out.append(
                _critical(
                    SYSTEM,
                    "kill_file",
                    "the kill switch is engaged (the kill file, or a kill journaled on any host "
                    "sharing the journal): new exposure is denied (exits still pass)",
                    "run `drydock live resume --reason ...` to release it",
                )
            )
    if action.venue in rules.blocked_venues:
        out.append(
            _critical(
                SYSTEM,
                "blocked_venue",
                f"venue {action.venue!r} is blocked",
                "remove it from system.blocked_venues",
            )
        )
    if action.symbol and action.symbol in rules.blocked_symbols:
        out.append(
            _critical(
                SYSTEM,
                "blocked_symbol",
                f"symbol {action.symbol!r} is blocked",
                "remove it from system.blocked_symbols",
            )
        )
    if action.token and action.token in rules.blocked_tokens:
        out.append(
            _critical(
                SYSTEM,
                "blocked_token",
                f"token {action.token!r} is blocked",
                "remove it from system.blocked_tokens",
            )
        )
    allowed = rules.allowed_chains
    if action.chain and allowed is not None and action.chain not in allowed:
        out.append(
            _critical(
                SYSTEM,
                "chain_not_allowed",
                f"chain {action.chain!r} is not in the allowlist",
                f"allowed chains: {', '.join(allowed) or '(none)'}",
            )
        )
    return out


def _grant_problems(grant: Grant, action: Action, ctx: PolicyContext) -> list[Violation]:
    out = []
    if grant.expires_at is not None and (ctx.now is None or ctx.now >= grant.expires_at):
        when = "no clock was given" if ctx.now is None else f"it expired at {grant.expires_at}"
        out.append(
            _critical(SESSION, "grant_expired", f"grant is not valid: {when}", "renew the grant")
        )
    if action.kind not in grant.actions:
        out.append(
            _critical(
                SESSION,
                "action_not_granted",
                f"action {action.kind!r} is not granted (granted: {', '.join(grant.actions)})",
                "add it to the grant's actions",
            )
        )
    if grant.venues is not None and action.venue not in grant.venues:
        out.append(
            _critical(
                SESSION,
                "venue_not_granted",
                f"venue {action.venue!r} is not granted",
                "add it to the grant's venues",
            )
        )
    if grant.symbols is not None and action.symbol not in grant.symbols:
        out.append(
            _critical(
                SESSION,
                "symbol_not_granted",
                f"symbol {action.symbol!r} is not granted",
                "add it to the grant's symbols",
            )
        )
    if grant.max_notional_usd is not None and action.notional_usd > grant.max_notional_usd:
        out.append(
            _critical(
                SESSION,
                "grant_notional",
                f"notional {action.notional_usd:,.2f} USD exceeds the grant's "
                f"{grant.max_notional_usd:,.2f} USD per transaction",
                "send a smaller order or raise the grant's max_notional_usd",
            )
        )
    return out


def session_layer(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """Per-strategy pause, then grants (open when none are configured)."""
    if ctx.paused and not action.reduces_position:
        return [
            _critical(
                SESSION,
                "paused",
                f"strategy {action.strategy_id!r} is paused: new exposure is denied",
                "resume the strategy to trade again",
            )
        ]
    grants = policy.session.grants
    if not grants:
        return []
    mine = [g for g in grants if g.strategy in ("*", action.strategy_id)]
    if not mine:
        return [
            _critical(
                SESSION,
                "no_grant",
                f"no grant covers strategy {action.strategy_id!r}",
                "add a [[session.grants]] entry for it",
            )
        ]
    problems: list[Violation] = []
    for grant in mine:
        found = _grant_problems(grant, action, ctx)
        if not found:
            return []
        problems.extend(v for v in found if v not in problems)
    return problems


def transaction_layer(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """Chain rules for the action's kind, then value caps over what it spends (rolling windows)."""
    kind = action.kind
    caps = policy.transaction.rolling_caps
    if kind in ORDER_KINDS:
        return rolling_rules(action, spends_of(action, policy), ctx, policy) if caps else []
    if kind in ("evm_tx", "evm_sign_typed_data"):
        out = evm_rules(action, ctx, policy)
    elif kind == "solana_tx":
        out = solana_rules(action, ctx, policy)
    elif kind in ("transfer", "withdraw"):
        out = transfer_rules(action, ctx, policy)
    else:
        out = []
    if not caps or any(v.severity is Severity.CRITICAL for v in out):
        return out
    return out + rolling_rules(action, spends_of(action, policy), ctx, policy)


def risk_layer(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """Limits on new exposure (exchange orders); an exit only has to stay within what is held."""
    if action.kind not in ORDER_KINDS:
        return []
    held = ctx.position_of(action.symbol)
    if action.reduces_position:
        if action.notional_usd > held * (1 + 1e-9) + 1e-9:
            return [reduce_exceeds_position(action, held)]
        return []
    rules, out = policy.risk, []
    if rules.symbol_whitelist is not None and action.symbol not in rules.symbol_whitelist:
        out.append(symbol_not_whitelisted(action.symbol, rules.symbol_whitelist))
    notional = action.notional_usd
    if rules.min_order_notional_usd is not None and notional < rules.min_order_notional_usd:
        out.append(min_order_notional(notional, rules.min_order_notional_usd))
    if rules.max_order_notional_usd is not None and notional > rules.max_order_notional_usd:
        out.append(max_order_notional(notional, rules.max_order_notional_usd))
    cap = rules.max_position_notional_usd
    if cap is not None and held + notional > cap:
        out.append(max_position_notional(action.symbol, held + notional, cap))
    if rules.max_leverage is not None and action.leverage > rules.max_leverage:
        out.append(max_leverage(action.leverage, rules.max_leverage))
    if rules.max_daily_trades is not None and ctx.trades_today >= rules.max_daily_trades:
        out.append(max_daily_trades(ctx.trades_today, rules.max_daily_trades))
    max_open = rules.max_concurrent_positions
    if max_open is not None and held == 0 and ctx.open_positions >= max_open:
        out.append(max_concurrent_positions(ctx.open_positions, max_open))
    if rules.has_sizing_rules:
        out.extend(sizing_rules(action, ctx, rules, held))
    if rules.has_stateful_limits:
        out.extend(limit_rules(action, ctx, rules))
    return out


# One builder per risk and breaker rule: the layer functions above and below and the compiled
# plan (drydock.policy._plan) word every violation through these, and only when it applies.


def reduce_exceeds_position(action: Action, held: float) -> Violation:
    return critical(
        "risk.reduce_exceeds_position",
        RISK,
        f"an exit of {action.notional_usd:,.2f} USD exceeds the {held:,.2f} USD held "
        f"in {action.symbol}",
        "size exits from the current position",
    )


def symbol_not_whitelisted(symbol: str, whitelist: list[str]) -> Violation:
    return critical(
        "risk.symbol_not_whitelisted",
        RISK,
        f"symbol {symbol!r} is not whitelisted",
        f"whitelisted: {', '.join(whitelist) or '(none)'}",
    )


def min_order_notional(notional: float, minimum: float) -> Violation:
    return critical(
        "risk.min_order_notional",
        RISK,
        f"order notional {notional:,.2f} USD is below the minimum {minimum:,.2f} USD",
        "skip dust orders or lower risk.min_order_notional_usd",
    )


def max_order_notional(notional: float, cap: float) -> Violation:
    return critical(
        "risk.max_order_notional",
        RISK,
        f"order notional {notional:,.2f} USD exceeds the cap {cap:,.2f} USD",
        "split or shrink the order, or raise risk.max_order_notional_usd",
    )


def max_position_notional(symbol: str, after: float, cap: float) -> Violation:
    return critical(
        "risk.max_position_notional",
        RISK,
        f"position in {symbol} would reach {after:,.2f} USD, over the cap {cap:,.2f} USD",
        "trade smaller or raise risk.max_position_notional_usd",
    )


def max_leverage(leverage: float, cap: float) -> Violation:
    return critical(
        "risk.max_leverage",
        RISK,
        f"leverage {leverage:g}x exceeds the cap {cap:g}x",
        "lower the leverage",
    )


def max_daily_trades(trades: int, cap: int) -> Violation:
    return critical(
        "risk.max_daily_trades",
        RISK,
        f"{trades} trades today reach the daily cap {cap}",
        "wait for the next UTC day or raise risk.max_daily_trades",
    )


def max_concurrent_positions(open_positions: int, cap: int) -> Violation:
    return critical(
        "risk.max_concurrent_positions",
        RISK,
        f"{open_positions} open positions reach the cap {cap}",
        "close a position first or raise risk.max_concurrent_positions",
    )


def breaker_layer(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """Account-health trips; they block new entries (orders and chain transactions), never exits
    and never plain transfers, deposits or withdrawals (moving money is not new exposure)."""
    if action.reduces_position or action.kind not in ORDER_KINDS | PAYLOAD_KINDS:
        return []
    rules, out = policy.circuit_breakers, []
    if ctx.breaker_tripped:
        out.append(breaker_tripped())
    if rules.max_drawdown_pct is not None and ctx.drawdown_pct >= rules.max_drawdown_pct:
        out.append(max_drawdown(ctx.drawdown_pct, rules.max_drawdown_pct))
    losses = rules.max_consecutive_losses
    if losses is not None and ctx.consecutive_losses >= losses:
        out.append(max_consecutive_losses(ctx.consecutive_losses, losses))
    failures = rules.max_consecutive_failures
    if failures is not None and ctx.consecutive_failures >= failures:
        out.append(max_consecutive_failures(ctx.consecutive_failures, failures))
    if rules.min_win_rate_pct is not None:
        out.extend(_win_rate(ctx, policy))
    return out


def breaker_tripped() -> Violation:
    return critical(
        "circuit_breakers.tripped",
        BREAKERS,
        "a circuit breaker tripped earlier and has not been reset",
        "review the journal's breaker events, then resume",
    )


def max_drawdown(drawdown_pct: float, limit: float) -> Violation:
    return critical(
        "circuit_breakers.max_drawdown",
        BREAKERS,
        f"equity is {drawdown_pct:.2f}% below its high-water mark (limit {limit:g}%)",
        "review the strategy before resuming",
    )


def max_consecutive_losses(losses: int, limit: int) -> Violation:
    return critical(
        "circuit_breakers.max_consecutive_losses",
        BREAKERS,
        f"{losses} losing trades in a row (limit {limit})",
        "review the strategy before resuming",
    )


def max_consecutive_failures(failures: int, limit: int) -> Violation:
    return critical(
        "circuit_breakers.max_consecutive_failures",
        BREAKERS,
        f"{failures} execution failures in a row (limit {limit})",
        "check the venue connection before resuming",
    )


def _win_rate(ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """Trip below the minimum win rate over the last N closed trades (once N have closed)."""
    rules = policy.circuit_breakers
    floor, window = rules.min_win_rate_pct, rules.win_rate_window
    recent = ctx.recent_trade_wins[-window:]
    if floor is None or len(recent) < window:
        return []
    rate = sum(recent) / window * 100.0
    if rate >= floor:
        return []
    return [min_win_rate(rate, window, floor)]


def min_win_rate(rate: float, window: int, floor: float) -> Violation:
    return critical(
        "circuit_breakers.min_win_rate",
        BREAKERS,
        f"{rate:.1f}% of the last {window} closed trades won, under the {floor:g}% minimum",
        "review the strategy before resuming",
    )


#: Layers in evaluation order (DESIGN: system, session, transaction, risk, breakers).
LAYERS: tuple[tuple[str, Rule], ...] = (
    (SYSTEM, system_layer),
    (SESSION, session_layer),
    (TRANSACTION, transaction_layer),
    (RISK, risk_layer),
    (BREAKERS, breaker_layer),
)


def action_usd(action: Action, ctx: PolicyContext, policy: Policy) -> float | None:
    """The USD value an action moves: an order's or priced move's notional, else its spends
    priced from the context (None when some spend has no price)."""
    if action.kind in ORDER_KINDS or action.price > 0:
        return action.notional_usd
    total = 0.0
    for spend in spends_of(action, policy):
        usd = spend_usd(spend, ctx)
        if usd is None:
            return None
        total += usd
    return total


def approval_required(action: Action, ctx: PolicyContext, policy: Policy) -> Violation | None:
    """Why an otherwise allowed action must wait for an operator, or None."""
    rules = policy.approvals
    if ctx.operator_approved or action.reduces_position:
        return None
    if action.kind in rules.kinds:
        reason = f"{action.kind} actions need an operator's approval"
    elif rules.above_notional_usd is not None:
        usd = action_usd(action, ctx, policy)
        if usd is not None and usd <= rules.above_notional_usd:
            return None
        shown = "an unpriced value" if usd is None else f"{usd:,.2f} USD"
        reason = f"{shown} is above the approval threshold {rules.above_notional_usd:,.2f} USD"
    else:
        return None
    return Violation(
        f"{APPROVAL}.required",
        APPROVAL,
        Severity.WARNING,
        reason,
        f"approve it within {rules.expiry_minutes:g} minutes: drydock live approve <id>",
    )


#: The layers :mod:`drydock.policy._plan` compiles for (a replaced :data:`LAYERS`, as in a test
#: that adds a layer, is decided by :func:`evaluate_layers` instead).
DESIGN_LAYERS = LAYERS


def evaluate(action: Action, context: PolicyContext, policy: Policy) -> PolicyDecision:
    """Decide one action: the first layer with a critical violation denies; otherwise allow.

    Warnings never deny: they are collected from every layer consulted and returned with the
    verdict (an ALLOW carrying warnings, or a DENY listing the denying layer's violations after
    the warnings of the layers before it), so the journal explains both.

    The policy is compiled once into a rule plan (:mod:`drydock.policy._plan`, cached by content
    hash) that decides exactly as :func:`evaluate_layers`, building messages for denials only.
    """
    if LAYERS is DESIGN_LAYERS:
        plan = _plan.PLANS.get(policy.content_hash)
        if plan is None:
            plan = _plan.plan_for(policy)
        return plan.decide(action, context)
    return evaluate_layers(action, context, policy)


def evaluate_layers(action: Action, context: PolicyContext, policy: Policy) -> PolicyDecision:
    """:func:`evaluate` without the compiled plan: every layer function of :data:`LAYERS` in
    turn (the definition the plan is tested against)."""
    warnings: list[Violation] = []
    for _, layer in LAYERS:
        violations = layer(action, context, policy)
        if not violations:
            continue
        for v in violations:
            if v.severity is Severity.CRITICAL:
                return PolicyDecision(Verdict.DENY, policy.content_hash, (*warnings, *violations))
        warnings.extend(violations)
    hold = approval_required(action, context, policy)
    if hold is not None:
        return PolicyDecision(Verdict.NEEDS_APPROVAL, policy.content_hash, (*warnings, hold))
    return PolicyDecision(Verdict.ALLOW, policy.content_hash, tuple(warnings))
