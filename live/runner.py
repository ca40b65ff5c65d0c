"""``drydock live run``: a promoted strategy on schedule, in paper, dry-run or live mode.

The runner is the replay's per-bar path (:class:`live.session.Session`) driven by a clock: on
start it catches up over the run's history from the lake (the journal makes this idempotent: a
stored order is never sent twice), then waits for each bar to close (plus a settle delay),
reads the newly closed bars and steps through them. Modes:

- ``paper``: fills on the paper venue at the next bar's open (the replay's fills).
- ``dry-run``: every order is sized, checked by the policy and journaled, never sent: the venue
  records what it would have sent and returns no fill.
- ``live``: needs ``confirm_live`` and a venue adapter for the exchange with credentials from the
  environment; without one it refuses to start (no silent fallback to paper).

State is a machine journaled as one ``runner_state`` event per change (:class:`Phase`): ``idle``
(nothing journaled yet) -> ``warming_up`` (fewer bars seen than the strategy's warm-up) ->
``running`` <-> ``paused`` (the operator's pause, checked at every wake-up) -> ``stopped`` or
``error``; ``drydock live status`` shows the last one and since when. The operator's pause
(``drydock live pause``) denies new exposure through the policy engine and the kill switch
denies everything, both read on every decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from drydock import ohlcv
from drydock.adapters.notify import Notifier
from drydock.errors import ConfigError, DrydockError
from drydock.execution import ExecutionModel
from drydock.fills import EngineConfig, PortfolioConfig
from drydock.logs import get_logger
from drydock.timeframes import timeframe_delta
from drydock.types import Bar, Fill, Instrument, Order
from live.events import Event, EventSource, LakeEvents, assign, check_event
from live.journal import JournalRepository
from live.policy_state import is_paused
from live.reconcile import reconcile
from live.session import ReplayResult, Session, session
from live.venues.base import SimulatedVenue
from live.venues.breaker import BreakerVenue
from live.venues.paper import PaperVenue
from strategies.base import Strategy, iter_bars

if TYPE_CHECKING:
    import polars as pl

log = get_logger(__name__)


class Mode(StrEnum):
    PAPER = "paper"
    DRY_RUN = "dry-run"
    LIVE = "live"


class Clock(Protocol):
    """Wall time and waiting (a simulated clock in tests, the system clock in production)."""

    def now(self) -> datetime: ...

    def sleep_until(self, moment: datetime) -> None: ...


class SystemClock:
    """The machine's UTC clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep_until(self, moment: datetime) -> None:
        delay = (moment - self.now()).total_seconds()
        if delay > 0:
            time.sleep(delay)


