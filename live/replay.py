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

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drydock import ohlcv
from drydock.errors import ConfigError
from drydock.execution import (
    ExecutionModel,
    FillTiming,
    check_targets,
)
from drydock.fills import EngineConfig, check_exposures
from drydock.logs import get_logger
from drydock.markets import instrument_for
from drydock.policy import load_policy
from drydock.settings import get_settings
from drydock.timeframes import timeframe_delta
from drydock.types import Bar
from live.journal import (
    JournalRepository,
)
from live.order_keeper import OrderStrategyRun
from live.session import ReplayResult, session
from live.venues.base import SimulatedVenue
from strategies.base import Strategy, iter_bars
from strategies.registry import get_strategy

if TYPE_CHECKING:
    import polars as pl

    from drydock.events import Event

log = get_logger(__name__)


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
