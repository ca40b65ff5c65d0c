"""``drydock backtest``'s two engines give the same fills on 0/1 targets: the research engine (the
default) and vectorbt (``--engine vectorbt``)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel, FillTiming
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample
from research.backtest import DEFAULT_ENGINE, backtest_frame
from strategies import get_strategy

pytestmark = pytest.mark.integration

BTC = SeriesKey("binance", "BTC/USDT", "1h")
ETH = SeriesKey("binance", "ETH/USDT", "1h")


@pytest.mark.parametrize("key", [BTC, ETH], ids=str)
@pytest.mark.parametrize(("fast", "slow"), [(12, 26), (5, 60)])
def test_engines_give_the_same_trades(key: SeriesKey, fast: int, slow: int) -> None:
    """ema_cross with the default next-open fills, fees and slippage: same entry and exit bars,
    sides, sizes, prices and fees (1e-9), same equity and metrics."""
    frame = read_sample(key)
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params({"fast": fast, "slow": slow})
    execution = ExecutionModel()
    assert execution.fill == FillTiming.NEXT_OPEN
    ours = backtest_frame(strategy, params, frame, key, execution)
    peer = backtest_frame(strategy, params, frame, key, execution, engine="vectorbt")
    assert (ours.engine, peer.engine) == (DEFAULT_ENGINE, "vectorbt") == ("research", "vectorbt")
    assert ours.fills is not None and peer.fills is not None
    assert ours.fills.height == peer.fills.height > 50
    assert ours.fills["bar"].to_list() == peer.fills["bar"].to_list()
    assert ours.fills["side"].to_list() == peer.fills["side"].to_list()
    for column in ("qty", "price", "fee"):
        np.testing.assert_allclose(
            ours.fills[column].to_numpy(), peer.fills[column].to_numpy(), rtol=1e-9, atol=1e-9
        )
    np.testing.assert_allclose(ours.equity, peer.equity, rtol=1e-9)
    np.testing.assert_allclose(ours.position, peer.position, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.trade_pnl, peer.trade_pnl, rtol=1e-7, atol=1e-6)
    assert (ours.orders, ours.skipped_min_notional) == (peer.orders, peer.skipped_min_notional)
    assert ours.fees_paid == pytest.approx(peer.fees_paid, rel=1e-9)
    for name, value in peer.metrics.items():
        assert ours.metrics[name] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), name


def test_research_engine_takes_shorts_vectorbt_refuses_them() -> None:
    frame = read_sample(BTC)
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params()
    result = backtest_frame(strategy, params, frame, BTC, ExecutionModel(), allow_short=True)
    assert result.engine == "research"
    with pytest.raises(ConfigError, match="long-only"):
        backtest_frame(
            strategy, params, frame, BTC, ExecutionModel(), engine="vectorbt", allow_short=True
        )
    with pytest.raises(ConfigError, match="not one of"):
        backtest_frame(strategy, params, frame, BTC, ExecutionModel(), engine="zipline")


def test_default_engine_does_not_load_vectorbt() -> None:
    """The default path never imports vectorbt (a subprocess, so other tests' imports don't count)."""
    import subprocess

    code = (
        "import sys\n"
        "from drydock.execution import ExecutionModel\n"
        "from drydock.ohlcv import SeriesKey\n"
        "from drydock.sample import read_sample\n"
        "from research.backtest import backtest_frame\n"
        "from strategies import get_strategy\n"
        "k = SeriesKey('binance', 'BTC/USDT', '1h')\n"
        "s = get_strategy('ema_cross')\n"
        "backtest_frame(s, s.resolve_params(), read_sample(k).head(500), k, ExecutionModel())\n"
        "import demo.cli, research.tracking, research.report\n"
        "print('vectorbt' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip().splitlines()[-1] == "False"
