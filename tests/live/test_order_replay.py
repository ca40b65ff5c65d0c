"""Order-level strategies (grid, DCA) through the live core: resting orders matched by the core's
book, every match sent through the policy and the venue, the research loop's fills exactly."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel
from drydock.fills import Reason
from drydock.markets import instrument_for
from drydock.matching import CancelOrder, OrderKind, PlaceOrder
from drydock.ohlcv import SeriesKey, read
from drydock.settings import Settings
from drydock.types import Fill, Order, Side
from live.journal import SqliteJournal
from live.order_keeper import OrderStrategyRun
from live.replay import replay
from live.runner import Mode, SimulatedClock, run_strategy
from live.venues.paper import PaperVenue
from research.engine.orders import run_orders
from strategies.order_based import OrderStrategy, get_order_strategy

EXECUTION = ExecutionModel()
GRID = {"levels": 6, "spacing": 0.004}


def research_fills(
    key: SeriesKey, strategy_id: str, params: dict[str, Any]
) -> tuple[list[Any], float]:
    strategy = get_order_strategy(strategy_id)
    instrument = instrument_for(key.exchange, key.symbol, EXECUTION.overrides())
    frame = read(key)
    run = run_orders(frame, strategy, strategy.resolve_params(params), EXECUTION,
                     lot_size=float(instrument.lot_size),
                     min_notional=float(instrument.min_notional))  # fmt: skip
    ts = frame["ts"].to_list()
    fills = [
        (ts[int(r[0])], "buy" if r[1] > 0 else "sell", abs(float(r[1])), float(r[2]), float(r[3]))
        for r in run.order_records
    ]
    return fills, float(run.equity_values[-1])


def journal_fills(run_id: str, settings: Settings) -> list[Any]:
    with SqliteJournal(settings.journal_path) as j:
        return [
            (f.ts, f.side.value, float(f.qty), float(f.price), float(f.fee))
            for f in j.fills(run_id)
        ]


def same(ours: list[Any], theirs: list[Any]) -> None:
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs, strict=True):
        assert a[:2] == b[:2], (a, b)
        for x, y in zip(a[2:], b[2:], strict=True):
            assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), (a, b)


@pytest.mark.parametrize(("strategy_id", "params"), [("grid", GRID), ("dca", {"step": 0.01})])
def test_order_strategies_replay_as_research(
    lake: SeriesKey, settings: Settings, strategy_id: str, params: dict[str, Any]
) -> None:
    """Fill for fill, fees included: limits at their price and the maker fee, market orders
    slipped at the open with the taker fee."""
    expected, final = research_fills(lake, strategy_id, params)
    result = replay(strategy_id, params, lake.exchange, lake.symbol, lake.timeframe,
                    run_id=f"orders-{strategy_id}")  # fmt: skip
    same(expected, journal_fills(f"orders-{strategy_id}", settings))
    assert math.isclose(result.final_equity, final, rel_tol=1e-9)
    assert result.denied == 0 and result.failures == 0 and result.fills == len(expected)
    with SqliteJournal(settings.journal_path) as j:
        kinds = Counter(
            (d.explanation["action"].get("extra") or {}).get("order_type", "market")
            for d in j.decisions(f"orders-{strategy_id}")
        )
    assert kinds["limit"] > 0  # the resting orders went out as limits


class CrashOnce(PaperVenue):
    """An exchange-like venue (durable commits) that dies on the ``nth`` submit."""

    forgets_on_crash = False

    def __init__(self, nth: int) -> None:
        super().__init__("binance", EXECUTION)
        self.nth, self.calls = nth, 0

    def submit(self, order: Order) -> list[Fill]:
        self.calls += 1
        if self.calls == self.nth:
            raise RuntimeError("power cut")
        return super().submit(order)


def test_a_crash_before_a_limit_fills_resends_it_as_a_limit(
    lake: SeriesKey, settings: Settings
) -> None:
    """The journaled order row keeps no kind: the resumed run reads it from the decision's
    action, so the resent limit fills at its price with the maker fee (not as a market)."""
    replay("grid", GRID, lake.exchange, lake.symbol, lake.timeframe, run_id="clean")
    with pytest.raises(RuntimeError, match="power cut"):
        replay("grid", GRID, lake.exchange, lake.symbol, lake.timeframe, run_id="crashy",
               venue=CrashOnce(3))  # fmt: skip
    replay("grid", GRID, lake.exchange, lake.symbol, lake.timeframe, run_id="crashy")
    assert journal_fills("crashy", settings) == journal_fills("clean", settings)
    with SqliteJournal(settings.journal_path) as j:
        orders = j.orders("crashy")
        assert len(orders) == len({o.client_order_id for o in orders})


class Exchange(PaperVenue):
    """A venue that prices only market orders (an exchange adapter)."""

    takes_resting_orders = False


def test_a_venue_without_resting_orders_refuses_the_run(
    lake: SeriesKey, settings: Settings
) -> None:
    with pytest.raises(ConfigError, match=r"does not take the limit orders .* --mode paper"):
        replay("grid", GRID, lake.exchange, lake.symbol, lake.timeframe, run_id="exchange",
               venue=Exchange("binance", EXECUTION))  # fmt: skip
    with SqliteJournal(settings.journal_path) as j:
        assert j.fills("exchange") == []
        failed = j.events(scope="exchange", kind="run_failed")
        assert failed and "limit orders" in failed[0].detail["error"]


def test_engine_rules_are_refused_for_an_order_strategy(lake: SeriesKey) -> None:
    from drydock.fills import EngineConfig

    with pytest.raises(ConfigError, match="order-level strategy"):
        replay("grid", GRID, lake.exchange, lake.symbol, lake.timeframe,
               engine=EngineConfig(stop_loss=0.01))  # fmt: skip


def test_the_scheduled_runner_trades_a_grid_as_research(
    lake: SeriesKey, settings: Settings
) -> None:
    expected, final = research_fills(lake, "grid", GRID)
    frame = read(lake)
    start, end = frame["ts"][0], frame["ts"][-1] + (frame["ts"][1] - frame["ts"][0])
    strategy = OrderStrategyRun.of(get_order_strategy("grid"))
    summary = run_strategy(
        strategy, strategy.resolve_params(GRID), lake, start,
        settings.policy_dir / "research.toml", EXECUTION, Mode.PAPER,
        clock=SimulatedClock(end), until=end, run_id="grid-runner",
    )  # fmt: skip
    same(expected, journal_fills("grid-runner", settings))
    assert math.isclose(summary.result.final_equity, final, rel_tol=1e-9)
    assert start.tzinfo is not None and end > datetime(2024, 1, 1, tzinfo=UTC)


class Bracket(OrderStrategy):
    """Whenever flat with nothing live: a buy limit 1% under the close with an OTO bracket (a
    stop 0.5% under the entry price and a take profit 1% over it, one cancelling the other)."""

    id = "bracket_test"
    description = "entry limit with an OCO stop / take-profit bracket"
    params = ()

    def init_state(self, params: Any) -> dict[str, int]:
        return {"n": 0}

    def on_bar(self, state: Any, t: int, bar: Any, fills: Any, account: Any,
               params: Any) -> list[PlaceOrder | CancelOrder]:  # fmt: skip
        if account.position * bar.close > 10 or account.live:  # dust of a 0.1% smaller exit
            return []
        state["n"] += 1
        n, entry = state["n"], bar.close * 0.99
        return [
            PlaceOrder(f"in-{n}", Side.BUY, OrderKind.LIMIT, notional=2_000, price=entry),
            PlaceOrder(f"sl-{n}", Side.SELL, OrderKind.STOP, qty=2_000 / entry * 0.999,
                       price=entry * 0.995, oco=f"x-{n}", after=f"in-{n}"),
            PlaceOrder(f"tp-{n}", Side.SELL, OrderKind.LIMIT, qty=2_000 / entry * 0.999,
                       price=entry * 1.01, oco=f"x-{n}", after=f"in-{n}"),
        ]  # fmt: skip


def test_an_oto_oco_bracket_is_emulated_by_the_core_as_in_research(
    lake: SeriesKey, settings: Settings
) -> None:
    """Entry, stop and take profit: the exits wait for the entry, one cancels the other; the
    core matches them and sends each fill's order through the policy: research's fills."""
    strategy = Bracket()
    instrument = instrument_for(lake.exchange, lake.symbol, EXECUTION.overrides())
    frame = read(lake)
    run = run_orders(frame, strategy, {}, EXECUTION, lot_size=float(instrument.lot_size),
                     min_notional=float(instrument.min_notional))  # fmt: skip
    ts = frame["ts"].to_list()
    expected = [
        (ts[int(r[0])], "buy" if r[1] > 0 else "sell", abs(float(r[1])), float(r[2]), float(r[3]))
        for r in run.order_records
    ]
    exits = {int(r[4]) for r in run.order_records if r[1] < 0}
    assert exits == {int(Reason.LIMIT), int(Reason.STOP)}  # take profits and stops both fire
    result = replay(OrderStrategyRun.of(Bracket()), {}, lake.exchange, lake.symbol,
                    lake.timeframe, run_id="bracket")  # fmt: skip
    same(expected, journal_fills("bracket", settings))
    assert math.isclose(result.final_equity, float(run.equity_values[-1]), rel_tol=1e-9)
