"""Paper replay: a strategy's incremental form over lake bars, every order through the policy.

Per bar t: the strategy sees t's closed bar and may emit an intent. At bar t+1's open (the same
instant as t's close on a 24/7 market) the intent is sized from current equity, turned into an
:class:`Action`, evaluated by the policy engine, journaled as a decision and, if allowed, as an
order with a deterministic client order id; the paper venue fills it at t+1's open with research's
fee and slippage; the fill and the new position are journaled. Equity is marked at every close.

The journal wins on a rerun with the same run id: a stored decision is reused rather than
re-evaluated, a stored order is never sent again, and a stored order without a fill is first
reconciled with the venue and only then submitted (unless the venue rejected it: a rejection is
journaled and final). Transient venue errors are retried with jittered exponential backoff
(tenacity, bounded attempts). Orders whose value at the fill price is below the instrument's min
notional are skipped and counted (``below_min_notional``), as the backtest does; a target the
execution model cannot trade stops the replay with the backtest's exact error. So a replay that crashed
anywhere can be rerun to completion, and a finished one reruns to the same result without
writing new rows.
Intents on the last bar have no next open to fill at; they are counted as ``pending`` only.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from drydock import ohlcv
from drydock.errors import ConfigError, DrydockError
from drydock.execution import (
    ExecutionModel,
    FillTiming,
    below_min_notional,
    check_target,
    check_targets,
)
from drydock.fills import EngineConfig, PortfolioConfig, check_exposures
from drydock.logs import get_logger
from drydock.markets import instrument_for
from drydock.metrics import summarize
from drydock.policy import Policy, PolicyContext, cap_usage, evaluate, load_policy
from drydock.settings import get_settings
from drydock.timeframes import periods_per_year, timeframe_delta
from drydock.types import Action, Bar, Fill, Order, OrderIntent, Position, Side, Verdict
from live.account_state import AccountState
from live.engine_book import EngineBook
from live.faults import checkpoint
from live.journal import (
    DecisionRecord,
    JournalRepository,
    RunLease,
    RunRecord,
    client_order_id,
    open_journal,
)
from live.lease import LeaseHeld
from live.lifecycle import OrderState, record_state, states_after
from live.marks import MarkLog
from live.order_keeper import OrderKeeper, OrderStrategyRun
from live.policy_state import (
    Account,
    build_context,
    is_paused,
    live_account,
    record_decision,
    run_account,
)
from live.portfolio import Book, size_order
from live.portfolio_keeper import PortfolioKeeper
from live.venues.base import SimulatedVenue, TransientVenueError, Venue, VenueError
from live.venues.paper import PaperVenue
from strategies.base import IncrementalRunner, Strategy, iter_bars
from strategies.registry import get_strategy

if TYPE_CHECKING:
    import polars as pl

    from drydock.events import Event

log = get_logger(__name__)

MODE = "paper-replay"
#: Attempts per venue call (1 + retries) on TransientVenueError.
RETRY_ATTEMPTS = 4
#: Default backoff between attempts: exponential with full jitter, 0.5 s base, 8 s cap.
DEFAULT_RETRY_WAIT = wait_random_exponential(multiplier=0.5, max=8)
BREAKER_LAYER = "circuit_breakers"
#: Longest stretch of stepping whose journal rows commit together on a venue that forgets on a
#: crash (:meth:`Session.batched`); short enough that operators' writes are not held up.
BATCH_SECONDS = 0.25
_ACTION_INIT = frozenset(f.name for f in dataclass_fields(Action) if f.init)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Outcome of one replay: equity curve, closed trades, journal counts and metrics.

    ``timestamps[0]`` is the first bar's open (starting cash); ``timestamps[i]`` for i >= 1 is
    the close of bar i-1, where ``equity[i]`` is marked.
    """

    run_id: str
    policy_hash: str
    policy_version: str
    timestamps: Sequence[datetime]
    equity: list[float]
    trade_pnl: list[float]
    bars: int
    intents: int
    allowed: int
    denied: int
    orders: int
    fills: int
    new_orders: int
    pending: int
    skipped: int
    failures: int
    below_min_notional: int
    final_position: Position
    metrics: dict[str, float] = field(default_factory=dict)
    held: int = 0  # NEEDS_APPROVAL decisions: a replay has no operator, so they never execute

    @property
    def final_equity(self) -> float:
        return self.equity[-1]


