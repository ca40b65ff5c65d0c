"""An opened run: its lease, record, inputs and hash-chain checks, the book that keeps it, and
the per-bar stepping every driver shares (:func:`live.replay.replay`, the runner, the portfolio
replay): :func:`session` opens (or resumes) one, :class:`Session` steps it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drydock import ohlcv
from drydock.errors import ConfigError, DrydockError
from drydock.execution import (
    ExecutionModel,
    FillTiming,
    check_target,
    check_targets,
)
from drydock.fills import EngineConfig, PortfolioConfig, check_exposures
from drydock.logs import get_logger
from drydock.markets import instrument_for
from drydock.metrics import summarize
from drydock.policy import Policy, load_policy
from drydock.timeframes import periods_per_year, timeframe_delta
from drydock.types import Bar, OrderIntent, Position
from live.engine_book import EngineBook
from live.journal import (
    JournalRepository,
    RunLease,
    RunRecord,
    open_journal,
)
from live.lease import LeaseHeld
from live.marks import MarkLog
from live.order_keeper import OrderKeeper, OrderStrategyRun
from live.order_manager import OrderManager
from live.policy_state import (
    live_account,
    run_account,
)
from live.portfolio_keeper import PortfolioKeeper
from live.venues.base import SimulatedVenue
from live.venues.paper import PaperVenue
from strategies.base import IncrementalRunner, Strategy, iter_bars

if TYPE_CHECKING:
    import polars as pl

    from drydock.events import Event

log = get_logger(__name__)

MODE = "paper-replay"
#: Longest stretch of stepping whose journal rows commit together on a venue that forgets on a
#: crash (:meth:`Session.batched`); short enough that operators' writes are not held up.
BATCH_SECONDS = 0.25


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


def default_run_id(parts: Mapping[str, object]) -> str:
    """Same inputs and policy -> same run id, so rerunning a replay resumes it."""
    blob = json.dumps(dict(parts), sort_keys=True, default=str)
    return "replay-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


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
    state: OrderManager
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
        raise DrydockError(
            f"Run {self.record.run_id} steps a portfolio row by row (Session.step_portfolio)."
        )

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
        before = self.runner.target
        intents = self.on_events(bar, events) if events else []
        intents += self.runner.on_bar(bar) if target is None else self.runner.emit(bar, target)
        if events:
            from live.events import net_intents

            intents = net_intents(intents, before)
        wanted = self.runner.target
        if engine.spot_default:  # a plain target strategy: the spot 0/1 check, as the backtest's
            for intent in intents:
                check_target(self.strategy_id, intent.ts, intent.target)
        else:
            check_exposures(np.array([wanted], dtype=np.float64), engine.config, [bar.ts])
        if intents:
            engine.decided = intents[-1].ts
        self.pending = intents  # what the close decided (the model holds the order itself)
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
        if isinstance(self.state.book, PortfolioKeeper):  # one row of every asset per bar
            from live.portfolio_feed import wide_rows

            with self.batched() as tick:
                for bars, weights, at_open, inside in wide_rows(
                    frame, len(self.state.book.symbols)
                ):
                    self.step_portfolio(bars, weights, at_open, inside)
                    tick()
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
        if engine is not None and not engine.spot_default:
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

    def _pending_count(self) -> int:
        """Intents decided at the last close with no open left to fill them."""
        engine = self.engine
        if engine is not None:
            return int(engine.stepper.pending is not None)
        return len(self.pending)

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
            pending=self._pending_count(),
            skipped=c["skipped"] + (self.engine.skipped if self.engine is not None else 0),
            failures=c["failures"],
            below_min_notional=c["below_min_notional"]
            + (self.engine.below_min_notional if self.engine is not None else 0),
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
            book: EngineBook | OrderKeeper | PortfolioKeeper
            if engine is not None:
                book = EngineBook(strategy.id, key.symbol, engine)
            elif portfolio is not None:
                book = PortfolioKeeper(strategy.id, portfolio[0], portfolio[1])
            elif isinstance(strategy, OrderStrategyRun):
                book = OrderKeeper(
                    strategy.id, key.symbol, strategy.inner, dict(resolved), execution,
                    float(instrument.lot_size), float(instrument.min_notional),
                )  # fmt: skip
            else:  # a plain target strategy: the engine's model on a spot book (one fill model)
                lots = paper.instrument(key.symbol)
                book = EngineBook(strategy.id, key.symbol, EngineConfig(
                    execution=execution, lot_size=float(lots.lot_size),
                    min_notional=float(lots.min_notional),
                ))  # fmt: skip
                book.spot_default = True
            if (
                engine is not None
                and hasattr(paper, "impact")
                and hasattr(paper, "liquidation_fee")
            ):
                # paper fills priced as the model prices them; a real venue's are the market's
                paper.impact = engine.impact
                paper.liquidation_fee = engine.liquidation_fee
            state = OrderManager(record, policy, journal, paper, execution, book, retry_wait,
                                 account)  # fmt: skip
            book.send = state.send_sized
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
