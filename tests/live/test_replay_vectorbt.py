"""Cross-check: the paper replay agrees with vectorbt configured with the same semantics.

Same rules on both sides: signal on bar t's close, fill at bar t+1's open, all-in long / flat,
fee 0.1% of notional, 5 bps adverse slippage. Lot rounding is made negligible (1e-12) because
vectorbt rounds sizes in float and then cannot fully close a position.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from drydock.execution import ExecutionModel
from drydock.ohlcv import SeriesKey, read
from drydock.types import Instrument
from live.replay import replay
from live.venues.paper import PaperVenue
from strategies.registry import get_strategy

pytestmark = pytest.mark.integration


def test_replay_matches_vectorbt(lake: SeriesKey) -> None:
    vbt = pytest.importorskip("vectorbt")
    fine = Instrument("binance", "BTC/USDT", "BTC", "USDT", lot_size=Decimal("1e-12"))
    venue = PaperVenue("binance", ExecutionModel(), {"BTC/USDT": fine})
    params = {"fast": 5.0, "slow": 20.0}
    result = replay("ema_cross", params, "binance", "BTC/USDT", "1h", venue=venue)

    strategy = get_strategy("ema_cross")
    frame = (
        strategy.signals(read(lake), strategy.resolve_params(params)).to_pandas().set_index("ts")
    )
    held = frame["target"].shift(1).fillna(0.0) > 0  # decided at t's close, traded at t+1's open
    pf = vbt.Portfolio.from_signals(
        close=frame["close"], entries=held, exits=~held, price=frame["open"], size=np.inf,
        fees=0.001, slippage=0.0005, init_cash=10_000, freq="1h",
    )  # fmt: skip
    np.testing.assert_allclose(result.equity[1:], pf.value().to_numpy(), rtol=1e-9)
    closed = pf.trades.records_readable
    closed = closed[closed["Status"] == "Closed"]["PnL"].to_numpy()
    np.testing.assert_allclose(result.trade_pnl, closed, rtol=1e-7, atol=1e-6)