def _order_kind(record: DecisionRecord) -> str:
    """The kind of a journaled order, from its decision's action (``market`` unless kept)."""
    extra = (record.explanation.get("action") or {}).get("extra") or {}
    return str(extra.get("order_type", "market"))


def default_run_id(parts: Mapping[str, object]) -> str:
    """Same inputs and policy -> same run id, so rerunning a replay resumes it."""
    blob = json.dumps(dict(parts), sort_keys=True, default=str)
    return "replay-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


class _Replay:
    """Mutable state of one replay; :func:`replay` is the public entry point."""

    def __init__(
        self,
        run: RunRecord,
        policy: Policy,
        journal: JournalRepository,
        venue: Venue,
        execution: ExecutionModel,
        retry_wait: Any = None,
        account: Account | None = None,
    ):
        self.run, self.policy, self.journal = run, policy, journal
        self.venue, self.execution = venue, execution
        self.retry_wait = retry_wait if retry_wait is not None else DEFAULT_RETRY_WAIT
        cash = execution.init_cash
        self.book: Book | EngineBook | OrderKeeper | PortfolioKeeper = Book(
            run.strategy_id, run.symbol, Decimal(str(cash))
        )
        self.instrument = venue.instrument(run.symbol)
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

    def decide(
        self, key: str, intent: OrderIntent, bar: Bar
    ) -> tuple[DecisionRecord, Order] | None:
        """Size the intent at ``bar``'s open and decide it (or reuse the journaled decision)."""
        assert isinstance(self.book, Book), "an engine-kept run sizes in its EngineBook"
        sized = size_order(self.book, intent.target, bar.open, self.execution, self.instrument)
        if sized is None:
            self.counts["skipped"] += 1
            return None
        side, qty = sized
        price = Decimal(str(bar.open))
        fill_price = self.execution.slipped_price_dec(price, buy=side is Side.BUY)
        if below_min_notional(qty, fill_price, self.instrument.min_notional):
            self.counts["skipped"] += 1
            self.counts["below_min_notional"] += 1
            log.debug(
                "replay.skipped_min_notional", run_id=self.run.run_id, client_order_id=key,
                qty=str(qty), fill_price=str(fill_price),
                min_notional=str(self.instrument.min_notional),
            )  # fmt: skip
            return None
        return self.judge(key, side, qty, price, bar)

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

    def execute(self, intent: OrderIntent, bar: Bar) -> None:
        """Intent -> decision -> journaled order -> fill at ``bar``'s open -> fill + position."""
        key = client_order_id(self.run.run_id, intent.symbol, intent.ts, intent.side)
        self.dispatch(key, bar, lambda: self.decide(key, intent, bar), intent)

    def send_sized(self, seq: int, side: Side, qty: Decimal, price: Decimal, bar: Bar,
                   at: Bar, reason: object, kind: str = "market",
                   symbol: str | None = None) -> None:  # fmt: skip
        """An order the shared model sized (:class:`live.engine_book.EngineBook`,
        :class:`live.order_keeper.OrderKeeper`): the ``seq``-th of ``bar``, priced at ``price``;
        the simulated venue fills it at ``at``'s open (the level of an exit released inside the
        bar, a matched limit's price). ``kind`` ``limit``/``stop``: a resting order the core
        matched, which only a venue that prices such orders takes (the paper venues)."""
        if kind != "market" and not getattr(self.venue, "takes_resting_orders", False):
            raise ConfigError(
                f"Venue {self.venue.name!r} does not take the {kind} orders the core matches for "
                f"strategy {self.run.strategy_id!r} (resting orders are emulated on paper only); "
                "run it with --mode paper or --venue paper."
            )
        self.symbol = symbol or self.run.symbol
        key = client_order_id(f"{self.run.run_id}#{seq}", self.symbol, bar.ts, side)
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

    def retry_intents(self, bar: Bar, pending: list[OrderIntent]) -> list[OrderIntent]:
        """A fresh exit intent at ``bar`` for each stuck symbol the strategy did not trade."""
        wanted = {i.symbol for i in pending}
        return [
            replace(intent, ts=bar.ts, reason="stuck-retry")
            for symbol, intent in self.stuck.items()
            if symbol not in wanted
        ]

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


def _load_bars(
    key: ohlcv.SeriesKey,
    start: datetime | None,
    end: datetime | None,
    lake_dir: Path | None,
    strategy: Strategy,
    params: Mapping[str, float],
    engine: EngineConfig | None = None,
) -> list[Bar]:
    """Bars of the window, checked by the strategy exactly as a backtest checks them."""
    frame = ohlcv.read(key, start, end, lake_dir)
    strategy.require_history(frame, key, dict(params), start, end, lake_dir)
    check_target_series(strategy, params, frame, engine)
    return iter_bars(frame)