@dataclass
class SimulatedClock:
    """A clock that jumps to whatever time it is asked to wait for (tests, fast-forward)."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def sleep_until(self, moment: datetime) -> None:
        self.current = max(self.current, moment)


class BarFeed(Protocol):
    """Closed bars of one series after a given bar open time."""

    def closed_bars(self, after: datetime | None, now: datetime) -> list[Bar]: ...


@runtime_checkable
class FrameFeed(BarFeed, Protocol):
    """A feed that also hands closed bars over as one frame (for :meth:`Session.advance`)."""

    def closed_frame(self, after: datetime | None, now: datetime) -> pl.DataFrame: ...


@dataclass
class LakeFeed:
    """Closed bars from the lake (the ingest schedule keeps it current): validated on read."""

    key: ohlcv.SeriesKey
    start: datetime | None = None
    lake_dir: Path | None = None

    def closed_frame(self, after: datetime | None, now: datetime) -> pl.DataFrame:
        import polars as pl

        tf = timeframe_delta(self.key.timeframe)
        since = after + tf if after is not None else self.start
        frame = ohlcv.read(self.key, since, now, self.lake_dir)
        return frame.filter(pl.col("ts") + tf <= now)

    def closed_bars(self, after: datetime | None, now: datetime) -> list[Bar]:
        return iter_bars(self.closed_frame(after, now))


def _fund_perp(run: Session, key: ohlcv.SeriesKey, opens: pl.Series) -> None:
    """An engine run on a perpetual books the lake's funding of the bars about to be stepped
    (as the replay and ``drydock simulate`` do). The lake is read from a day before the first
    bar, so a batch of bars between two stamps finds the funding feed alive; a perp without any
    stamp in that day is one clear error naming the ingest command. A stamp that reaches the
    lake after its bar was stepped is not booked (ingest funding before the bar's settle)."""
    engine = run.engine
    if engine is None or engine.spot_default or ":" not in key.symbol or not opens.len():
        return
    from drydock.funding import read_funding

    tf = timeframe_delta(key.timeframe)
    since = opens[0] - timedelta(days=1)
    engine.fund(opens, read_funding(key.exchange, key.symbol, since, opens[-1] + tf))


class DryRunVenue:
    """Orders are built and journaled but never sent: ``submit`` records and returns no fill."""

    sends_orders = False

    def __init__(self, inner: SimulatedVenue):
        self.name = inner.name
        self._inner = inner
        #: Nothing is sent, so nothing outlives a crash but what the journal holds; an inner
        #: venue with a durable book keeps the durable commits anyway.
        self.forgets_on_crash = getattr(inner, "forgets_on_crash", False)
        self.takes_resting_orders = getattr(inner, "takes_resting_orders", False)
        self.would_send: list[Order] = []

    def instrument(self, symbol: str) -> Instrument:
        return self._inner.instrument(symbol)

    def set_bar(self, bar: Bar) -> None:
        self._inner.set_bar(bar)

    def submit(self, order: Order) -> list[Fill]:
        if all(o.client_order_id != order.client_order_id for o in self.would_send):
            self.would_send.append(order)
        return []

    def fills_for(self, client_order_id: str) -> list[Fill]:
        return []


@dataclass(frozen=True, slots=True)
class RunnerSummary:
    """What a runner did: its mode, last bar, the replay-shaped result and dry-run orders."""

    mode: Mode
    state: str
    last_bar: datetime | None
    result: ReplayResult
    would_send: int


@dataclass
class Phase:
    """The runner's state machine: journals a ``runner_state`` event only when the state changes.

    ``observe`` derives the state from the facts at a wake-up (the operator's pause first, then
    whether the strategy has seen its warm-up); ``stopped`` and ``error`` are set at the end.
    """

    run: Session
    warmup: int
    paused: Callable[[], bool]
    current: str = "idle"

    def observe(self, now: datetime, **detail: Any) -> str:
        if self.paused():
            wanted = "paused"
        else:
            wanted = "warming_up" if self.run.bars < self.warmup else "running"
        return self.set(wanted, now, **detail)

    def set(self, state: str, now: datetime, **detail: Any) -> str:
        if state != self.current:
            run_id, shown = self.run.record.run_id, {"bars": self.run.bars, **detail}
            self.run.state.journal.record_event("runner_state", run_id, {"state": state, **shown},
                                                now)  # fmt: skip
            log.info("runner.state", run_id=run_id, state=state, **shown)
            self.current = state
        return state


def run_strategy(
    strategy: Strategy,
    params: Mapping[str, float],
    key: ohlcv.SeriesKey,
    start: datetime,
    policy_file: Path,
    execution: ExecutionModel,
    mode: Mode,
    *,
    feed: BarFeed | None = None,
    clock: Clock | None = None,
    run_id: str | None = None,
    journal: JournalRepository | None = None,
    venue: SimulatedVenue | None = None,
    confirm_live: bool = False,
    settle: timedelta = timedelta(seconds=5),
    max_bars: int | None = None,
    until: datetime | None = None,
    notifier: Notifier | None = None,
    retry_wait: Any = None,
    breaker_threshold: int = 5,
    breaker_cooldown: timedelta = timedelta(minutes=2),
    reconcile_every: timedelta = timedelta(minutes=15),
    fast_forward: bool = True,
    events: EventSource | None = None,
    engine: EngineConfig | None = None,
    portfolio: tuple[Sequence[str], PortfolioConfig] | None = None,
) -> RunnerSummary:
    """Run ``strategy`` from ``start`` until ``until`` or ``max_bars`` bars.

    ``until`` bounds both the clock and the catch-up: a bar is traded only if it closes at or
    before ``until``, so a run started today with ``--start 2024-03-01 --until 2024-04-01`` trades
    March 2024 and stops.

    In live mode the venue sits behind a circuit breaker (``breaker_threshold`` consecutive
    transient failures open it for ``breaker_cooldown``); its trips are journaled and notified.
    The journal is reconciled with the venue on start (before the catch-up), every
    ``reconcile_every`` of clock time and on stop (fills found then go into the running book).
    With ``fast_forward`` (default) and a feed that gives frames, bars on which the strategy
    cannot act are marked in bulk instead of stepped (:meth:`Session.advance`; same orders and
    fills, equity to ~1e-16); strategies without ``step_many`` are stepped bar by bar anyway.

    ``engine`` (:class:`drydock.fills.EngineConfig`): the run's book is kept by the shared
    execution model (shorts, leverage, the exits the core manages; live/engine_book.py). A live
    runner sees closed bars, so an exit the core emulates goes out when the bar that crossed its
    level has closed, and books what the venue fills.

    ``portfolio`` (its symbols and :class:`drydock.fills.PortfolioConfig`) with ``feed`` a
    :class:`live.portfolio_feed.PortfolioFeed`: a run over several instruments with one cash
    balance, stepped row by row (every asset's bar, its weight and funding).

    ``events`` (called with a window ``(after, until]``) hands the strategy events beside bars;
    by default a strategy that declares ``event_kinds`` gets those kinds from the lake
    (:class:`live.events.LakeEvents`). Each event goes with the bar whose close follows it and
    that bar is always stepped, fast-forward or not.
    """
    mode = Mode(mode)
    if mode is Mode.LIVE:
        if not confirm_live:
            raise ConfigError(
                "Live mode sends real orders: pass --confirm-live (and set the venue's "
                "credentials in the environment) to start it."
            )
        if venue is None:
            raise ConfigError(
                f"No live venue adapter is configured for {key.exchange}; live mode never falls "
                "back to paper. Use --mode paper or --mode dry-run."
            )
    if max_bars is None and until is None:
        raise ConfigError("Give the runner a stop: max_bars or until (the CLI's --until/--bars).")
    clock = clock or SystemClock()
    feed = feed or LakeFeed(key, start)
    if events is None and strategy.event_kinds:
        events = LakeEvents(tuple(strategy.event_kinds), key)
    if mode is Mode.DRY_RUN:
        from drydock.markets import instrument_for

        inner = venue or PaperVenue(
            key.exchange, execution,
            instruments={key.symbol: instrument_for(key.exchange, key.symbol, execution.overrides())},
        )  # fmt: skip
        venue = DryRunVenue(inner)
    tf = timeframe_delta(key.timeframe)
    notifier = notifier if notifier is not None else Notifier()
    breaker: BreakerVenue | None = None
    if mode is Mode.LIVE and venue is not None:
        breaker = BreakerVenue(venue, breaker_threshold, breaker_cooldown, clock.now)
        venue = breaker
    with session(
        strategy, params, key, start, None, policy_file, execution, mode=f"runner-{mode.value}",
        run_id=run_id, journal=journal, venue=venue, extra_inputs={"mode": mode.value},
        retry_wait=retry_wait,
        lease_ttl=2 * tf + settle + timedelta(minutes=1),  # outlives the longest sleep of the loop
        live_account_state=mode is Mode.LIVE, operator=True, engine=engine, portfolio=portfolio,
    ) as run:  # fmt: skip
        shared = run.state.journal

        def paused_now() -> bool:
            return is_paused(shared, strategy.id, clock.now())

        run.state.acct.operator_now = clock.now
        phase = Phase(run, strategy.warmup(dict(params)), paused_now)
        run.state.on_event = notifier.notify
        if breaker is not None:
            breaker.on_change = _breaker_reporter(run, notifier, clock)
        _reconcile(run, notifier, clock.now(), into_book=False)  # the catch-up reads the fills
        reconciled_at = clock.now()
        phase.observe(clock.now(), mode=mode.value)
        last: datetime | None = None
        state = "stopped"
        try:
            while True:
                run.heartbeat()  # a runner that lost its lease to another host stops here
                now = clock.now()
                # --until bounds the catch-up too: bars closing after it are never read
                horizon = min(now, until) if until is not None else now
                if isinstance(feed, FrameFeed) and (fast_forward or portfolio is not None):
                    frame = feed.closed_frame(last, horizon)
                    if max_bars is not None:
                        frame = frame.head(max(max_bars - run.bars, 0))
                    if frame.height:
                        opens = frame["ts"].to_list()
                        _fund_perp(run, key, frame["ts"])
                        run.advance(frame, _due_events(events, last, opens, tf, clock.now()))
                        last = frame["ts"][-1]
                else:
                    bars = feed.closed_bars(last, horizon)
                    if max_bars is not None:
                        bars = bars[: max(max_bars - run.bars, 0)]
                    if bars:
                        import polars as pl

                        stamps = pl.Series("ts", [b.ts for b in bars], pl.Datetime("us", "UTC"))
                        _fund_perp(run, key, stamps)
                    arrived = _due_events(events, last, [b.ts for b in bars], tf, clock.now())
                    grouped = assign([b.ts for b in bars], tf, arrived, "The runner's events")
                    for n, bar in enumerate(bars):
                        run.step(bar, events=grouped.get(n, ()))
                        last = bar.ts
                        if max_bars is not None and run.bars >= max_bars:
                            break
                phase.observe(clock.now())
                if clock.now() - reconciled_at >= reconcile_every:
                    _reconcile(run, notifier, clock.now())
                    reconciled_at = clock.now()
                if max_bars is not None and run.bars >= max_bars:
                    break
                if until is not None and now >= until:
                    break
                # The next bar closes one timeframe after the last one's close; wait for it plus
                # the settle delay (ingestion lands the bar), never past the stop time.
                due = ((last + 2 * tf) if last is not None else _next_close(now, tf)) + settle
                clock.sleep_until(min(due, until) if until is not None else due)
        except DrydockError as exc:
            state = phase.set("error", clock.now(), error=str(exc))
            notifier.notify(
                "error", f"{strategy.id} runner stopped: {exc}", {"run_id": run.record.run_id}
            )
            raise
        _reconcile(run, notifier, clock.now())
        phase.set(state, clock.now(), last_bar=str(last))
        sent = len(venue.would_send) if isinstance(venue, DryRunVenue) else 0
        return RunnerSummary(mode, state, last, run.result(key.timeframe), sent)


def _due_events(
    source: EventSource | None,
    last: datetime | None,
    opens: list[datetime],
    tf: timedelta,
    now: datetime,
) -> list[Event]:
    """The source's events for the newly closed bars: stamped after the last stepped bar's close
    (from the first new bar's open on a first read), up to the newest close. A stamp after the
    clock is refused; later ones are left for the next read."""
    if source is None or not opens:
        return []
    after = last + tf if last is not None else opens[0]
    found = list(source(after, opens[-1] + tf))
    for event in found:
        check_event(event, now, "The runner's event source")
    return [e for e in found if e.ts <= opens[-1] + tf]


def _reconcile(run: Session, notifier: Notifier, now: datetime, into_book: bool = True) -> None:
    """Reconcile the run with its venue; alert a newly found drift once and, ``into_book``, put
    recovered fills into the running book (on start the catch-up replays them from the journal).
    """
    report = reconcile(run.state.journal, run.record.run_id, run.venue, now)
    if report.new_drift and report.drift is not None:
        d = report.drift
        notifier.notify(
            "drift", f"{run.record.run_id}: the venue holds {d['venue']} {d['asset']}, the journal "
            f"{d['journal']}; the next exit may fail. Check the account before resuming.",
            {"run_id": run.record.run_id, **d},
        )  # fmt: skip
    if not into_book:
        return
    for fill in report.recovered:
        run.state.book.apply(fill)
        run.state.counts["fills"] += 1
        run.state.journal.record_position(run.record.run_id, run.state.book.position(), fill.ts)
        log.warning("runner.fill_recovered", run_id=run.record.run_id,
                    client_order_id=fill.client_order_id, qty=str(fill.qty))  # fmt: skip


def _breaker_reporter(
    run: Session, notifier: Notifier, clock: Clock
) -> Callable[[str, dict[str, Any]], None]:
    """Journal and notify the venue breaker's opens and closes."""

    def report(change: str, detail: dict[str, Any]) -> None:
        run.state.journal.record_event(f"venue_breaker_{change}", run.record.run_id, detail,
                                       clock.now())  # fmt: skip
        log.warning("runner.venue_breaker", run_id=run.record.run_id, change=change, **detail)
        notifier.notify("breaker", f"{detail['venue']} circuit {change}", detail)

    return report


def _next_close(now: datetime, tf: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((now - epoch) // tf + 1) * tf


@dataclass(frozen=True)
class RunConfig:
    """What a promoted configuration tells the runner: strategy, params, series, costs, policy."""

    strategy: Strategy
    params: dict[str, float]
    key: ohlcv.SeriesKey
    execution: ExecutionModel
    policy_file: Path
    #: The engine rules promoted with it (a ``drydock simulate`` run's stops, shorts, ...);
    #: None: the strategy's targets alone on a spot book.
    engine: EngineConfig | None = None


_EXEC_FIELDS = ("init_cash", "taker_fee", "maker_fee", "fixed_fee", "slippage_bps", "lot_size",
                "tick_size", "min_notional")  # fmt: skip


def champion_config(config: Mapping[str, Any], policy_file: Path | None = None) -> RunConfig:
    """The runner's inputs from a promoted configuration (:func:`live.promotion.load_champion`);
    the policy is the one promoted with it unless ``policy_file`` overrides it (then its hash
    must match the promoted one, or the run is refused)."""
    from drydock.policy import load_policy
    from drydock.settings import get_settings
    from live.replay import resolve_strategy

    strategy = resolve_strategy(str(config["strategy"]))
    params = strategy.resolve_params(dict(config.get("params") or {}))
    series = config["series"]
    key = ohlcv.SeriesKey(series["exchange"], series["symbol"], series["timeframe"])
    raw = config.get("execution") or {}
    costs = {
        f: float(raw[f"exec.{f}"])
        for f in _EXEC_FIELDS
        if raw.get(f"exec.{f}") not in (None, "None")
    }
    execution = ExecutionModel(**costs)  # type: ignore[arg-type]
    promoted = config.get("policy") or None
    chosen = policy_file or (Path(promoted["file"]) if promoted else None)
    chosen = chosen or get_settings().policy_dir / "default.toml"
    if promoted and load_policy(chosen).content_hash != promoted["hash"]:
        raise DrydockError(
            f"Policy {chosen} is not the one promoted with {strategy.id} (hash "
            f"{promoted['hash'][:12]}); promote again with this policy or run with the promoted one."
        )
    engine = EngineConfig.from_params(raw, execution)
    return RunConfig(strategy, params, key, execution, chosen, engine)
