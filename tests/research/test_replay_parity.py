"""The paper replay (incremental strategy, policy engine, Decimal venue) reproduces the backtest."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import polars as pl
import pytest

from drydock.execution import ExecutionModel, UnsupportedTargetError
from drydock.ohlcv import SeriesKey, read
from drydock.settings import Settings
from drydock.types import Bar
from live.replay import replay
from research.backtest import backtest
from strategies import get_strategy
from strategies.base import Params, ParamSpec, Strategy

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("params", [{"fast": 12, "slow": 26}, {"fast": 5, "slow": 80}])
def test_replay_under_research_policy_equals_backtest(
    params: dict[str, int], btc_lake: SeriesKey, settings: Settings
) -> None:
    strategy = get_strategy("ema_cross")
    result = backtest(strategy, strategy.resolve_params(params), btc_lake)
    rep = replay(
        "ema_cross", params, btc_lake.exchange, btc_lake.symbol, btc_lake.timeframe,
        policy_path=settings.policy_dir / "research.toml",
    )  # fmt: skip
    assert rep.denied == 0
    assert rep.orders == rep.fills == result.orders
    np.testing.assert_allclose(rep.equity[1:], result.equity, rtol=1e-12)
    np.testing.assert_allclose(rep.trade_pnl, result.trade_pnl, rtol=1e-9)
    for name in ("total_return", "sharpe", "max_drawdown", "win_rate", "trade_count"):
        assert rep.metrics[name] == pytest.approx(result.metrics[name], rel=1e-9), name
    assert result.final_equity == pytest.approx(rep.final_equity, rel=1e-12)


def test_min_notional_skips_the_same_orders_in_both_paths(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    execution = ExecutionModel(min_notional=10_500)  # every all-in entry of 10k is too small
    strategy = get_strategy("ema_cross")
    result = backtest(strategy, strategy.resolve_params(), btc_lake, execution)
    rep = replay(
        "ema_cross", {}, btc_lake.exchange, btc_lake.symbol, btc_lake.timeframe,
        policy_path=settings.policy_dir / "research.toml", execution=execution,
    )  # fmt: skip
    assert result.orders == rep.orders == 0
    assert result.skipped_min_notional == rep.below_min_notional == 40  # entries in Q1 2024
    assert result.final_equity == rep.final_equity == 10_000


class ShortAfter(Strategy):
    """Goes flat, long, then emits -1 (a short) at bar 40: unsupported on spot."""

    id = "short_after"
    params: ClassVar[tuple[ParamSpec, ...]] = ()

    def warmup(self, params: Params) -> int:
        return 2

    def signals(self, frame: pl.DataFrame, params: Params) -> pl.DataFrame:
        i = pl.int_range(pl.len())
        target = pl.when(i >= 40).then(-1.0).when(i >= 20).then(1.0).otherwise(0.0)
        return frame.with_columns(target=target)

    def init_state(self, params: Params) -> Any:
        return {"i": 0}

    def step(self, state: Any, bar: Bar, params: Params) -> float:
        i = state["i"]
        state["i"] += 1
        return -1.0 if i >= 40 else 1.0 if i >= 20 else 0.0


def test_an_unsupported_target_fails_identically_in_backtest_and_replay(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    strategy = ShortAfter()
    with pytest.raises(UnsupportedTargetError) as in_backtest:
        backtest(strategy, {}, btc_lake)  # the default engine, spot and long-only like the replay
    with pytest.raises(UnsupportedTargetError) as on_vectorbt:
        backtest(strategy, {}, btc_lake, engine="vectorbt")
    assert str(on_vectorbt.value) == str(in_backtest.value)
    assert (backtest(strategy, {}, btc_lake, allow_short=True).position < 0).any()  # when asked
    with pytest.raises(UnsupportedTargetError) as in_replay:
        replay(
            strategy, {}, btc_lake.exchange, btc_lake.symbol, btc_lake.timeframe,
            policy_path=settings.policy_dir / "research.toml",
        )  # fmt: skip
    bar_40 = read(btc_lake)["ts"][40].isoformat()
    expected = (
        f"Strategy 'short_after' emitted target -1.0 at bar {bar_40}; supported targets are 0 "
        "(flat) or 1 (all-in long); spot, long-only, no fractions, no NaN or inf. Fix the "
        "strategy's signals()/step() to return 0 or 1."
    )
    assert str(in_backtest.value) == str(in_replay.value) == expected
    # Regression: the replay used to journal the long entry of bar 20 before failing at bar 40,
    # leaving an unfinished run that held a position. The series is checked before any order.
    from live.journal import SqliteJournal

    if settings.journal_path.exists():
        with SqliteJournal(settings.journal_path) as journal:
            assert journal.runs() == [] and journal.recent_decisions() == []
