"""The paper replay (incremental strategy, policy engine, Decimal venue) reproduces the backtest."""

from __future__ import annotations

import numpy as np
import pytest

from drydock.ohlcv import SeriesKey
from drydock.settings import Settings
from live.replay import replay
from research.backtest import backtest
from strategies import get_strategy


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
