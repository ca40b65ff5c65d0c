"""Engine-kept runs: the replay trades what the research engine trades (shorts, leverage, stops,
trailing stops, take profit, scale-out ladders), every order through the policy and the venue."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel
from drydock.fills import EngineConfig, Reason, simulate
from drydock.markets import instrument_for
from drydock.ohlcv import SeriesKey, read
from drydock.settings import Settings
from drydock.types import Fill, Order
from live.journal import SqliteJournal
from live.replay import replay
from live.session import ReplayResult
from live.venues.base import VenueError
from live.venues.paper import PaperVenue
from research.engine import run_backtest
from strategies import Strategy, get_strategy
from strategies.base import Params

PARAMS = {"fast": 5, "slow": 20}
EXECUTION = ExecutionModel(init_cash=10_000.0, taker_fee=0.001, slippage_bps=5.0)


def config(key: SeriesKey, **rules: Any) -> EngineConfig:
    """The rules over the default costs and the market's increments (as the parity figure)."""
    instrument = instrument_for(key.exchange, key.symbol, EXECUTION.overrides())
    return EngineConfig(
        execution=EXECUTION, lot_size=float(instrument.lot_size),
        min_notional=float(instrument.min_notional), **rules,
    )  # fmt: skip


STOPS = {
    "allow_short": True,
    "stop_loss": 0.01,
    "trailing_stop": 0.015,
    "trailing_activation": 0.005,
    "take_profit": 0.03,
    "scale_out": ((0.006, 0.5), (0.012, 0.25)),
}


def run(key: SeriesKey, engine: EngineConfig, **kw: Any) -> ReplayResult:
    return replay("ema_long_short", PARAMS, key.exchange, key.symbol, key.timeframe,
                  engine=engine, **kw)  # fmt: skip


def engine_fills(key: SeriesKey, cfg: EngineConfig) -> tuple[list[tuple[Any, ...]], float, Any]:
    frame = read(key)
    strategy = get_strategy("ema_long_short")
    target = strategy.signals(frame, strategy.resolve_params(PARAMS))["target"].to_numpy()
    result = run_backtest(frame, target, cfg)
    ts = frame["ts"].to_list()
    fills = [
        (ts[int(r[0])], "buy" if r[1] > 0 else "sell", abs(float(r[1])), float(r[2]))
        for r in result.order_records
    ]
    return fills, float(result.equity_values[-1]), result


def journal_fills(run_id: str, settings: Settings) -> list[tuple[Any, ...]]:
    with SqliteJournal(settings.journal_path) as j:
        return [(f.ts, f.side.value, float(f.qty), float(f.price)) for f in j.fills(run_id)]


