"""Events beside bars (live.events, Session.step(events=...), run_strategy(events=...)): the merge
hands each event to the bar whose close follows it; a strategy sees only the kinds it declared;
bad events stop the loop with one line; the copy-trading stub trades the recorded Helius swaps at
the bars a hand check predicts; fast-forward steps every bar that carries an event."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from drydock.adapters.solana import process_inbox
from drydock.events import (
    Event,
    FutureEventError,
    OperatorSignal,
    SentimentUpdate,
    UnknownEventError,
    WalletSwap,
)
from drydock.execution import ExecutionModel
from drydock.ohlcv import SeriesKey, write_day
from drydock.onchain import load_watchlist
from drydock.settings import Settings
from drydock.types import Bar, Side
from live.events import LakeEvents, assign, merge
from live.journal import SqliteJournal
from live.runner import Mode, SimulatedClock, run_strategy
from live.session import session
from strategies import IncrementalRunner
from strategies.base import Params
from strategies.copy_wallet import SOL_MINT, CopyWallet
from strategies.ema_cross import EmaCross

pytestmark = pytest.mark.integration  # lake reads, journal, policy

REPO = Path(__file__).parents[2]
HELIUS = REPO / "data" / "sample" / "helius" / "enhanced_transactions.json"
SOL = SeriesKey("binance", "SOL/USDT", "1h")
H = timedelta(hours=1)
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
T0 = datetime(2024, 4, 19, tzinfo=UTC)


def swap(ts: datetime, buy: bool, wallet: str = "w") -> WalletSwap:
    token_in, token_out = (USDC, SOL_MINT) if buy else (SOL_MINT, USDC)
    return WalletSwap(ts, "solana", wallet, token_in, 1.0, token_out, 1.0)


class Recorder(CopyWallet):
    """The copy strategy, remembering every event that reached it."""

    id = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Event] = []

    def on_event(self, state: Any, event: Event, params: Params) -> float | None:
        self.seen.append(event)
        return super().on_event(state, event, params)


class Tweets(CopyWallet):
    id = "tweets"
    event_kinds = ("wallet_swap", "tweet")


@pytest.fixture
def sol_lake(home: Path) -> tuple[datetime, datetime]:
    """Hourly SOL/USDT bars over the recorded swaps (2024-04-19 to 2024-09-03): open 100 + the
    hour of day, so each fill's price says which bar it took."""
    end = datetime(2024, 9, 3, tzinfo=UTC)
    ts = pl.datetime_range(T0, end - H, "1h", eager=True, time_zone="UTC").dt.cast_time_unit("us")
    price = 100.0 + ts.dt.hour().cast(pl.Float64)
    frame = pl.DataFrame({"ts": ts, "open": price, "high": price + 1, "low": price - 1,
                          "close": price + 0.5, "volume": 1_000.0})  # fmt: skip
    for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
        write_day(SOL, day, part)  # type: ignore[arg-type]
    return T0, end