def check_target_series(
    strategy: Strategy,
    params: Mapping[str, float],
    frame: pl.DataFrame,
    engine: EngineConfig | None = None,
) -> None:
    """Refuse a window whose targets the execution model cannot trade before the first order.

    The targets come from the strategy's numba ``step_many`` (bit-identical to stepping) or, for
    a strategy without one, its research form ``signals`` (held equal to ``step`` by the parity
    tests); the error is the backtest's :class:`~drydock.execution.UnsupportedTargetError`, or
    for an engine-kept run (``engine``) the engine's own check (NaN, the leverage cap, shorts). A
    run that stopped half-way on a bad bar would hold the entries journaled before it.
    """
    if frame.height == 0:
        return
    resolved = dict(params)
    targets = strategy.step_many(strategy.init_state(resolved), frame["close"].to_numpy(), resolved)
    if targets is None:
        targets = strategy.signals(frame, resolved)["target"].to_numpy()
    if engine is not None:
        check_exposures(np.asarray(targets, dtype=np.float64), engine, frame["ts"])
    else:
        check_targets(strategy.id, frame["ts"], targets)


def _check_inputs(journal: JournalRepository, run_id: str, inputs: Mapping[str, object]) -> None:
    """Journal the inputs that shape orders on a run's first start; refuse a resume with others.

    A run id names one experiment: resuming it with another cash, fee, slippage, params, series,
    window or policy would mix orders sized for different inputs into one journal.
    """
    shown = {k: json.loads(json.dumps(v, default=str)) for k, v in inputs.items()}
    journal.record_event("run_inputs", run_id, shown, datetime.now(UTC), key=f"{run_id}:inputs")
    [stored] = journal.events(scope=run_id, kind="run_inputs")
    differ = sorted(
        k for k in set(shown) | set(stored.detail) if shown.get(k) != stored.detail.get(k)
    )
    if differ:
        pairs = "; ".join(
            f"{k}: {stored.detail.get(k)!r} then, {shown.get(k)!r} now" for k in differ
        )
        raise DrydockError(
            f"Run {run_id} was started with other inputs ({pairs}). Resume it with the same "
            "inputs, or pick a new --run-id."
        )


def _extra_run_parts(
    execution: ExecutionModel, engine: EngineConfig | None = None
) -> dict[str, object]:
    """Cost settings beyond cash/fee/slippage and the engine's rules, only when set (so older
    run ids stay stable)."""
    parts: dict[str, object] = dict(execution.overrides())
    if execution.fixed_fee:
        parts["fixed_fee"] = execution.fixed_fee
    if engine is not None:
        parts["engine"] = engine_parts(engine)
    return parts


def engine_parts(engine: EngineConfig) -> dict[str, object]:
    """The engine rules of a run as plain values (its inputs and its run id)."""
    skip = {"execution"}
    return {
        f.name: (list(map(list, v)) if f.name == "scale_out" else getattr(v, "value", v))
        for f in dataclass_fields(engine)
        if f.name not in skip and (v := getattr(engine, f.name)) is not None
    }