def same(ours: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a[0] == b[0] and a[1] == b[1], (a, b)
        assert math.isclose(a[2], b[2], rel_tol=1e-9) and math.isclose(a[3], b[3], rel_tol=1e-9)


def test_long_short_with_every_exit_rule_equals_the_research_engine(
    lake: SeriesKey, settings: Settings
) -> None:
    cfg = config(lake, **STOPS)
    expected, final, result = engine_fills(lake, cfg)
    reasons = Counter(Reason(int(r[4])).name for r in result.order_records)
    # the window exercises shorts and every exit kind, or the parity below proves little
    assert {"SIGNAL", "STOP_LOSS", "TRAILING_STOP", "SCALE_OUT"} <= set(reasons), reasons
    assert (result.position_values < 0).any() and (result.position_values > 0).any()
    replayed = run(lake, cfg, run_id="engine-parity")
    same(expected, journal_fills("engine-parity", settings))
    assert math.isclose(replayed.final_equity, final, rel_tol=1e-9)
    assert replayed.fills == len(expected) and replayed.denied == 0 and replayed.failures == 0
    assert replayed.trade_pnl == pytest.approx(list(result.trade_pnl), rel=1e-9)
    assert float(replayed.final_position.qty) == pytest.approx(result.open_position, abs=1e-12)


def test_leverage_and_the_end_rule_equal_the_engine(lake: SeriesKey, settings: Settings) -> None:
    cfg = config(lake, leverage=2.0, stop_loss=0.02, end="close")
    frame = read(lake)
    target = (
        2.0
        * get_strategy("ema_long_short")
        .signals(frame, get_strategy("ema_long_short").resolve_params(PARAMS))["target"]
        .to_numpy()
    )
    result = run_backtest(frame, target, cfg)
    replayed = replay(Doubled(), PARAMS, lake.exchange, lake.symbol, lake.timeframe,
                      engine=cfg, run_id="levered", policy_path=open_policy(settings))  # fmt: skip
    ts = frame["ts"].to_list()
    expected = [
        (ts[int(r[0])], "buy" if r[1] > 0 else "sell", abs(float(r[1])), float(r[2]))
        for r in result.order_records
    ]
    assert Reason(int(result.order_records[-1][4])) is Reason.END_CLOSE
    same(expected, journal_fills("levered", settings))
    assert math.isclose(replayed.final_equity, float(result.equity_values[-1]), rel_tol=1e-9)
    assert replayed.final_position.qty == 0


class Doubled(Strategy):
    """ema_long_short at twice the exposure (a levered run's targets in [-2, 2])."""

    id = "ema_long_short_x2"
    description = "ema_long_short at 2x"
    params = get_strategy("ema_long_short").params

    def __init__(self) -> None:
        self.inner = get_strategy("ema_long_short")

    def warmup(self, params: Params) -> int:
        return self.inner.warmup(params)

    def init_state(self, params: Params) -> Any:
        return self.inner.init_state(params)

    def step(self, state: Any, bar: Any, params: Params) -> float:
        return 2.0 * self.inner.step(state, bar, params)

    def signals(self, frame: Any, params: Params) -> Any:
        out = self.inner.signals(frame, params)
        return out.with_columns(out["target"] * 2.0)


def test_a_short_in_a_spot_run_fails_before_any_order(lake: SeriesKey, settings: Settings) -> None:
    """The engine's own check, in the replay as in run_backtest: one line, nothing journaled."""
    cfg = config(lake)  # spot: no shorts
    frame = read(lake)
    target = (
        get_strategy("ema_long_short")
        .signals(frame, get_strategy("ema_long_short").resolve_params(PARAMS))["target"]
        .to_numpy()
    )
    with pytest.raises(ConfigError) as engine_error:
        run_backtest(frame, target, cfg)
    with pytest.raises(ConfigError) as replay_error:
        run(lake, cfg, run_id="spot-short")
    assert str(replay_error.value) == str(engine_error.value)
    assert "allow_short" in str(replay_error.value)
    with SqliteJournal(settings.journal_path) as j:
        assert j.run("spot-short") is None


def test_a_short_exit_at_its_stop_is_judged_at_the_stop_price(
    lake: SeriesKey, settings: Settings
) -> None:
    """Regression: the policy valued a short's position at the bar's open and as a negative
    notional, so every buy-to-cover was denied as 'an exit exceeding what is held'."""
    run(lake, config(lake, **STOPS), run_id="covers")
    with SqliteJournal(settings.journal_path) as j:
        decisions = j.decisions("covers")
    denied = [d for d in decisions if not d.allowed]
    assert denied == []
    covers = [
        d for d in decisions
        if d.explanation["action"]["side"] == "buy" and d.explanation["action"]["reduces_position"]
    ]  # fmt: skip
    assert covers, "the window has short exits"


class CrashOnce(PaperVenue):
    """Raises on the ``nth`` submit (after the order was journaled), then fills normally."""

    forgets_on_crash = False

    def __init__(self, nth: int) -> None:
        super().__init__("binance", EXECUTION)
        self.nth, self.calls = nth, 0

    def submit(self, order: Order) -> list[Fill]:
        self.calls += 1
        if self.calls == self.nth:
            raise RuntimeError("power cut")
        return super().submit(order)


@pytest.mark.parametrize("nth", [2, 7])
def test_a_crash_mid_run_resumes_without_duplicate_or_lost_fills(
    lake: SeriesKey, settings: Settings, nth: int
) -> None:
    cfg = config(lake, **STOPS)
    clean = run(lake, cfg, run_id="clean")
    with pytest.raises(RuntimeError, match="power cut"):
        run(lake, cfg, run_id="crashy", venue=CrashOnce(nth))
    resumed = run(lake, cfg, run_id="crashy")
    with SqliteJournal(settings.journal_path) as j:
        orders, fills = j.orders("crashy"), j.fills("crashy")
        assert len(orders) == len({o.client_order_id for o in orders}) == clean.orders
        assert Counter(f.client_order_id for f in fills) == Counter(
            o.client_order_id for o in orders
        )
    assert resumed.new_orders == clean.orders - nth
    assert resumed.final_equity == pytest.approx(clean.final_equity, rel=1e-12)
    assert journal_fills("crashy", settings) == journal_fills("clean", settings)
    assert run(lake, cfg, run_id="crashy").new_orders == 0


class RejectNth(PaperVenue):
    """Rejects the ``nth`` submit for good (an exchange refusing an order), fills the rest."""

    def __init__(self, nth: int) -> None:
        super().__init__("binance", EXECUTION)
        self.nth, self.calls = nth, 0

    def submit(self, order: Order) -> list[Fill]:
        self.calls += 1
        if self.calls == self.nth:
            raise VenueError("rejected: reduce-only order would increase position")
        return super().submit(order)


def test_a_rejected_exit_leaves_the_model_holding_what_the_venue_holds(
    lake: SeriesKey, settings: Settings
) -> None:
    """The second order (the first exit) is rejected: the model books nothing for it, keeps the
    position, exits it later, and its cash and position always equal the venue's fills."""
    cfg = config(lake, **STOPS)
    clean = run(lake, cfg, run_id="clean")
    rejected = run(lake, cfg, run_id="rejected", venue=RejectNth(2))
    assert rejected.failures == 1 and rejected.fills == rejected.orders - 1
    assert journal_fills("rejected", settings) != journal_fills("clean", settings)
    with SqliteJournal(settings.journal_path) as j:
        fills = j.fills("rejected")
    signed = [(1 if f.side.value == "buy" else -1) * f.qty for f in fills]
    cash = Decimal(str(EXECUTION.init_cash)) - sum(
        (q * f.price + f.fee for q, f in zip(signed, fills, strict=True)), Decimal(0)
    )
    assert rejected.final_position.qty == sum(signed, Decimal(0))
    last_close = float(read(lake)["close"][-1])
    venue_equity = float(cash) + float(sum(signed, Decimal(0))) * last_close
    assert rejected.final_equity == pytest.approx(venue_equity, rel=1e-12)
    assert clean.failures == 0


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**31 - 1),
    stop=st.sampled_from([None, 0.004, 0.01]),
    trail=st.sampled_from([None, 0.006, 0.02]),
    take=st.sampled_from([None, 0.008, 0.03]),
)
def test_any_target_path_and_exit_mix_replays_as_the_reference_model(
    lake: SeriesKey, settings: Settings, seed: int, stop: float | None, trail: float | None,
    take: float | None,
) -> None:  # fmt: skip
    """Property: random exposures in [-2, 2] (held a few bars each) with any mix of exits; the
    replay's journaled fills and equity equal drydock.fills.simulate's."""
    rng = np.random.default_rng(seed)
    frame = read(lake)
    n = frame.height
    levels = rng.choice([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], size=n // 6 + 1)
    target = np.repeat(levels, 6)[:n]
    cfg = config(lake, leverage=2.0, stop_loss=stop, trailing_stop=trail, take_profit=take)
    bars = list(
        zip(*(frame[c].to_list() for c in ("open", "high", "low", "close", "volume")), strict=True)
    )
    model = simulate(bars, list(target), cfg)
    ts = frame["ts"].to_list()
    expected = [
        (ts[o[0]], "buy" if o[1] > 0 else "sell", abs(o[1]), o[2]) for o in model.account.orders
    ]
    run_id = f"prop-{seed}-{stop}-{trail}-{take}"
    replayed = replay(Fixed(target, ts), {}, lake.exchange, lake.symbol, lake.timeframe,
                      engine=cfg, run_id=run_id, policy_path=open_policy(settings))  # fmt: skip
    same(expected, journal_fills(run_id, settings))
    assert math.isclose(replayed.final_equity, model.equity[-1], rel_tol=1e-9, abs_tol=1e-6)


def open_policy(settings: Settings) -> Path:
    """A policy without limits: the property is about the model, not the rules."""
    path = settings.journal_path.parent / "open.toml"  # in the test's home, not the repo
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('version = "open"\n', encoding="utf-8")
    return path


def test_levered_orders_are_judged_at_their_leverage(lake: SeriesKey, settings: Settings) -> None:
    """A 2x run under a policy capped at 1x: entries beyond 1x are denied (risk.max_leverage),
    the exits of what was allowed go out."""
    cfg = config(lake, leverage=2.0)
    result = replay(Doubled(), PARAMS, lake.exchange, lake.symbol, lake.timeframe, engine=cfg,
                    run_id="capped", policy_path=Path("policies/research.toml"))  # fmt: skip
    with SqliteJournal(settings.journal_path) as j:
        decisions = j.decisions("capped")
    rules = Counter(v["rule_id"] for d in decisions for v in d.explanation.get("violations", []))
    assert rules["risk.max_leverage"] == result.denied > 0
    levers = [d.explanation["action"]["leverage"] for d in decisions]
    assert max(levers) == pytest.approx(2.0, rel=0.01)


class Fixed(Strategy):
    """Replays a fixed target series (by bar time): the property test's strategy."""

    id = "fixed_targets"
    description = "fixed targets"
    params = ()

    def __init__(self, target: np.ndarray, ts: list[datetime]) -> None:
        self.by_ts = dict(zip(ts, target.tolist(), strict=True))
        self.target = target

    def warmup(self, params: Params) -> int:
        return 0

    def init_state(self, params: Params) -> Any:
        return None

    def step(self, state: Any, bar: Any, params: Params) -> float:
        return float(self.by_ts[bar.ts])

    def signals(self, frame: Any, params: Params) -> Any:
        import polars as pl

        return frame.with_columns(
            pl.Series("target", [self.by_ts[t] for t in frame["ts"].to_list()], dtype=pl.Float64)
        )


def test_quantities_go_out_in_whole_lots(lake: SeriesKey, settings: Settings) -> None:
    """Float residue of a summed position never reaches the venue as a sub-lot order."""
    run(lake, config(lake, **STOPS), run_id="lots")
    lot = Decimal(str(config(lake).lot_size))
    with SqliteJournal(settings.journal_path) as j:
        orders = j.orders("lots")
        failed = j.events(scope="lots", kind="order_failed")
    assert orders and all(o.qty % lot == 0 for o in orders)
    assert failed == []


def test_an_exit_without_a_fill_is_stuck_retried_next_bar_and_unstuck(
    lake: SeriesKey, settings: Settings
) -> None:
    """The venue rejects the first exit: `stuck` is journaled, the model goes to its target
    again at the next open (the exit goes out again) and a fill journals `unstuck`; the run
    ends holding what the venue holds."""
    cfg = config(lake, **STOPS)
    result = run(lake, cfg, run_id="stuck-exit", venue=RejectNth(2))
    with SqliteJournal(settings.journal_path) as j:
        stuck = j.events(scope="stuck-exit", kind="stuck")
        unstuck = j.events(scope="stuck-exit", kind="unstuck")
        orders = j.orders("stuck-exit")
    assert len(stuck) == 1 and len(unstuck) == 1
    assert unstuck[0].ts > stuck[0].ts
    second_exit = next(o for o in orders if o.ts > stuck[0].ts)
    assert second_exit.ts - stuck[0].ts <= timedelta(hours=1)  # retried at the next open
    assert result.failures == 1


def test_a_perpetual_pays_and_earns_funding_as_the_engine(settings: Settings) -> None:
    """A long/short EMA on the BTC perpetual: funding from the lake is booked at its stamps on
    whoever held the position, as run_backtest(funding=...) books it."""
    import polars as pl

    from drydock.funding import write_funding
    from drydock.ohlcv import write_day
    from drydock.sample import read_sample, read_sample_funding

    perp = SeriesKey("binance", "BTC/USDT:USDT", "1h")
    frame = read_sample(perp).filter(pl.col("ts") < datetime(2024, 1, 15, tzinfo=UTC))
    for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
        write_day(perp, day, part)
    funding = read_sample_funding("binance", perp.symbol)
    write_funding("binance", perp.symbol, funding)
    cfg = config(perp, allow_short=True, stop_loss=0.02)
    strategy = get_strategy("ema_long_short")
    target = strategy.signals(frame, strategy.resolve_params(PARAMS))["target"].to_numpy()
    expected = run_backtest(frame, target, cfg, funding=funding)
    assert abs(expected.funding_paid) > 1.0  # funding moves the result
    replayed = run(perp, cfg, run_id="perp", policy_path=open_policy(settings))
    assert math.isclose(replayed.final_equity, float(expected.equity_values[-1]), rel_tol=1e-9)
    without = run_backtest(frame, target, cfg)
    assert not math.isclose(replayed.final_equity, float(without.equity_values[-1]), rel_tol=1e-6)


def test_volume_impact_prices_paper_fills_as_the_engine(
    lake: SeriesKey, settings: Settings
) -> None:
    """With --impact the model sizes and prices with impact * sqrt(qty / volume); the paper
    venue fills at that price, so the replay still equals the engine (before, the venue filled
    at the plain slipped open and the run drifted from research)."""
    cfg = config(lake, allow_short=True, stop_loss=0.01, impact=0.5)
    expected, final, _result = engine_fills(lake, cfg)
    plain, _, _ = engine_fills(lake, config(lake, allow_short=True, stop_loss=0.01))
    assert [f[3] for f in expected] != [f[3] for f in plain][: len(expected)]  # impact moves prices
    replayed = run(lake, cfg, run_id="impact", policy_path=open_policy(settings))
    same(expected, journal_fills("impact", settings))
    assert math.isclose(replayed.final_equity, final, rel_tol=1e-9)


def test_a_liquidation_pays_the_liquidation_fee_on_paper_as_in_the_engine(
    lake: SeriesKey, settings: Settings
) -> None:
    """A 5x long with a high maintenance margin is liquidated by the model; the paper venue
    charges the liquidation fee on that order as the engine books it."""
    frame = read(lake)
    ts = frame["ts"].to_list()
    target = np.full(frame.height, 5.0)
    target[:3] = 0.0
    cfg = config(lake, leverage=5.0, maintenance_margin=0.18, liquidation_fee=0.01)
    result = run_backtest(frame, target, cfg)
    reasons = [Reason(int(r[4])) for r in result.order_records]
    assert Reason.LIQUIDATION in reasons  # the window liquidates the 5x long
    replay(Fixed(target, ts), {}, lake.exchange, lake.symbol, lake.timeframe, engine=cfg,
           run_id="liquidated", policy_path=open_policy(settings))  # fmt: skip
    with SqliteJournal(settings.journal_path) as j:
        fees = [float(f.fee) for f in j.fills("liquidated")]
    assert fees == pytest.approx([float(r[3]) for r in result.order_records], rel=1e-9)


def test_a_denied_reversal_retries_only_its_exit(lake: SeriesKey, settings: Settings) -> None:
    """Regression: a long -> short reversal denied by a tripped breaker was retried whole every
    bar, with the short's size from the old price (then denied as leverage 1.0004x > 1x). Only
    its exit is worked again: the retry is a reducing order that closes the long."""
    policy = settings.journal_path.parent / "breaker.toml"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text('version = "b"\n[circuit_breakers]\nmax_consecutive_losses = 1\n', "utf-8")
    run(lake, config(lake, allow_short=True), run_id="reversal", policy_path=policy)
    with SqliteJournal(settings.journal_path) as j:
        decisions = j.decisions("reversal")
    rules = Counter(v["rule_id"] for d in decisions for v in d.explanation.get("violations", []))
    assert rules["circuit_breakers.max_consecutive_losses"] >= 1  # the breaker did trip
    assert rules["risk.max_leverage"] == 0
    first = next(d for d in decisions if not d.allowed)
    assert not first.explanation["action"]["reduces_position"]  # the reversal, as one order
    after = [d for d in decisions if d.ts > first.ts]
    assert after and after[0].allowed and after[0].explanation["action"]["reduces_position"]
    assert after[0].explanation["action"]["quantity"] < first.explanation["action"]["quantity"]
