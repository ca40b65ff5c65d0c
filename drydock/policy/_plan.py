"""A policy compiled once into a rule plan: the fast path of :func:`drydock.policy.evaluate`.

:func:`plan_for` compiles a :class:`~drydock.policy._config.Policy` on first use and caches the
:class:`RulePlan` by the policy's ``content_hash`` (equal rules, one plan). Compiling resolves
everything a decision would otherwise look up per call: lists become frozensets (blocklists,
grant scopes, allowlists), grants are indexed by strategy (in policy order, ``"*"`` included),
unset rules are dropped, rolling caps become plain tuples with their thresholds precomputed.

A decision then asks each layer, in the engine's order, one cheap question: *may this layer
object?* The answer is exact or conservative (it never says no when the layer would object).
Only when it says yes does the plan call the engine's own layer function
(:mod:`drydock.policy._engine`), which builds the violations with their messages and
suggestions: messages are formatted for denials only, an allow formats no string and returns a
decision shared by every allow of the plan. The layer function stays the single definition of
what each rule says, so the plan cannot drift from it in wording.

The system, session, risk and breaker layers also name *which* rules failed and every value
their messages print; a plan remembers the worded denial under that list (at most
:data:`MAX_DENIALS`), so a denial repeated on the same values (a tripped breaker, a full book,
a blocked venue) is not formatted again. ``tests/drydock/test_policy_plan.py`` checks that the
plan and :func:`~drydock.policy._engine.evaluate_layers` decide alike, violation for violation,
on generated policies, actions and contexts, and on inputs that compare equal but print
differently.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from drydock.policy import _engine as layers
from drydock.policy._build import decision
from drydock.policy._config import SUPPORTED_ACTION_KINDS
from drydock.types import Action, PolicyDecision, Severity, Side, Verdict, Violation

if TYPE_CHECKING:
    from drydock.policy._config import Grant, Policy, RollingCap
    from drydock.policy._context import PolicyContext

#: A compiled grant: expiry, granted kinds, venues, symbols (None: any) and the notional cap.
_Grant = tuple[
    datetime | None, frozenset[str], frozenset[str] | None, frozenset[str] | None, float | None
]
#: A compiled rolling cap: id, scope, unit ("usd" or an asset), keys (None: every key), and the
#: threshold ``max * (1 + 1e-12)`` the engine compares against.
_Cap = tuple[str, str, str, frozenset[str] | None, float]

#: Plans kept at most (by content hash); the oldest is dropped beyond it.
MAX_PLANS = 64
#: Denials a plan remembers (by failed rules and the values their messages print); the memo is
#: emptied when full.
MAX_DENIALS = 4096
PLANS: dict[str, RulePlan] = {}


def plan_for(policy: Policy) -> RulePlan:
    """The compiled plan of ``policy`` (compiled once per content hash, then cached)."""
    key = policy.content_hash
    plan = PLANS.get(key)
    if plan is None:
        plan = RulePlan(policy)
        while len(PLANS) >= MAX_PLANS:
            PLANS.pop(next(iter(PLANS)), None)
        PLANS[key] = plan
    return plan


def _frozen(values: list[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def _grant(grant: Grant) -> _Grant:
    return (
        grant.expires_at,
        frozenset(grant.actions),
        _frozen(grant.venues),
        _frozen(grant.symbols),
        grant.max_notional_usd,
    )


def _cap(cap: RollingCap) -> _Cap:
    return (cap.id, cap.scope, cap.unit, _frozen(cap.keys), cap.max * (1 + 1e-12))


class RulePlan:
    """One policy's rules, resolved for deciding: :meth:`decide` is ``evaluate`` for it."""

    __slots__ = (
        "_allow",
        "_approval_above",
        "_approval_kinds",
        "_approvals",
        "_blocked_symbols",
        "_blocked_tokens",
        "_blocked_venues",
        "_blocklists",
        "_breaker_drawdown",
        "_breaker_failures",
        "_breaker_losses",
        "_breaker_win_rate",
        "_breaker_window",
        "_breakers_set",
        "_caps",
        "_caps_by_asset",
        "_chains",
        "_cooldown",
        "_daily_loss_pct",
        "_daily_loss_usd",
        "_denials",
        "_emergency_stop",
        "_fee_pct",
        "_grants",
        "_grants_all",
        "_grants_any",
        "_grants_by_strategy",
        "_hash",
        "_kill_switch",
        "_limits",
        "_max_concentration",
        "_max_daily_trades",
        "_max_leverage",
        "_max_open",
        "_max_order",
        "_max_position",
        "_max_rate",
        "_max_slippage",
        "_min_order",
        "_min_position",
        "_policy",
        "_risk_per_trade",
        "_risk_rules",
        "_transfer_allow",
        "_transfer_amounts",
        "_transfer_usd",
        "_transfers",
        "_whitelist",
    )

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._hash = policy.content_hash
        self._allow = PolicyDecision(Verdict.ALLOW, self._hash, ())
        self._denials: dict[tuple[Hashable, ...], PolicyDecision] = {}
        system = policy.system
        self._emergency_stop = system.emergency_stop
        self._kill_switch = system.kill_switch
        self._blocked_venues = frozenset(system.blocked_venues)
        self._blocked_symbols = frozenset(system.blocked_symbols)
        self._blocked_tokens = frozenset(system.blocked_tokens)
        self._chains = _frozen(system.allowed_chains)
        self._blocklists = bool(
            self._blocked_symbols or self._blocked_tokens or self._chains is not None
        )
        grants = policy.session.grants
        self._grants = bool(grants)
        self._grants_all = tuple(_grant(g) for g in grants)
        self._grants_any = tuple(_grant(g) for g in grants if g.strategy == "*")
        self._grants_by_strategy = {
            name: tuple(_grant(g) for g in grants if g.strategy in ("*", name))
            for name in {g.strategy for g in grants} - {"*"}
        }
        transaction = policy.transaction
        self._caps = tuple(_cap(c) for c in transaction.rolling_caps)
        self._caps_by_asset = any(c[1] == "asset" or c[2] != "usd" for c in self._caps)
        transfers = transaction.transfers
        self._transfers = transfers is not None
        self._transfer_allow = (
            None if transfers is None else _frozen(transfers.destination_allowlist)
        )
        self._transfer_amounts = {} if transfers is None else dict(transfers.max_amount)
        self._transfer_usd = None if transfers is None else transfers.max_usd
        risk = self._risk_rules = policy.risk
        self._limits = risk.has_stateful_limits
        self._whitelist = _frozen(risk.symbol_whitelist)
        self._min_order = risk.min_order_notional_usd
        self._max_order = risk.max_order_notional_usd
        self._max_position = risk.max_position_notional_usd
        self._max_leverage = risk.max_leverage
        self._max_daily_trades = risk.max_daily_trades
        self._max_open = risk.max_concurrent_positions
        self._min_position = risk.min_position_notional_usd
        self._max_concentration = risk.max_concentration_pct
        self._max_slippage = risk.max_slippage_bps
        self._fee_pct = risk.max_fee_pct
        self._daily_loss_usd = risk.max_daily_loss_usd
        self._daily_loss_pct = risk.max_daily_loss_pct
        self._risk_per_trade = risk.max_risk_per_trade_pct
        minutes = risk.cooldown_minutes
        self._cooldown = None if minutes is None else timedelta(minutes=minutes)
        self._max_rate = risk.max_orders_per_minute
        breakers = policy.circuit_breakers
        self._breaker_drawdown = breakers.max_drawdown_pct
        self._breaker_losses = breakers.max_consecutive_losses
        self._breaker_failures = breakers.max_consecutive_failures
        self._breaker_win_rate = breakers.min_win_rate_pct
        self._breaker_window = breakers.win_rate_window
        self._breakers_set = any(
            v is not None
            for v in (
                self._breaker_drawdown,
                self._breaker_losses,
                self._breaker_failures,
                self._breaker_win_rate,
            )
        )
        approvals = policy.approvals
        self._approval_kinds = frozenset(approvals.kinds)
        self._approval_above = approvals.above_notional_usd
        self._approvals = bool(self._approval_kinds) or self._approval_above is not None

    # -- the decision ---------------------------------------------------------------------------

    def decide(self, action: Action, ctx: PolicyContext) -> PolicyDecision:
        """The engine's decision on ``action`` in ``ctx`` (see :func:`drydock.policy.evaluate`)."""
        kind = action.kind
        # The system layer, inlined: any switch, malformed input, unsupported kind or blocklist.
        if (
            self._emergency_stop
            or action.malformed
            or ctx._problems
            or kind not in SUPPORTED_ACTION_KINDS
            or action.venue in self._blocked_venues
            or (
                (self._kill_switch or ctx.kill_file_present)
                and not action.reduces_position
                and kind != "deposit"
            )
            or (self._blocklists and self._system_lists_object(action))
        ):
            return self._denial(action, ctx, 0, self._system_key(action, ctx))
        if (self._grants or ctx.paused) and self._session_may_object(action, ctx):
            return self._denial(action, ctx, 1, self._session_key(action, ctx))
        if kind == "order":
            held = ctx.position_notional_usd.get(action.symbol, 0.0)
            if action.reduces_position:  # exits skip the caps, risk limits and breakers
                if action.notional_usd > held * (1 + 1e-9) + 1e-9:
                    return self._consult(action, ctx, 3)
                return self._allow
            if self._caps and self._caps_may_object(
                action,
                ctx,
                action.symbol.split("/", 1)[0] if self._caps_by_asset else "",
                action.quantity,
                "",
                action.notional_usd,
            ):
                return self._consult(action, ctx, 2)
            failed = self._risk(action, ctx, held)
            if failed:
                return self._denial(action, ctx, 3, failed)
            failed = self._breakers(ctx)
            if failed:
                return self._denial(action, ctx, 4, failed)
        elif kind == "transfer" or kind == "withdraw":
            if self._transfer_may_object(action, ctx):
                return self._consult(action, ctx, 2)
        elif kind != "deposit":  # chain payloads: the engine's layers, from the transaction on
            return self._consult(action, ctx, 2)
        if (
            self._approvals
            and not ctx.operator_approved
            and not action.reduces_position
            and self._approval_may_hold(action)
        ):
            return self._consult(action, ctx, 5)
        return self._allow

    def _denial(
        self, action: Action, ctx: PolicyContext, layer: int, failed: list[Hashable] | None
    ) -> PolicyDecision:
        """The DENY of layer ``layer``, whose failed rules and their message inputs are
        ``failed``: worded by the engine's layer function the first time, then remembered
        (``None``: inputs that are not plain text and numbers, worded afresh every time)."""
        if failed is None:
            return self._consult(action, ctx, layer)
        key = (layer, *failed)
        try:
            found = self._denials.get(key)
        except TypeError:  # an unhashable input (a malformed strategy id): word it afresh
            return self._consult(action, ctx, layer)
        if found is None:
            found = self._consult(action, ctx, layer)
            if len(self._denials) >= MAX_DENIALS:
                self._denials.clear()
            self._denials[key] = found
        return found

    def _consult(self, action: Action, ctx: PolicyContext, start: int) -> PolicyDecision:
        """Decide with the engine's own layer functions from layer ``start`` (5: approval only),
        the layers before it having no objection: they build the violations and messages."""
        policy = self._policy
        warnings: list[Violation] = []
        for _, layer in layers.LAYERS[start:]:
            violations = layer(action, ctx, policy)
            if not violations:
                continue
            for v in violations:
                if v.severity is Severity.CRITICAL:
                    return decision(Verdict.DENY, self._hash, (*warnings, *violations))
            warnings.extend(violations)
        hold = layers.approval_required(action, ctx, policy)
        if hold is not None:
            return PolicyDecision(Verdict.NEEDS_APPROVAL, self._hash, (*warnings, hold))
        if not warnings:
            return self._allow
        return PolicyDecision(Verdict.ALLOW, self._hash, tuple(warnings))

    # -- may a layer object? (exact or conservative: never False when it would) -----------------

    def _system_lists_object(self, action: Action) -> bool:
        """The symbol and token blocklists and the chain allowlist."""
        symbol, token, chain = action.symbol, action.token, action.chain
        if symbol and symbol in self._blocked_symbols:
            return True
        if token and token in self._blocked_tokens:
            return True
        return bool(chain) and self._chains is not None and chain not in self._chains

    def _session_may_object(self, action: Action, ctx: PolicyContext) -> bool:
        if ctx.paused and not action.reduces_position:
            return True
        if not self._grants:
            return False
        try:
            mine = self._grants_by_strategy.get(action.strategy_id, self._grants_any)
        except TypeError:  # an unhashable strategy id: let the engine say why
            return True
        now, kind, venue, symbol = ctx.now, action.kind, action.venue, action.symbol
        notional = action.notional_usd
        for expires_at, kinds, venues, symbols, cap in mine:
            if expires_at is not None and (now is None or now >= expires_at):
                continue
            if kind not in kinds:
                continue
            if venues is not None and venue not in venues:
                continue
            if symbols is not None and symbol not in symbols:
                continue
            if cap is not None and notional > cap:
                continue
            return False
        return True

    @staticmethod
    def _system_key(action: Action, ctx: PolicyContext) -> list[Hashable] | None:
        """Everything the system layer's violations read (the policy's switches are constant):
        None for a malformed action or a kind that is not text, whose raw values (``1`` and
        ``1.0`` are equal keys) print differently."""
        if action.malformed or type(action.kind) is not str:
            return None
        return [
            action.kind,
            ctx._problems,
            action.reduces_position,
            ctx.kill_file_present,
            action.venue,
            action.symbol,
            action.token,
            action.chain,
        ]

    def _session_key(self, action: Action, ctx: PolicyContext) -> list[Hashable] | None:
        """Everything the session layer's violations read: the pause, the strategy (which grants
        are its own, and the no-grant message), and each grant's expiry against the clock, kind,
        venue, symbol and notional. None for a strategy id that is not text."""
        if type(action.strategy_id) is not str:
            return None
        if ctx.paused and not action.reduces_position:
            return ["paused", action.strategy_id]
        now = ctx.now
        expired = tuple(g[0] is not None and (now is None or now >= g[0]) for g in self._grants_all)
        return [
            action.strategy_id,
            now is None,
            expired,
            action.kind,
            action.venue,
            action.symbol,
            action.notional_usd,
        ]

    def _caps_may_object(
        self,
        action: Action,
        ctx: PolicyContext,
        asset: str,
        amount: float,
        destination: str,
        usd: float | None,
    ) -> bool:
        """Whether one spend takes a rolling cap past its maximum (or cannot be priced)."""
        usage = ctx.rolling_usage
        for cap_id, scope, unit, keys, limit in self._caps:
            if unit == "usd":
                if usd is None:
                    price = ctx.prices_usd.get(asset)
                    if price is None:
                        return True
                    usd = amount * price
                if not math.isfinite(usd):
                    return True
                added = usd
            elif asset == unit:
                added = amount
            else:
                continue
            if scope == "strategy":
                key = action.strategy_id
            elif scope == "wallet":
                key = action.wallet
            elif scope == "asset":
                key = asset
            elif scope == "destination":
                key = destination
            else:
                key = "*"
            if keys is not None and key not in keys:
                continue
            if usage.get((cap_id, key), 0.0) + added > limit:
                return True
        return False

    def _transfer_may_object(self, action: Action, ctx: PolicyContext) -> bool:
        """The transaction layer of a transfer or withdrawal: payee, caps, rolling caps."""
        if not self._transfers:
            return True
        to, token, quantity = action.to, action.token, action.quantity
        allow = self._transfer_allow
        if allow is not None and to not in allow:
            return True
        cap = self._transfer_amounts.get(token)
        if cap is not None and quantity > cap:
            return True
        usd = action.notional_usd if action.price > 0 else None
        if self._transfer_usd is not None:
            priced = usd
            if priced is None:
                price = ctx.prices_usd.get(token)
                if price is None:
                    return True
                priced = quantity * price
            if priced > self._transfer_usd:
                return True
        return bool(self._caps) and self._caps_may_object(action, ctx, token, quantity, to, usd)

    # -- the risk and breaker layers of an order entry: which rules fail, on what inputs -------
    #
    # Each failed rule adds its tag and every value its message prints, so equal lists word equal
    # violations. The values are exact where they are printed: notionals, prices, quantities and
    # percentages are > 0 there (never a -0.0 that would print differently from 0.0), counts are
    # ints (the context refuses anything else), and a close time carries its UTC offset (two
    # equal instants in different offsets print different ISO times).

    def _risk(self, action: Action, ctx: PolicyContext, held: float) -> list[Hashable]:
        """The risk layer's failed rules for an order entry adding to ``held`` (engine order)."""
        out: list[Hashable] = []
        symbol, notional = action.symbol, action.notional_usd
        whitelist = self._whitelist
        if whitelist is not None and symbol not in whitelist:
            out.append(("whitelist", symbol))
        limit = self._min_order
        if limit is not None and notional < limit:
            out.append(("min_order", notional))
        limit = self._max_order
        if limit is not None and notional > limit:
            out.append(("max_order", notional))
        after = held + notional
        limit = self._max_position
        if limit is not None and after > limit:
            out.append(("max_position", symbol, after))
        limit = self._max_leverage
        if limit is not None and action.leverage > limit:
            out.append(("leverage", action.leverage))
        count = self._max_daily_trades
        if count is not None and ctx.trades_today >= count:
            out.append(("trades", ctx.trades_today))
        count = self._max_open
        if count is not None and held == 0 and ctx.open_positions >= count:
            out.append(("open", ctx.open_positions))
        limit = self._min_position
        if limit is not None and after < limit:
            out.append(("min_position", symbol, after))
        limit = self._max_concentration
        if limit is not None:
            equity = ctx.equity_usd
            pct = after / equity * 100.0 if equity > 0 else math.inf
            if pct > limit:
                out.append(("concentration", symbol, pct, equity > 0))
        limit = self._max_slippage
        if limit is not None:
            quote, price = action.quoted_price, action.price
            if quote <= 0:
                out.append(("no_quote",))
            else:
                worse = price - quote if action.side is Side.BUY else quote - price
                if not worse / quote * 10_000.0 <= limit:
                    out.append(("slippage", price, quote, action.side))
        limit = self._fee_pct
        if limit is not None and action.fee_usd / notional * 100.0 > limit:
            out.append(("fee", action.fee_usd, notional))
        if self._limits:
            self._stateful(action, ctx, out)
        return out

    def _stateful(self, action: Action, ctx: PolicyContext, out: list[Hashable]) -> None:
        """Add the failed stateful limits (:mod:`drydock.policy._limits`)."""
        pnl = ctx.daily_pnl_usd
        loss = -pnl if pnl < 0 else 0.0  # max(0.0, -pnl), never -0.0
        limit = self._daily_loss_usd
        denied = limit is not None and loss >= limit
        limit = self._daily_loss_pct
        base = ctx.day_start_equity_usd
        if limit is not None:
            denied = denied or base <= 0 or loss / base * 100.0 >= limit
        if denied:
            out.append(("daily_loss", loss, base if base > 0 else 0.0))
        limit = self._risk_per_trade
        if limit is not None:
            stop, price, equity = action.stop_price, action.price, ctx.equity_usd
            if (
                stop <= 0
                or (stop >= price if action.side is Side.BUY else stop <= price)
                or not equity > 0
                or not action.quantity * abs(price - stop) / equity * 100.0 <= limit
            ):
                shown = equity if equity > 0 else 0.0
                out.append(("risk_per_trade", stop, price, action.side, action.quantity, shown))
        wait = self._cooldown
        if wait is not None:
            closed = ctx.last_close_at.get(action.symbol)
            if closed is not None:
                now = ctx.now
                if now is None or now < closed + wait:
                    out.append(("cooldown", action.symbol, closed, closed.utcoffset(), now))
        count = self._max_rate
        if count is not None and ctx.orders_last_minute >= count:
            out.append(("rate", ctx.orders_last_minute))

    def _breakers(self, ctx: PolicyContext) -> list[Hashable]:
        """The breaker layer's failed rules for an order entry (engine order)."""
        out: list[Hashable] = []
        if ctx.breaker_tripped:
            out.append("tripped")
        if not self._breakers_set:
            return out
        limit = self._breaker_drawdown
        if limit is not None:
            peak = ctx.equity_high_water_usd  # PolicyContext.drawdown_pct, inlined
            drawdown = (peak - ctx.equity_usd) / peak * 100.0 if peak > 0 else 0.0
            if drawdown >= limit:
                out.append(("drawdown", ctx.drawdown_pct))
        count = self._breaker_losses
        if count is not None and ctx.consecutive_losses >= count:
            out.append(("losses", ctx.consecutive_losses))
        count = self._breaker_failures
        if count is not None and ctx.consecutive_failures >= count:
            out.append(("failures", ctx.consecutive_failures))
        floor = self._breaker_win_rate
        if floor is not None:
            window = self._breaker_window
            recent = ctx.recent_trade_wins[-window:]
            if len(recent) >= window:
                rate = sum(recent) / window * 100.0
                if rate < floor:
                    out.append(("win_rate", rate))
        return out

    def _approval_may_hold(self, action: Action) -> bool:
        """Whether ``[approvals]`` may hold an entry no operator approved yet."""
        if action.kind in self._approval_kinds:
            return True
        above = self._approval_above
        if above is None:
            return False
        if action.kind == "order" or action.price > 0:
            return not action.notional_usd <= above
        return True  # value from the spends: the engine prices them