@dataclass
class Session:
    """An opened run: its record, policy, strategy runner and per-bar state (see :func:`session`)."""

    record: RunRecord
    policy: Policy
    state: _Replay
    runner: IncrementalRunner
    venue: SimulatedVenue
    key: ohlcv.SeriesKey
    tf: timedelta
    strategy_id: str
    cash: float
    pending: list[OrderIntent] = field(default_factory=list)
    intents: int = 0
    bars: int = 0
    marks: MarkLog = field(default_factory=MarkLog)
    lease: RunLease | None = None  # the run lease (file lock + row, or advisory lock + row)

    @contextmanager
    def batched(self) -> Iterator[Callable[[], None]]:
        """Commit the journal in batches while stepping, when the venue forgets on a crash.

        A venue whose book lives in this process (the paper venue: ``forgets_on_crash``) loses
        its orders with the process, so the journal need not be durable order by order: the
        rows of up to :data:`BATCH_SECONDS` of stepping commit together, and a crash loses the
        batch and the venue's book alike; the rerun steps them again to the same result. Any
        other venue (an exchange, a chain, the durable paper venue of the crash drill) keeps a
        durable commit before every submit. Yields ``tick``, to call after each step.
        """
        if not getattr(self.venue, "forgets_on_crash", False):
            yield lambda: None
            return
        journal = self.state.journal
        with ExitStack() as stack:
            stack.enter_context(journal.transaction())
            started = time.monotonic()

            def tick() -> None:
                nonlocal started
                if time.monotonic() - started >= BATCH_SECONDS:
                    stack.close()  # commit this batch
                    stack.enter_context(journal.transaction())
                    started = time.monotonic()

            yield tick

    def heartbeat(self) -> None:
        """Renew the run's lease row; raises LeaseLost if another runner took the run over."""
        if self.lease is not None:
            self.lease.heartbeat()

    def step(self, bar: Bar, target: float | None = None, events: Sequence[Event] = ()) -> None:
        """One closed bar: fill what the previous close decided at its open, hand the strategy
        the ``events`` stamped since the previous close (each changed target an intent, as a
        bar's), let it see the bar (or take its ``target`` computed ahead by :meth:`advance`),
        check the new targets, mark equity at its close. The intents of one bar are netted: the
        next open sends one order for the net change of its events and its own step."""
        if not self.marks:
            self.marks.append(bar.ts, float(self.cash))
            self.state.acct.mark(bar.ts, float(self.cash))
        if self.engine is not None:
            self._step_engine(self.engine, bar, target, events)
            return
        if isinstance(self.state.book, OrderKeeper):
            self._step_orders(self.state.book, bar)
            return
        if self.pending:
            self.venue.set_bar(bar)
        for intent in self.pending:
            self.state.execute(intent, bar)
        before = self.runner.target
        self.pending = self.on_events(bar, events) if events else []
        if target is None:
            self.pending += self.runner.on_bar(bar)
        else:
            self.pending += self.runner.emit(bar, target)
        if events:
            from live.events import net_intents

            self.pending = net_intents(self.pending, before)
        if self.state.stuck:
            self.pending += self.state.retry_intents(bar, self.pending)
        for intent in self.pending:
            check_target(self.strategy_id, intent.ts, intent.target)
        self.intents += len(self.pending)
        self.bars += 1
        ts, value = self.state.mark(bar, self.tf)
        self.marks.append(ts, value)

    @property
    def engine(self) -> EngineBook | None:
        """The shared model keeping this run's book, when the run has an engine config."""
        book = self.state.book
        return book if isinstance(book, EngineBook) else None

    def _step_engine(
        self, engine: EngineBook, bar: Bar, target: float | None, events: Sequence[Event]
    ) -> None:
        """:meth:`step` for a run kept by the shared model: the order due at ``bar``'s open and
        the exits the bar reveals go out through the policy and the venue as the model decides
        them; then the strategy's target at the close (checked against the run's leverage and
        short rules), due at the next open."""
        index = self.bars
        engine.open(index, bar)  # an exit that got no fill is worked again here (EngineBook)
        if self.state.stuck and not engine.acct.qty:
            self.state.flat_again(bar)
        intents = self.on_events(bar, events) if events else []
        intents += self.runner.on_bar(bar) if target is None else self.runner.emit(bar, target)
        wanted = self.runner.target
        check_exposures(np.array([wanted], dtype=np.float64), engine.config, [bar.ts])
        self.intents += len(intents)
        self.bars += 1
        value = engine.close(index, bar, wanted)
        ts = bar.ts + self.tf
        self.state.acct.mark(ts, value)
        self.marks.append(ts, value)

    def step_portfolio(
        self,
        bars: Sequence[Bar],
        weights: Sequence[float],
        rates_open: Sequence[float] | None = None,
        rates_inside: Sequence[float] | None = None,
    ) -> None:
        """One closed bar of every asset of a portfolio run (the keeper's model decides the
        orders, each through the policy and the venue); equity marked at the close."""
        keeper = self.state.book
        if not isinstance(keeper, PortfolioKeeper):
            raise DrydockError(f"Run {self.record.run_id} is not a portfolio run.")
        if not self.marks:
            self.marks.append(bars[0].ts, float(self.cash))
            self.state.acct.mark(bars[0].ts, float(self.cash))
        if self.state.stuck:  # a leg got no fill: rebalance to the weights again at this open
            keeper.retry()
        value = keeper.step(self.bars, bars, weights, rates_open, rates_inside)
        self.bars += 1
        ts = bars[0].ts + self.tf
        self.state.acct.mark(ts, value)
        self.marks.append(ts, value)

    def _step_orders(self, keeper: OrderKeeper, bar: Bar) -> None:
        """:meth:`step` for an order-level strategy: the core matches its resting orders
        against ``bar`` (each match sent through the policy and the venue), the strategy
        answers at the close; equity marked there."""
        value = keeper.step(self.bars, bar)
        self.bars += 1
        ts = bar.ts + self.tf
        self.state.acct.mark(ts, value)
        self.marks.append(ts, value)

    def on_events(self, bar: Bar, events: Sequence[Event]) -> list[OrderIntent]:
        """Hand ``events`` (stamped up to ``bar``'s close, the loop's clock) to the strategy in
        time order; the intents of the targets they change. An unknown kind or a stamp after
        the close stops the run with one line naming the event."""
        from drydock.events import check_event, sort_events

        close, intents = bar.ts + self.tf, []
        for event in sort_events(events):
            check_event(event, close, f"Run {self.record.run_id}")
            intents += self.runner.on_event(event)
        return intents

    def advance(self, frame: pl.DataFrame, events: Sequence[Event] = ()) -> None:
        """Step through many closed bars, skipping the bars on which nothing can happen.

        ``events`` go with the bars they precede (:func:`live.events.assign`); a bar with an
        event is always stepped, and the stretches between event bars fast-forward as below.

        With a strategy that has :meth:`~strategies.base.Strategy.step_many`, its targets for the
        whole frame come from one numba pass (bit-identical to stepping); only bars where the
        target changes, where an order is pending (the fill at the next open) or while an exit
        is stuck go through :meth:`step`. The bars between are marked as one array segment:
        equity ``cash + qty * close`` in float64 (the per-bar path computes it in Decimal, so the
        two agree to ~1e-16 relative) and the high-water mark from their maximum. Without
        ``step_many`` every bar is stepped.
        """
        if frame.height == 0:
            return
        if events:
            self._advance_events(frame, events)
            return
        if isinstance(self.state.book, OrderKeeper):  # resting orders: every bar can fill one
            with self.batched() as tick:
                for bar in iter_bars(frame):
                    self.step(bar)
                    tick()
            return
        close = frame["close"].to_numpy()
        targets = self.runner.strategy.step_many(self.runner.state, close, self.runner.params)
        if targets is None:
            with self.batched() as tick:
                for bar in iter_bars(frame):
                    self.step(bar)
                    tick()
            return
        # the whole frame's targets are known: a bad one stops the run before any of its orders
        engine = self.engine
        if engine is not None:
            check_exposures(np.asarray(targets, dtype=np.float64), engine.config, frame["ts"])
        else:
            check_targets(self.strategy_id, frame["ts"], targets)
        n = close.shape[0]
        previous = np.concatenate(([self.runner.target], targets[:-1]))
        changes = np.flatnonzero(targets != previous)
        ns = frame["ts"].dt.epoch("ns").to_numpy() + int(self.tf / timedelta(microseconds=1)) * 1000
        columns = frame.select("ts", "open", "high", "low", "close", "volume")
        i, k = 0, 0
        with self.batched() as tick:
            while i < n:
                if not (self.pending or self.state.stuck or (engine is not None and engine.busy)):
                    while k < changes.shape[0] and changes[k] < i:
                        k += 1
                    j = int(changes[k]) if k < changes.shape[0] else n
                    if j > i:
                        self._mark_segment(ns[i:j], close[i:j], columns.row(i)[0])
                        i = j
                        continue
                self.step(Bar(*columns.row(i)), float(targets[i]))
                tick()
                i += 1

    def _advance_events(self, frame: pl.DataFrame, events: Sequence[Event]) -> None:
        """:meth:`advance` split at the bars that carry events: those are stepped with their
        events (the strategy's state moves bar by bar there), the stretches between advance."""
        from live.events import assign

        grouped = assign(frame["ts"].to_list(), self.tf, events, f"Run {self.record.run_id}")
        columns = frame.select("ts", "open", "high", "low", "close", "volume")
        i = 0
        for j in sorted(grouped):
            self.advance(frame.slice(i, j - i))
            with self.batched() as tick:
                self.step(Bar(*columns.row(j)), events=grouped[j])
                tick()
            i = j + 1
        self.advance(frame.slice(i))

    def mark_final(self) -> None:
        """Re-mark the last close after the end-of-run rule closed the position there."""
        engine = self.engine
        if engine is not None and engine.last_close is not None:
            self.marks.replace_last(float(engine.equity(engine.last_close)))

    def _mark_segment(self, ns: np.ndarray, close: np.ndarray, first_open: datetime) -> None:
        """Marks of bars the strategy ignores: no order, no decision, only equity at each close."""
        if not self.marks:
            self.marks.append(first_open, float(self.cash))
            self.state.acct.mark(first_open, float(self.cash))
        book = self.state.book
        equity = float(book.cash) + float(book.qty) * close
        self.state.acct.mark_many(ns, equity)
        self.marks.extend(ns, equity)
        self.bars += close.shape[0]

    def result(self, timeframe: str) -> ReplayResult:
        """The run's outcome so far, in the replay's shape."""
        c = self.state.counts
        if not self.marks and self.record.start is not None:  # stopped before a bar closed
            self.marks.append(self.record.start, float(self.cash))
        equity = self.marks.equity()
        return ReplayResult(
            run_id=self.record.run_id,
            policy_hash=self.policy.content_hash,
            policy_version=self.policy.version,
            timestamps=self.marks.times(),
            equity=equity,
            trade_pnl=list(self.state.book.trade_pnl),
            bars=self.bars,
            intents=self.intents,
            allowed=c["allowed"],
            denied=c["denied"],
            orders=c["orders"],
            fills=c["fills"],
            new_orders=c["new_orders"],
            pending=len(self.pending),
            skipped=c["skipped"],
            failures=c["failures"],
            below_min_notional=c["below_min_notional"],
            final_position=self.state.book.position(),
            held=c["held"],
            # Marks at bar closes only (drop the opening cash point), exactly as research does.
            metrics=(
                summarize(equity[1:], self.state.book.trade_pnl, periods_per_year(timeframe))
                if len(equity) > 1
                else {}
            ),
        )


