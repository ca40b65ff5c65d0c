"""Property: the runner's fast-forward (Session.advance) and stepping every bar make the same
orders, fills and trades on any price path, catching up in one go or bar by bar as a live runner
does; equity agrees to 1e-12 (skipped bars are marked in float64, stepped ones in Decimal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drydock.execution import ExecutionModel
from drydock.ohlcv import SeriesKey
from drydock.settings import Settings
from drydock.types import Bar
from live.journal import SqliteJournal
from live.runner import Mode, RunnerSummary, SimulatedClock, run_strategy
from strategies import get_strategy
from strategies.base import iter_bars

pytestmark = pytest.mark.integration

KEY = SeriesKey("binance", "BTC/USDT", "1h")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


class FrameSource:
    """Bars from an in-memory frame, closed once their hour has passed (a FrameFeed)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def closed_frame(self, after: datetime | None, now: datetime) -> pl.DataFrame:
        since = after + timedelta(hours=1) if after is not None else T0
        f = self.frame
        return f.filter((pl.col("ts") >= since) & (pl.col("ts") + timedelta(hours=1) <= now))

    def closed_bars(self, after: datetime | None, now: datetime) -> list[Bar]:
        return iter_bars(self.closed_frame(after, now))


def walk(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 40_000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([40_000.0], close[:-1]))
    ts = [T0 + timedelta(hours=i) for i in range(n)]
    return pl.DataFrame({
        "ts": ts, "open": open_, "high": np.maximum(open_, close) * 1.001,
        "low": np.minimum(open_, close) * 0.999, "close": close, "volume": np.full(n, 5.0),
    }).with_columns(pl.col("ts").dt.cast_time_unit("us"))  # fmt: skip


def runner(settings_: Settings, frame: pl.DataFrame, params: dict[str, float], run_id: str,
           fast: bool, now: datetime, until: datetime) -> RunnerSummary:  # fmt: skip
    strategy = get_strategy("ema_cross")
    return run_strategy(
        strategy, strategy.resolve_params(params), KEY, T0,
        settings_.policy_dir / "research.toml", ExecutionModel(), Mode.PAPER,
        feed=FrameSource(frame), clock=SimulatedClock(now), until=until, run_id=run_id,
        fast_forward=fast, settle=timedelta(seconds=1),
    )  # fmt: skip


_RUN = iter(range(10**9))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(60, 400),
    fast=st.integers(2, 8),
    gap=st.integers(3, 30),
    live_from=st.floats(0.0, 1.0),
)
def test_fast_forward_equals_stepping_every_bar_on_any_path(
    seed: int, n: int, fast: int, gap: int, live_from: float, settings: Settings, home: Path
) -> None:
    frame = walk(seed, n)
    end = T0 + timedelta(hours=n)
    # Catch up to a random point at once, then one bar per wake-up, like a runner started late.
    start_at = T0 + timedelta(hours=int(live_from * n), minutes=30)
    params = {"fast": fast, "slow": fast + gap}
    k = next(_RUN)
    results = {
        ff: runner(settings, frame, params, f"p{k}-{ff}", ff, min(start_at, end), end).result
        for ff in (True, False)
    }
    a, b = results[True], results[False]
    assert (a.bars, a.intents, a.orders, a.fills, a.denied) == (
        b.bars, b.intents, b.orders, b.fills, b.denied,
    )  # fmt: skip
    assert a.bars == n and a.trade_pnl == b.trade_pnl and a.final_position == b.final_position
    assert a.timestamps == b.timestamps
    np.testing.assert_allclose(a.equity, b.equity, rtol=1e-12, atol=0)
    with SqliteJournal(settings.journal_path) as j:

        def orders(run_id: str) -> list[tuple[object, ...]]:
            return [(o.side, o.qty, o.price, o.ts) for o in j.orders(run_id)]

        assert orders(f"p{k}-True") == orders(f"p{k}-False")
