"""The order lifecycle of a run: intent or model order -> policy decision -> journaled order ->
venue -> journaled fills -> the book, resumable at every step.

:class:`OrderManager` is what every run drives, whatever model keeps its book (the engine's,
on a spot book or with its rules; the resting-order book; the portfolio model): a stored decision is reused,
a stored order is never sent twice, a stored order without a fill is reconciled with the venue
before it is submitted, transient venue errors are retried with jittered backoff (tenacity),
exits that get no fill are tracked as stuck; and the policy state it decides from is the
account's journaled one (live/account_state.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from drydock.errors import ConfigError, DrydockError
from drydock.execution import (
    ExecutionModel,
)
from drydock.logs import get_logger
from drydock.policy import Policy, PolicyContext, cap_usage, evaluate
from drydock.settings import get_settings
from drydock.types import Action, Bar, Fill, Order, OrderIntent, Side, Verdict
from live.account_state import AccountState
from live.engine_book import EngineBook
from live.faults import checkpoint
from live.journal import (
    DecisionRecord,
    JournalRepository,
    RunRecord,
    client_order_id,
)
from live.lifecycle import OrderState, record_state, states_after
from live.order_keeper import OrderKeeper
from live.policy_state import (
    Account,
    build_context,
    is_paused,
    record_decision,
    run_account,
)
from live.portfolio_keeper import PortfolioKeeper
from live.venues.base import TransientVenueError, Venue, VenueError

if TYPE_CHECKING:
    pass

log = get_logger(__name__)

#: Attempts per venue call (1 + retries) on TransientVenueError.
RETRY_ATTEMPTS = 4
#: Default backoff between attempts: exponential with full jitter, 0.5 s base, 8 s cap.
DEFAULT_RETRY_WAIT = wait_random_exponential(multiplier=0.5, max=8)
BREAKER_LAYER = "circuit_breakers"
_ACTION_INIT = frozenset(f.name for f in dataclass_fields(Action) if f.init)


def _order_kind(record: DecisionRecord) -> str:
    """The kind of a journaled order, from its decision's action (``market`` unless kept)."""
    extra = (record.explanation.get("action") or {}).get("extra") or {}
    return str(extra.get("order_type", "market"))