@contextmanager
def session(
    strategy: Strategy,
    resolved: Mapping[str, float],
    key: ohlcv.SeriesKey,
    start: datetime | None,
    end: datetime | None,
    policy_file: Path,
    execution: ExecutionModel,
    *,
    mode: str = MODE,
    run_id: str | None = None,
    journal: JournalRepository | None = None,
    venue: SimulatedVenue | None = None,
    retry_wait: Any = None,
    extra_inputs: Mapping[str, object] | None = None,
    lease_ttl: timedelta = timedelta(seconds=300),
    live_account_state: bool = False,
    operator: bool = False,
    engine: EngineConfig | None = None,
    portfolio: tuple[Sequence[str], PortfolioConfig] | None = None,
) -> Iterator[Session]:
    """Open (or resume) a run: the lease, the run record, the inputs and hash-chain checks, the
    venue and the per-bar state; the journal closes with the session when this opened it.

    The run decides from its own simulated account (:func:`live.policy_state.run_account`;
    ``operator``: the operator's pause and global breaker apply) unless ``live_account_state``
    (live mode): then from the strategy's shared live account.

    ``engine`` (its ``execution`` must be ``execution``): the run's book is kept by the shared
    execution model (:class:`live.engine_book.EngineBook`): targets in [-L, L] and the exits
    the engine manages, every order through the policy and the venue."""
    if engine is not None and engine.execution != execution:
        raise ConfigError(
            "The engine config's execution model differs from the run's; pass one "
            "ExecutionModel (the engine's) for both."
        )
    if execution.fill != FillTiming.NEXT_OPEN:
        raise ConfigError(
            f"Execution fill={execution.fill.value!r} is not available in a paper replay: it fills "
            "at the next bar's open, as live trading can. Use fill='next_open'."
        )
    policy = load_policy(policy_file)
    # Market metadata before bars, in the backtest's order: an unknown market fails alike.
    instrument = instrument_for(key.exchange, key.symbol, execution.overrides())
    inputs = {
        "strategy": strategy.id, "params": dict(resolved), "exchange": key.exchange,
        "symbol": key.symbol, "timeframe": key.timeframe, "start": start, "end": end,
        "cash": execution.init_cash, "fee": execution.taker_fee,
        "slippage_bps": execution.slippage_bps, "policy": policy.content_hash,
    } | _extra_run_parts(execution, engine) | dict(extra_inputs or {})  # fmt: skip
    if venue is not None and venue.name != key.exchange:
        inputs["venue"] = venue.name
    run_id = run_id or default_run_id(inputs)
    # The venue orders go to (and the policy judges): the lake's exchange for paper, else the
    # adapter's own name (bars from Binance may drive orders on Kraken).
    venue_name = venue.name if venue is not None else key.exchange
    record = RunRecord(
        run_id, strategy.id, dict(resolved), mode, venue_name, key.symbol, key.timeframe,
        policy.version, policy.content_hash, start, end,
    )  # fmt: skip
    own_journal = journal is None
    journal = journal if journal is not None else open_journal()
    with ExitStack() as lease:
        try:
            # one process (and one host) per run id, or orders go out twice
            row_lease = lease.enter_context(journal.hold_run(run_id, lease_ttl))
            stored = journal.start_run(record)
            if stored.policy_hash != policy.content_hash or stored.strategy_id != strategy.id:
                raise DrydockError(
                    f"Run {run_id} was started with strategy {stored.strategy_id!r} and policy "
                    f"hash {stored.policy_hash[:12]}, not {strategy.id!r} with "
                    f"{policy.content_hash[:12]} ({policy_file}). Resume it with the same inputs, "
                    "or pick a new --run-id."
                )
            _check_inputs(journal, run_id, inputs)
            if problems := journal.verify():
                raise DrydockError(
                    f"Journal {journal.location} fails its hash-chain check "
                    f"({'; '.join(problems[:3])}); inspect it (drydock live verify) before "
                    "resuming any run."
                )
            paper: SimulatedVenue = (
                venue
                if venue is not None
                else PaperVenue(key.exchange, execution, instruments={key.symbol: instrument})
            )
            account = (
                live_account(strategy.id)
                if live_account_state
                else run_account(strategy.id, run_id, operator)
            )
            state = _Replay(record, policy, journal, paper, execution, retry_wait, account)
            if engine is not None:
                book = EngineBook(strategy.id, key.symbol, engine)
                book.send = state.send_sized
                state.book = book
            elif portfolio is not None:
                held = PortfolioKeeper(strategy.id, portfolio[0], portfolio[1])
                held.send = state.send_sized
                state.book = held
            elif isinstance(strategy, OrderStrategyRun):
                keeper = OrderKeeper(
                    strategy.id, key.symbol, strategy.inner, dict(resolved), execution,
                    float(instrument.lot_size), float(instrument.min_notional),
                )  # fmt: skip
                keeper.send = state.send_sized
                state.book = keeper
            runner = IncrementalRunner(
                strategy, dict(resolved), key.symbol, strategy_id=strategy.id
            )
            try:
                yield Session(
                    record, policy, state, runner, paper, key, timeframe_delta(key.timeframe),
                    strategy.id, execution.init_cash, lease=row_lease,
                )  # fmt: skip
            except LeaseHeld:
                raise  # another holder drives the run now: it is not ours to mark
            except Exception as exc:  # the run stops here: say so where status reads it
                _record_failure(journal, run_id, exc)
                raise
        finally:
            if own_journal:
                journal.close()