def ingest_helius(settings: Settings, tmp_path: Path) -> None:
    """The recorded Helius delivery through the wallet_swaps inbox into the test's lake."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(HELIUS, inbox / "001.json")
    watch = load_watchlist(REPO / "config" / "watchlist.toml")
    assert process_inbox(inbox, watch, settings.lake_dir).swaps == 7


def bars(n: int, start: datetime = T0) -> list[Bar]:
    return [Bar(start + i * H, 100.0, 101.0, 99.0, 100.5, 1.0) for i in range(n)]


def test_each_event_goes_with_the_bar_whose_close_follows_it() -> None:
    b = bars(3)
    events: list[Event] = [
        swap(T0 + 2 * H, buy=False),  # exactly the second bar's close: the second bar
        swap(T0 + H + timedelta(seconds=1), buy=True),  # just after the first close: second bar
        swap(T0 + timedelta(minutes=5), buy=True),
        OperatorSignal(T0 + H, "flatten"),  # exactly the first close: the first bar
    ]
    merged = list(merge(b, events, H))
    assert [bar.ts for bar, _ in merged] == [T0, T0 + H, T0 + 2 * H]
    assert [[e.ts - T0 for e in evs] for _, evs in merged] == [
        [timedelta(minutes=5), H],
        [H + timedelta(seconds=1), 2 * H],
        [],
    ]
    with pytest.raises(FutureEventError, match=r"after the loop's clock 2024-04-19T03:00"):
        assign([bar.ts for bar in b], H, [swap(T0 + 3 * H + timedelta(seconds=1), True)], "test")


def test_an_undeclared_kind_never_reaches_the_strategy() -> None:
    strategy = Recorder()
    runner = IncrementalRunner(strategy, strategy.resolve_params(), "SOL/USDT")
    sentiment = SentimentUpdate(T0, "SOL", 0.9, 1.0)
    operator = OperatorSignal(T0, "flatten")
    assert runner.on_event(sentiment) == [] and runner.on_event(operator) == []
    [intent] = runner.on_event(swap(T0 + timedelta(minutes=1), buy=True))
    assert strategy.seen == [swap(T0 + timedelta(minutes=1), buy=True)]
    assert (intent.side, intent.target, intent.ts) == (Side.BUY, 1.0, T0 + timedelta(minutes=1))


def test_a_declared_kind_that_does_not_exist_is_refused() -> None:
    strategy = Tweets()
    with pytest.raises(UnknownEventError, match=r"Strategy 'tweets' declares unknown event kind"):
        IncrementalRunner(strategy, strategy.resolve_params(), "SOL/USDT")


def _session(settings: Settings, strategy: Any, run_id: str) -> Any:
    return session(
        strategy, strategy.resolve_params(), SOL, None, None,
        settings.policy_dir / "research.toml", ExecutionModel(), run_id=run_id,
    )  # fmt: skip


def test_bad_events_stop_the_loop_with_one_line(settings: Settings, sol_lake: object) -> None:
    class Tweet:
        kind = "tweet"
        ts = T0

    strategy = Recorder()
    with _session(settings, strategy, "bad-kind") as run, pytest.raises(UnknownEventError) as kind:
        run.step(bars(1)[0], events=[Tweet()])  # type: ignore[list-item]
    assert "Run bad-kind handed the loop an event of unknown kind 'tweet' (Tweet)" in str(
        kind.value
    )
    assert "\n" not in str(kind.value)
    with _session(settings, strategy, "future") as run, pytest.raises(FutureEventError) as future:
        run.step(bars(1)[0], events=[swap(T0 + 2 * H, buy=True)])
    assert str(future.value).startswith(
        "Run future handed the loop a wallet_swap event stamped 2024-04-19T02:00:00+00:00, after "
        "the loop's clock 2024-04-19T01:00:00+00:00;"
    )
    assert strategy.seen == []


def test_a_bar_sends_one_order_for_the_net_change_of_its_events(
    settings: Settings, sol_lake: object
) -> None:
    strategy = Recorder()
    first, second = bars(2)
    with _session(settings, strategy, "net") as run:
        run.step(first, events=[swap(T0 + timedelta(minutes=10), True),
                                swap(T0 + timedelta(minutes=20), False)])  # fmt: skip
        assert run.pending == []  # bought and sold again before the next open: nothing to send
        run.step(second, events=[swap(T0 + H + timedelta(minutes=5), True),
                                 swap(T0 + H + timedelta(minutes=6), True)])  # fmt: skip
        [intent] = run.pending
    assert len(strategy.seen) == 4
    assert (intent.side, intent.target, intent.ts) == (Side.BUY, 1.0, T0 + H + timedelta(minutes=5))


# The recorded swaps (data/sample/helius), by hand. The watched wallet FCHTRY... buys SOL (USDC
# in, SOL out) at 04-19 17:18 -> the 17:00 bar -> BUY filled at 18:00's open (100 + 18); buys
# again 04-20 06:26 (already long: nothing); sells SOL 06-04 00:24 -> the 00:00 bar -> SELL at
# 01:00's open (101). Ezi9Bn... sells 0.01 SOL on 07-02 08:45 (flat already: nothing). FCHTRY
# buys 08-07 03:25 and 03:26 -> the 03:00 bar -> one BUY at 04:00's open (104); buys 09-02 18:52
# (long already). The 4 TRANSFERs of the delivery are no swaps.
EXPECTED = [
    (Side.BUY, datetime(2024, 4, 19, 18, tzinfo=UTC), 118.0),
    (Side.SELL, datetime(2024, 6, 4, 1, tzinfo=UTC), 101.0),
    (Side.BUY, datetime(2024, 8, 7, 4, tzinfo=UTC), 104.0),
]


def test_copy_wallet_trades_the_recorded_swaps_at_the_predicted_bars(
    settings: Settings, sol_lake: tuple[datetime, datetime], tmp_path: Path
) -> None:
    from drydock import ohlcv
    from strategies.base import iter_bars

    ingest_helius(settings, tmp_path)
    start, end = sol_lake
    frame = ohlcv.read(SOL, start, end)
    events = LakeEvents(("wallet_swap",), SOL)(None, end)
    assert len(events) == 7
    strategy = CopyWallet()
    with _session(settings, strategy, "copy") as run:
        for bar, evs in merge(iter_bars(frame), events, H):
            run.step(bar, events=evs)
        result = run.result("1h")
    assert (result.intents, result.orders, result.fills, result.denied) == (3, 3, 3, 0)
    with SqliteJournal(settings.journal_path) as journal:
        orders = journal.orders("copy")
        fills = [f for o in orders for f in journal.fills_for(o.client_order_id)]
    assert [(o.side, o.ts, float(o.price)) for o in orders] == EXPECTED
    assert [f.ts for f in fills] == [ts for _, ts, _ in EXPECTED]
    assert result.final_position.qty > 0  # long after the last copied buy


@pytest.mark.parametrize("fast_forward", [True, False])
def test_the_runner_reads_declared_events_from_the_lake(
    settings: Settings, sol_lake: tuple[datetime, datetime], tmp_path: Path, fast_forward: bool
) -> None:
    """run_strategy with no event source reads the strategy's declared kinds from the lake and
    trades what the session above trades."""
    ingest_helius(settings, tmp_path)
    start, end = sol_lake
    strategy = CopyWallet()
    summary = run_strategy(
        strategy, strategy.resolve_params(), SOL, start, settings.policy_dir / "research.toml",
        ExecutionModel(), Mode.PAPER, clock=SimulatedClock(end), until=end, run_id="runner",
        fast_forward=fast_forward,
    )  # fmt: skip
    assert (summary.result.orders, summary.result.fills) == (3, 3)
    with SqliteJournal(settings.journal_path) as journal:
        got = [(o.side, o.ts, float(o.price)) for o in journal.orders("runner")]
    assert got == EXPECTED


class EmaFlatten(EmaCross):
    """EMA cross that an operator's "flatten" holds flat through the bar it arrives in (the EMA
    decides again from the next bar); it has step_many, so the runner fast-forwards it."""

    id = "ema_flatten"
    event_kinds = ("operator",)

    def on_event(self, state: Any, event: Event, params: Params) -> float | None:
        if isinstance(event, OperatorSignal) and event.name == "flatten":
            state.muted = True
            return 0.0
        return None

    def step(self, state: Any, bar: Bar, params: Params) -> float:
        target = super().step(state, bar, params)
        muted, state.muted = getattr(state, "muted", False), False
        return 0.0 if muted else target


def test_fast_forward_steps_every_bar_that_carries_an_event(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)
    # an instant while EMA 12/26 is long on the BTC sample, and one while it is flat
    signals = [
        OperatorSignal(datetime(2024, 1, 8, 14, 30, tzinfo=UTC), "flatten"),
        OperatorSignal(datetime(2024, 3, 5, 19, 10, tzinfo=UTC), "flatten"),
        OperatorSignal(datetime(2024, 3, 5, 19, 20, tzinfo=UTC), "ignored"),
    ]
    calls: list[tuple[datetime | None, datetime]] = []

    def source(after: datetime | None, until: datetime) -> list[Event]:
        calls.append((after, until))
        return [s for s in signals if (after is None or s.ts > after) and s.ts <= until]

    def go(run_id: str, fast: bool) -> Any:
        strategy = EmaFlatten()
        return run_strategy(
            strategy, strategy.resolve_params({"fast": 12, "slow": 26}), btc_lake, start,
            settings.policy_dir / "research.toml", ExecutionModel(), Mode.PAPER,
            clock=SimulatedClock(end), until=end, run_id=run_id, fast_forward=fast, events=source,
        )  # fmt: skip

    fast, slow = go("ff", True), go("slow", False)
    plain = run_strategy(
        EmaCross(), {"fast": 12, "slow": 26}, btc_lake, start,
        settings.policy_dir / "research.toml", ExecutionModel(), Mode.PAPER,
        clock=SimulatedClock(end), until=end, run_id="plain",
    )  # fmt: skip
    assert calls and all(after is not None for after, _ in calls)
    f, s = fast.result, slow.result
    assert (f.bars, f.intents, f.orders, f.fills) == (s.bars, s.intents, s.orders, s.fills)
    assert f.trade_pnl == s.trade_pnl and f.final_position == s.final_position
    with SqliteJournal(settings.journal_path) as journal:

        def shape(run_id: str) -> list[tuple[object, ...]]:
            return [(o.side, o.qty, o.price, o.ts) for o in journal.orders(run_id)]

        assert shape("ff") == shape("slow")
        flattened = [(side, ts) for side, _, _, ts in shape("ff")]
        baseline = [(side, ts) for side, _, _, ts in shape("plain")]
    # one flatten hit a long position: a SELL at the next open, then the EMA re-enters one bar
    # later; the other found it flat and changed nothing
    extra = sorted(set(flattened) - set(baseline), key=lambda o: o[1])
    assert extra == [
        (Side.SELL, datetime(2024, 1, 8, 15, tzinfo=UTC)),
        (Side.BUY, datetime(2024, 1, 8, 16, tzinfo=UTC)),
    ]
    assert f.intents == plain.result.intents + 2


def test_drydock_live_replay_reads_the_declared_events_too(
    settings: Settings, sol_lake: tuple[datetime, datetime], tmp_path: Path
) -> None:
    """Regression: the module-level replay (``drydock live replay``) stepped bars only, so
    copy_wallet stayed flat there while the runner traded the recorded swaps."""
    from live.replay import replay

    ingest_helius(settings, tmp_path)
    start, end = sol_lake
    result = replay("copy_wallet", {}, SOL.exchange, SOL.symbol, SOL.timeframe, start, end,
                    settings.policy_dir / "research.toml", run_id="replayed")  # fmt: skip
    assert (result.orders, result.fills, result.denied) == (3, 3, 0)
    with SqliteJournal(settings.journal_path) as journal:
        got = [(o.side, o.ts, float(o.price)) for o in journal.orders("replayed")]
    assert got == EXPECTED


def test_copy_wallet_replays_as_the_research_engine_on_its_events(
    settings: Settings, sol_lake: tuple[datetime, datetime], tmp_path: Path
) -> None:
    """Parity for an event strategy: the research engine run on the targets the recorded swaps
    give (Strategy.targets_with_events, the runner's per-bar rule) trades what the replay
    trades, fill for fill (bar, side, quantity, price) and in final equity."""
    import math

    from drydock import ohlcv
    from drydock.fills import EngineConfig
    from drydock.markets import instrument_for
    from live.events import assign
    from live.replay import replay
    from research.engine import run_backtest

    ingest_helius(settings, tmp_path)
    start, end = sol_lake
    frame = ohlcv.read(SOL, start, end)
    events = LakeEvents(("wallet_swap",), SOL)(None, end)
    strategy = CopyWallet()
    params = strategy.resolve_params()
    targets = strategy.targets_with_events(frame, assign(frame["ts"].to_list(), H, events, "t"),
                                           params)  # fmt: skip
    execution = ExecutionModel()
    instrument = instrument_for(SOL.exchange, SOL.symbol, execution.overrides())
    cfg = EngineConfig(execution=execution, lot_size=float(instrument.lot_size),
                       min_notional=float(instrument.min_notional))  # fmt: skip
    research = run_backtest(frame, targets, cfg)
    result = replay("copy_wallet", {}, SOL.exchange, SOL.symbol, SOL.timeframe, start, end,
                    settings.policy_dir / "research.toml", run_id="copy-parity")  # fmt: skip
    ts = frame["ts"].to_list()
    ours = [(ts[int(r[0])], "buy" if r[1] > 0 else "sell", abs(float(r[1])), float(r[2]))
            for r in research.order_records]  # fmt: skip
    with SqliteJournal(settings.journal_path) as journal:
        theirs = [(f.ts, f.side.value, float(f.qty), float(f.price))
                  for f in journal.fills("copy-parity")]  # fmt: skip
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs, strict=True):
        assert a[:2] == b[:2]
        assert math.isclose(a[2], b[2], rel_tol=1e-9) and math.isclose(a[3], b[3], rel_tol=1e-9)
    assert math.isclose(result.final_equity, float(research.equity_values[-1]), rel_tol=1e-9)