class OrderManager:
    """The order lifecycle and per-run state of one run (see the module docstring)."""

    def __init__(
        self,
        run: RunRecord,
        policy: Policy,
        journal: JournalRepository,
        venue: Venue,
        execution: ExecutionModel,
        book: EngineBook | OrderKeeper | PortfolioKeeper,
        retry_wait: Any = None,
        account: Account | None = None,
    ):
        self.run, self.policy, self.journal = run, policy, journal
        self.venue, self.execution = venue, execution
        self.retry_wait = retry_wait if retry_wait is not None else DEFAULT_RETRY_WAIT
        #: The run's book, kept by its model (engine, resting orders or portfolio); every order
        #: the model decides comes through :meth:`send_sized`.
        self.book = book
        #: The symbol of the order in flight (a portfolio run's orders name their asset).
        self.symbol = run.symbol
        self.kill_file = get_settings().kill_file
        #: Whose policy state this run decides from and writes (default: a replay's own
        #: simulated account, without the operator's pause); see live.account_state.
        self.account = account or run_account(run.strategy_id, run.run_id, operator=False)
        self.acct = AccountState(journal, policy, self.account, self.kill_file)
        #: Called with (kind, text, detail) on fills, denials and breaker trips (the runner's
        #: notifications); None in a replay.
        self.on_event: Callable[[str, str, dict[str, Any]], None] | None = None
        self.rejected = {
            str(e.detail["client_order_id"])
            for e in journal.events(scope=run.run_id, kind="order_failed")
        }
        self.counts = dict.fromkeys(
            (
                "allowed", "denied", "orders", "fills", "new_orders", "skipped", "failures",
                "below_min_notional", "held",
            ),
            0,
        )  # fmt: skip
        #: Exits that got no fill, by symbol: retried every bar until one fills.
        self.stuck: dict[str, OrderIntent] = {}

    def context(self, bar: Bar, price: Decimal | None = None) -> PolicyContext:
        """What the policy reads at ``bar``'s open (or at ``price``, where an exit the core
        released inside the bar is priced): a simulated account's cached counters, or, for the
        shared live account (other runs and operators write it too), the journal's. Positions
        are absolute notionals (a short's too), valued at the price the order is judged at."""
        px = Decimal(str(bar.open)) if price is None else price
        if isinstance(self.book, PortfolioKeeper):
            positions = self.book.notionals(px)
            equity = float(self.book.equity(px))
        else:
            held = abs(float(self.book.qty * px))
            equity = float(self.book.equity(px))
            positions = {self.symbol: held} if held else {}
        if self.account.shared:
            ctx = build_context(
                self.journal, strategy_id=self.run.strategy_id, policy=self.policy, now=bar.ts,
                equity=equity, positions=positions, kill_file_present=self.kill_file.exists(),
                account=self.account,
            )  # fmt: skip
            if self.acct.operator_now is None:
                return ctx
            # the operator's pause is the current one, as in the simulated accounts
            at = self.acct.operator_now()
            return replace(ctx, paused=is_paused(self.journal, self.run.strategy_id, at))
        return self.acct.context(bar.ts, equity, positions)

    def reduces(self, side: Side, qty: Decimal) -> bool:
        """Whether ``qty`` on ``side`` only reduces the position held (long or short)."""
        held = self.book.qty
        return (side is Side.SELL and 0 < qty <= held) or (side is Side.BUY and 0 < qty <= -held)

    def leverage_after(self, side: Side, qty: Decimal, price: Decimal) -> float:
        """Gross exposure after the order over equity, both at ``price`` (1 for spot: a spot
        buy never borrows); what the policy's ``max_leverage`` judges."""
        after = self.book.qty + (qty if side is Side.BUY else -qty)
        equity = self.book.equity(price)
        if equity <= 0:
            return 1e6  # nothing left to lever: any new exposure is unbounded leverage
        if isinstance(self.book, PortfolioKeeper):
            # a rebalance's legs are one intent: its leverage is the gross it ends at (a leg
            # sent before the others may overshoot it for a moment)
            ratio = self.book.target_gross
        else:
            ratio = float(abs(after) * price) / float(equity)
        return ratio if ratio > 1 + 1e-9 else 1.0

    def judge(
        self, key: str, side: Side, qty: Decimal, price: Decimal, bar: Bar, kind: str = "market"
    ) -> tuple[DecisionRecord, Order]:
        """Decide a sized order at ``bar`` (or reuse the journaled decision) and build it; a
        ``kind`` other than market is kept in the action's ``extra`` (``order_type``)."""
        action = Action(
            kind="order",
            venue=self.run.venue,
            symbol=self.symbol,
            side=side,
            quantity=float(qty),
            price=float(price),
            strategy_id=self.run.strategy_id,
            reduces_position=self.reduces(side, qty),
            leverage=self.leverage_after(side, qty, price),
            extra={} if kind == "market" else {"order_type": kind},
        )
        record = self.journal.decision(key)
        ctx = self.context(bar, price)
        if record is None:
            decision = evaluate(action, ctx, self.policy)
            record = record_decision(
                self.journal, self.run.run_id, key, bar.ts, action, decision, self.policy, ctx,
                self.account,
            )  # fmt: skip
            # Denials are rare and matter to an operator: info. Allows are every order: debug.
            (log.debug if decision.allowed else log.info)(
                "replay.decision", run_id=self.run.run_id, client_order_id=key,
                verdict=decision.verdict.value, side=side.value, qty=str(qty),
                rule_ids=[v.rule_id for v in decision.violations],
            )  # fmt: skip
        if record.allowed:
            self.acct.used(bar.ts, cap_usage(action, ctx, self.policy))
        order = Order(
            key, self.run.strategy_id, self.run.venue, self.symbol, side, qty, price, bar.ts,
            kind=kind,
        )  # fmt: skip
        return record, order

    def latch_breaker(self, record: DecisionRecord) -> None:
        """A breaker deny trips the account's latch (``breaker_trip``, journaled once): it holds
        until an operator's ``drydock live reset-breaker`` (live/paper runners) or, in a replay of
        history, for the rest of the run."""
        rules = [
            v["rule_id"]
            for v in record.explanation.get("violations", [])
            if v["layer"] == BREAKER_LAYER
        ]
        tripped = bool(rules) and self.acct.trip(rules, record.ts, f"{record.decision_key}:breaker")
        if tripped and self.on_event is not None:
            self.on_event("breaker", f"{self.run.strategy_id} breaker tripped: {', '.join(rules)}",
                          {"run_id": self.run.run_id})  # fmt: skip

    def send_sized(self, seq: int, side: Side, qty: Decimal, price: Decimal, bar: Bar,
                   at: Bar, reason: object, kind: str = "market",
                   symbol: str | None = None,
                   decided: datetime | None = None) -> None:  # fmt: skip
        """An order the shared model sized (:class:`live.engine_book.EngineBook`,
        :class:`live.order_keeper.OrderKeeper`): the ``seq``-th of ``bar``, priced at ``price``;
        the simulated venue fills it at ``at``'s open (the level of an exit released inside the
        bar, a matched limit's price). ``kind`` ``limit``/``stop``: a resting order the core
        matched, which only a venue that prices such orders takes (the paper venues)."""
        if kind in ("limit", "stop") and not getattr(self.venue, "takes_resting_orders", False):
            raise ConfigError(
                f"Venue {self.venue.name!r} does not take the {kind} orders the core matches for "
                f"strategy {self.run.strategy_id!r} (resting orders are emulated on paper only); "
                "run it with --mode paper or --venue paper."
            )
        self.symbol = symbol or self.run.symbol
        key = (
            client_order_id(self.run.run_id, self.symbol, decided, side)
            if decided is not None
            else client_order_id(f"{self.run.run_id}#{seq}", self.symbol, bar.ts, side)
        )
        set_bar = getattr(self.venue, "set_bar", None)
        if set_bar is not None:
            set_bar(at)
        # an exit that gets no fill is tracked as stuck and sent again at the next bar's open
        exit_of = OrderIntent(self.run.strategy_id, self.symbol, bar.ts, side, 0.0, str(reason))
        self.dispatch(key, bar, lambda: self.judge(key, side, qty, price, bar, kind), exit_of)

    def dispatch(
        self,
        key: str,
        bar: Bar,
        decide: Callable[[], tuple[DecisionRecord, Order] | None],
        intent: OrderIntent | None,
    ) -> None:
        """Decision -> journaled order -> venue -> fills booked and journaled, resumably: a
        stored order is never sent twice. ``intent`` (a target's order) tracks stuck exits."""
        order = self.journal.order(key)
        stored = order is not None or self.journal.decision(key) is not None
        created: bool | None = None  # set when the order row is written with its decision
        if order is None:
            # One commit for the decision and its order: one fsync on the bar-to-submit path.
            with self.journal.transaction():
                decided = decide()
                if decided is None:
                    return
                record, order = decided
                checkpoint("decided")
                if record.allowed:
                    order, created = self._insert(order, record)
                    self.acct.ordered(order.ts)
        else:
            record = self.journal.decision(key) or self._missing_decision(key)
            order = replace(order, kind=_order_kind(record))  # the row keeps no kind
            self.acct.ordered(order.ts)  # the stored row counts as the first run counted it
            if record.allowed:  # resumed: count the stored order's usage as the first run did
                self.acct.used(bar.ts, self._stored_usage(record))
        if record.verdict is Verdict.NEEDS_APPROVAL:
            self.counts["held"] += 1
            return
        self.counts["allowed" if record.allowed else "denied"] += 1
        self.latch_breaker(record)
        if not record.allowed:
            if self.on_event is not None and not stored:
                rules = [v["rule_id"] for v in record.explanation.get("violations", [])]
                side = order.side.value if order is not None else "order"
                self.on_event("denial", f"{side} {self.symbol} denied: "
                              f"{', '.join(rules)}", {"client_order_id": key})  # fmt: skip
            return
        # A decision made before a crash is about to be sent for the first time: decide again
        # under what holds now (kill switch, pause, breaker), not what held then.
        unsent = stored and not self.journal.fills_for(key) and not self.venue.fills_for(key)
        if unsent and not self._still_allowed(key, order, bar):
            return
        if created is None:
            order, created = self._insert(order, record)
        self.counts["orders"] += 1
        self.counts["new_orders"] += int(created)
        journaled = self.journal.fills_for(key)
        if not journaled:  # a crash point only where work is left (not in a finished catch-up)
            checkpoint("ordered")
        held = self.book.qty  # an order against the position held is an exit (stuck if unfilled)
        reduces = intent is not None and (
            (order.side is Side.SELL and held > 0) or (order.side is Side.BUY and held < 0)
        )
        fetched = not journaled
        fills = journaled or self.fetch_fills(order)
        if journaled:  # resumed: the venue answered the first run
            self.acct.execution(True, order.ts, key=f"{order.client_order_id}:execution")
        if reduces and intent is not None:
            self._track_stuck(intent, order, fills, bar)
        closed = len(self.book.trade_pnl)
        for fill in fills:
            self.book.apply(fill)
            self.counts["fills"] += 1
        if fetched and order.client_order_id not in self.rejected:
            self._journal_fills(order, fills, bar)  # fills, states and position: one commit
        elif fills:  # a resumed run: the fills were journaled; the snapshot may not have been
            self.journal.record_position(self.run.run_id, self.book.position(), bar.ts)
        if self.on_event is not None and created:
            for fill in fills:
                self.on_event("fill", f"{fill.side.value} {fill.qty} {fill.symbol} at {fill.price}",
                              {"client_order_id": fill.client_order_id})  # fmt: skip
        for n in range(closed, len(self.book.trade_pnl)):
            self.acct.trade_closed(self.symbol, self.book.trade_pnl[n], bar.ts,
                                   key=f"{self.run.run_id}:trade:{n}")  # fmt: skip

    def _insert(self, order: Order, record: DecisionRecord) -> tuple[Order, bool]:
        """Journal ``order`` under its decision; the stored order, with its kind (the row
        keeps none: it lives in the decision's action)."""
        stored, created = self.journal.insert_order(self.run.run_id, order, record.id)
        return replace(stored, kind=order.kind), created

    def _track_stuck(self, intent: OrderIntent, order: Order, fills: list[Fill], bar: Bar) -> None:
        """An exit that got no fill flags the symbol stuck (journaled, alerted once); the
        session retries it every bar until an exit fills, which journals ``unstuck``."""
        symbol = order.symbol
        if fills:
            if self.stuck.pop(symbol, None) is not None:
                self.journal.record_event(
                    "unstuck", self.run.run_id, {"symbol": symbol, "client_order_id":
                    order.client_order_id}, bar.ts, key=f"{order.client_order_id}:unstuck",
                )  # fmt: skip
            return
        first = symbol not in self.stuck
        self.stuck[symbol] = intent
        new = self.journal.record_event(
            "stuck", self.run.run_id,
            {"symbol": symbol, "client_order_id": order.client_order_id, "qty": str(order.qty),
             "target": intent.target},
            bar.ts, key=f"{order.client_order_id}:stuck",
        )  # fmt: skip
        log.error("replay.position_stuck", run_id=self.run.run_id, symbol=symbol,
                  client_order_id=order.client_order_id, held=str(self.book.qty))  # fmt: skip
        if first and new and self.on_event is not None:
            self.on_event("stuck", f"{symbol}: exit of {order.qty} got no fill; retrying every "
                          "bar", {"client_order_id": order.client_order_id})  # fmt: skip

    def flat_again(self, bar: Bar) -> None:
        """The position of a stuck symbol is gone without an exit of ours (the model's target
        moved, a stop it no longer needs): ``unstuck``, nothing left to retry."""
        for symbol in list(self.stuck):
            del self.stuck[symbol]
            self.journal.record_event(
                "unstuck", self.run.run_id, {"symbol": symbol, "client_order_id": ""}, bar.ts,
                key=f"{self.run.run_id}:{symbol}:{bar.ts.isoformat()}:unstuck",
            )  # fmt: skip

    def _still_allowed(self, key: str, order: Order, bar: Bar) -> bool:
        """Re-evaluate a stored ALLOW that was never sent; journal the new decision if it denies.

        A stored decision is reused only while it still holds: the action is evaluated again in
        the current context, and a DENY (kill file engaged during the crash, a pause, a tripped
        breaker) is journaled under ``<key>:recheck`` and the order is not sent.
        """
        action = Action(
            kind="order", venue=self.run.venue, symbol=order.symbol, side=order.side,
            quantity=float(order.qty), price=float(order.price), strategy_id=self.run.strategy_id,
            reduces_position=self.reduces(order.side, order.qty),
        )  # fmt: skip
        decision = evaluate(action, self.context(bar, order.price), self.policy)
        if decision.allowed:
            return True
        self.journal.record_decision(
            self.run.run_id, f"{key}:recheck", bar.ts, action, decision, self.policy.version
        )
        self.counts["allowed"] -= 1
        self.counts["denied"] += 1
        log.warning(
            "replay.stored_decision_revoked", run_id=self.run.run_id, client_order_id=key,
            rule_ids=[v.rule_id for v in decision.violations],
        )  # fmt: skip
        return False

    def _stored_usage(self, record: DecisionRecord) -> dict[tuple[str, str], float]:
        """Cap usage of a journaled ALLOW, recomputed from its stored action."""
        stored = record.explanation.get("action") or {}
        fields = {k: v for k, v in stored.items() if k in _ACTION_INIT and k != "payload"}
        if isinstance(fields.get("side"), str):
            fields["side"] = Side(fields["side"])
        action = Action(**fields)
        return cap_usage(action, PolicyContext(now=record.ts), self.policy)

    def fetch_fills(self, order: Order) -> list[Fill]:
        """Reconcile with the venue, submit only if it knows nothing, journal what it did."""
        if order.client_order_id in self.rejected:
            self._failed(order)
            return []
        try:
            fills = self._submit(order)
        except VenueError as exc:
            log.warning(
                "replay.venue_failed", run_id=self.run.run_id,
                client_order_id=order.client_order_id, error=str(exc),
            )  # fmt: skip
            state = (
                OrderState.FAILED if isinstance(exc, TransientVenueError) else OrderState.REJECTED
            )
            record_state(self.journal, self.run.run_id, order.client_order_id, state, order.ts,
                         error=str(exc))  # fmt: skip
            self.journal.record_event(
                "order_failed",
                self.run.run_id,
                {"client_order_id": order.client_order_id, "error": str(exc)},
                order.ts,
                key=f"{order.client_order_id}:failed",
            )
            self.rejected.add(order.client_order_id)
            self._failed(order)
            return []
        self.acct.execution(True, order.ts, key=f"{order.client_order_id}:execution")
        checkpoint("submitted")
        return fills

    def _journal_fills(self, order: Order, fills: list[Fill], bar: Bar) -> None:
        """The venue's answer in one commit: its fills, the order's states and the position."""
        with self.journal.transaction():
            for fill in fills:
                self.journal.record_fill(self.run.run_id, fill)
            for state in states_after(order, fills, getattr(self.venue, "sends_orders", True)):
                record_state(self.journal, self.run.run_id, order.client_order_id, state, order.ts)
            if fills:
                self.journal.record_position(self.run.run_id, self.book.position(), bar.ts)
        checkpoint("filled")

    def _submit(self, order: Order) -> list[Fill]:
        """Reconcile then submit, retrying transient errors with backoff (tenacity)."""

        def before_sleep(state: RetryCallState) -> None:
            log.warning(
                "replay.venue_retry", run_id=self.run.run_id,
                client_order_id=order.client_order_id, attempt=state.attempt_number,
                error=str(state.outcome.exception()) if state.outcome else "",
            )  # fmt: skip

        retrying = Retrying(
            retry=retry_if_exception_type(TransientVenueError),
            stop=stop_after_attempt(RETRY_ATTEMPTS),
            wait=self.retry_wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        fills: list[Fill] = retrying(self._call_venue, order)
        return fills

    def _call_venue(self, order: Order) -> list[Fill]:
        known = self.venue.fills_for(order.client_order_id)
        fills = known or self.venue.submit(order)
        log.debug(
            "replay.venue_call", run_id=self.run.run_id, client_order_id=order.client_order_id,
            venue=self.venue.name, call="fills_for" if known else "submit", fills=len(fills),
        )  # fmt: skip
        return fills

    def _failed(self, order: Order) -> None:
        self.acct.execution(False, order.ts, key=f"{order.client_order_id}:execution")
        self.counts["failures"] += 1

    def _missing_decision(self, key: str) -> DecisionRecord:
        raise DrydockError(
            f"Journal {getattr(self.journal, 'path', '')} holds order {key} without its policy "
            "decision; the journal is inconsistent. Inspect it before resuming this run."
        )

    def mark(self, bar: Bar, tf: timedelta) -> tuple[datetime, float]:
        equity = float(self.book.equity(bar.close))
        self.acct.mark(bar.ts + tf, equity)
        return bar.ts + tf, equity