def _replay_events(
    strategy: Strategy, key: ohlcv.SeriesKey, bars: Sequence[Bar], lake_dir: Path | None
) -> dict[int, list[Event]]:
    """The lake's events of the kinds the strategy declares, by the index of the bar they go
    with (the runner's rule: the first bar whose close is at or after the event)."""
    from live.events import LakeEvents, assign

    if not strategy.event_kinds or not bars:
        return {}
    tf = timeframe_delta(key.timeframe)
    found = LakeEvents(tuple(strategy.event_kinds), key, lake_dir)(bars[0].ts, bars[-1].ts + tf)
    return assign([b.ts for b in bars], tf, found, "The replay's events")


def resolve_strategy(strategy_id: str) -> Strategy:
    """A target strategy by id, or an order-level one (grid, dca) in the session's view."""
    from strategies.order_based import get_order_strategy, order_strategies

    if strategy_id in order_strategies():
        return OrderStrategyRun.of(get_order_strategy(strategy_id))
    return get_strategy(strategy_id)


def _perp_funding(
    key: ohlcv.SeriesKey, bars: Sequence[Bar], start: datetime | None, end: datetime | None,
    lake_dir: Path | None,
) -> tuple[Any, Any] | None:  # fmt: skip
    """A perpetual's bar opens and its lake funding (``drydock simulate`` charges the same); a
    perp without funding in the window is one clear error naming the ingest command."""
    if ":" not in key.symbol or not bars:
        return None
    import polars as pl

    from drydock.funding import read_funding

    ts = pl.Series("ts", [b.ts for b in bars], dtype=pl.Datetime("us", "UTC"))
    return ts, read_funding(key.exchange, key.symbol, start, end, lake_dir)


def _record_failure(journal: JournalRepository, run_id: str, exc: Exception) -> None:
    """Journal ``run_failed`` with the error's one line (``drydock status`` shows the run as
    crashed with it); a journal that cannot take the row must not hide the original error."""
    try:
        journal.record_event(
            "run_failed", run_id, {"error": f"{type(exc).__name__}: {exc}"[:500]},
            datetime.now(UTC),
        )  # fmt: skip
    except Exception as failed:  # reported; the run's own error is re-raised
        log.error("replay.failure_not_journaled", run_id=run_id, error=str(failed))


def replay(
    strategy_id: str | Strategy,
    params: Mapping[str, str | float] | None,
    exchange: str,
    symbol: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    policy_path: str | Path | None = None,
    cash: float = 10_000.0,
    fee: float = 0.001,
    slippage_bps: float = 5.0,
    *,
    run_id: str | None = None,
    journal: JournalRepository | None = None,
    venue: SimulatedVenue | None = None,
    lake_dir: Path | None = None,
    execution: ExecutionModel | None = None,
    retry_wait: Any = None,
    engine: EngineConfig | None = None,
) -> ReplayResult:
    """Replay a strategy (id or instance) on lake bars through policy, journal and paper venue.

    ``execution`` (default: ``cash``, ``fee`` as taker fee, ``slippage_bps``) is the cost model;
    ``retry_wait`` a tenacity wait for transient venue errors (tests pass ``wait_none()``).
    ``engine``: the research engine's rules (shorts, leverage, stops, trailing stop, take
    profit, scale-out ladder, end rule), run by the shared model with every order through the
    policy and the venue; its ``execution`` is the cost model.
    """
    strategy = strategy_id if isinstance(strategy_id, Strategy) else resolve_strategy(strategy_id)
    resolved = strategy.resolve_params(params)
    if engine is not None and isinstance(strategy, OrderStrategyRun):
        raise ConfigError(
            f"{strategy.id} is an order-level strategy (spot, long-only): its exits are its own "
            "orders; drop the engine rules (--allow-short, --stop-loss, ...)."
        )
    if engine is not None:
        if execution is not None and execution != engine.execution:
            raise ConfigError(
                "replay() got an execution model and an engine config with another one; pass "
                "the costs once, in the engine config."
            )
        execution = engine.execution
    if execution is None:
        execution = ExecutionModel(init_cash=cash, taker_fee=fee, slippage_bps=slippage_bps)
    if execution.fill != FillTiming.NEXT_OPEN:
        raise ConfigError(
            f"Execution fill={execution.fill.value!r} is not available in a paper replay: it fills "
            "at the next bar's open, as live trading can. Use fill='next_open'."
        )
    policy_file = Path(policy_path) if policy_path else get_settings().policy_dir / "default.toml"
    key = ohlcv.SeriesKey(exchange, symbol, timeframe)
    load_policy(policy_file)  # a bad policy fails before the bars are read, as before
    instrument_for(exchange, symbol, execution.overrides())
    bars = _load_bars(key, start, end, lake_dir, strategy, resolved, engine)
    funding = _perp_funding(key, bars, start, end, lake_dir) if engine is not None else None
    grouped = _replay_events(strategy, key, bars, lake_dir)
    with session(
        strategy, resolved, key, start, end, policy_file, execution, run_id=run_id,
        journal=journal, venue=venue, retry_wait=retry_wait, engine=engine,
    ) as run:  # fmt: skip
        if run.engine is not None and funding is not None:
            run.engine.fund(*funding)
        with run.batched() as tick:
            for n, bar in enumerate(bars):
                run.step(bar, events=grouped.get(n, ()))
                tick()
            if run.engine is not None and run.engine.finish():  # the engine's end-of-run rule
                run.mark_final()
        result = run.result(timeframe)
        run.state.journal.record_event(
            "run_finished", run.record.run_id,
            {"final_equity": result.final_equity, "bars": len(bars)},
            datetime.now(UTC), key=f"{run.record.run_id}:finished",
        )  # fmt: skip
    c = run.state.counts
    log.info(
        "replay.finished", run_id=result.run_id, strategy=strategy.id, series=str(key),
        bars=len(bars), intents=result.intents, orders=c["orders"], fills=c["fills"],
        denied=c["denied"], skipped=c["skipped"], below_min_notional=c["below_min_notional"],
        failures=c["failures"], final_equity=round(result.final_equity, 2),
    )  # fmt: skip
    return result
