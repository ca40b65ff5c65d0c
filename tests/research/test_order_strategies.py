"""Order-level strategies through the order book (research.engine.orders): the grid's and the
DCA bot's orders traced by hand on a few bars, invariants on a year of real BTC bars, and
``drydock simulate grid|dca`` on the tmp lake."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from drydock.cli import main
from drydock.execution import ExecutionModel
from drydock.sample import read_sample
from drydock.series import SeriesKey
from drydock.settings import Settings
from research.engine.orders import run_orders
from strategies.order_based import get_order_strategy

FREE = ExecutionModel(init_cash=10_000.0, taker_fee=0.0, maker_fee=0.0, slippage_bps=0.0)
COSTS = ExecutionModel(init_cash=10_000.0, taker_fee=0.001, maker_fee=0.0005, slippage_bps=5.0)


def frame(rows: list[tuple[float, float, float, float]]) -> pl.DataFrame:
    ts = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(len(rows))]
    o, h, lo, c = (list(map(float, x)) for x in zip(*rows, strict=True))
    return pl.DataFrame(
        {"ts": ts, "open": o, "high": h, "low": lo, "close": c, "volume": [1e6] * len(rows)}
    ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def fills(result: object) -> list[tuple[int, str, float, float, str]]:
    return [(r["bar"], r["side"], round(r["qty"], 6), round(r["price"], 6), r["reason"])
            for r in result.orders.iter_rows(named=True)]  # type: ignore[attr-defined]  # fmt: skip


def test_grid_buys_a_level_sells_it_one_level_up_and_buys_it_again() -> None:
    # Anchor 100, 2 levels 5% apart: buy limits at 95 and 90, 950 quote each (10 units at 95).
    # Bar 2 dips to 94: buy-1 fills 10 @ 95 and sell-1 (10 @ 100) goes live from bar 3.
    # Bar 3 rises to 101: sell-1 fills @ 100 (+50); buy-1 is re-placed and fills again at bar 5.
    grid = get_order_strategy("grid")
    params = grid.resolve_params({"levels": 2, "spacing": 0.05, "order_value": 950})
    bars = frame([(100, 100, 100, 100), (100, 100, 99, 99), (98, 98, 94, 96),
                  (96, 101, 96, 100), (100, 100, 97, 97), (97, 97, 94.5, 95)])  # fmt: skip
    result = run_orders(bars, grid, params, FREE, lot_size=1e-6)
    assert fills(result) == [
        (2, "buy", 10.0, 95.0, "limit"),
        (3, "sell", 10.0, 100.0, "limit"),
        (5, "buy", 10.0, 95.0, "limit"),
    ]
    assert result.trade_pnl.tolist() == [50.0]
    assert result.final_equity == pytest.approx(10_000 + 50 + 10 * (95 - 95))
    assert "buy-2" in result.notes[-1] and "sell-1" in result.notes[-1]


def test_grid_stop_cancels_everything_and_sells_at_the_next_open() -> None:
    grid = get_order_strategy("grid")
    params = grid.resolve_params({"levels": 1, "spacing": 0.05, "order_value": 950, "stop": 0.1})
    bars = frame([(100, 100, 100, 100), (99, 99, 94, 94), (90, 90, 80, 84), (83, 83, 80, 80),
                  (70, 75, 70, 75)])  # fmt: skip
    result = run_orders(bars, grid, params, FREE, lot_size=1e-6)
    # buy 10 @ 95 at bar 1; bar 2 closes at 84 < 95 * 0.9 = 85.5: market sell at bar 3's open 83
    assert fills(result) == [(1, "buy", 10.0, 95.0, "limit"), (3, "sell", 10.0, 83.0, "signal")]
    assert result.trade_pnl.tolist() == [-120.0]
    assert result.open_position == 0 and not result.notes  # stopped: nothing live afterwards


def test_dca_averages_down_and_moves_its_take_profit() -> None:
    # base 1,000 at bar 1's open 100 (10 units); safety 1 buys 1,500 at 95 (15.789474 units);
    # average (1000 + 1500) / 25.789474 = 96.938776; take profit 2% above: 98.877551, hit at bar 4.
    dca = get_order_strategy("dca")
    params = dca.resolve_params({"base_order": 1000, "safety_orders": 1, "step": 0.05,
                                 "volume_scale": 1.5, "take_profit": 0.02, "cooldown": 0})  # fmt: skip
    bars = frame([(100, 100, 100, 100), (100, 100, 99, 99), (98, 98, 94, 95),
                  (95, 96, 95, 96), (97, 99, 97, 98.9), (99, 99, 99, 99), (99, 99, 99, 99)])  # fmt: skip
    result = run_orders(bars, dca, params, FREE, lot_size=1e-6)
    got = fills(result)
    assert got[:3] == [
        (1, "buy", 10.0, 100.0, "signal"),
        (2, "buy", 15.789473, 95.0, "limit"),
        (4, "sell", 25.789473, 98.877551, "limit"),
    ]
    # no fees here, so the deal earns exactly 2% of its cost basis
    assert result.trade_pnl.tolist() == pytest.approx([0.02 * (1000 + 15.789473 * 95)], rel=1e-9)
    assert got[3] == (6, "buy", 10.10101, 99.0, "signal")  # next deal: placed at bar 5's close


@pytest.mark.integration
@pytest.mark.parametrize(
    ("strategy_id", "overrides"),
    [
        ("grid", {"levels": 10, "spacing": 0.01, "order_value": 900}),
        ("dca", {"base_order": 500, "safety_orders": 4, "step": 0.03, "take_profit": 0.02}),
    ],
)
def test_a_year_of_real_bars_keeps_the_books_straight(
    strategy_id: str, overrides: dict[str, float]
) -> None:
    """2024 BTC/USDT 1h: the account never borrows or shorts, fees match the order types, and
    equity is cash plus the position at each close (rebuilt from the fills)."""
    strat = get_order_strategy(strategy_id)
    bars = read_sample(SeriesKey("binance", "BTC/USDT", "1h"))
    result = run_orders(
        bars, strat, strat.resolve_params(overrides), COSTS, lot_size=1e-5, min_notional=5
    )
    orders = result.orders
    assert orders.height > 30
    assert (result.position_values >= 0).all()
    signed = np.where(orders["side"].to_numpy() == "buy", 1.0, -1.0) * orders["qty"].to_numpy()
    cash = 10_000 - np.cumsum(signed * orders["price"].to_numpy() + orders["fee"].to_numpy())
    assert cash.min() >= -1e-6
    rate = np.where(orders["reason"].to_numpy() == "limit", 0.0005, 0.001)
    np.testing.assert_allclose(
        orders["fee"].to_numpy(), orders["qty"].to_numpy() * orders["price"].to_numpy() * rate
    )
    held = result.position_values[-1]
    assert result.final_equity == pytest.approx(cash[-1] + held * bars["close"][-1], rel=1e-12)
    again = run_orders(
        bars, strat, strat.resolve_params(overrides), COSTS, lot_size=1e-5, min_notional=5
    )
    assert again.final_equity == result.final_equity  # deterministic


@pytest.mark.integration
def test_simulate_runs_an_order_strategy_and_refuses_target_exits(
    btc_lake: SeriesKey, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(sys, "argv", ["drydock", "simulate", "dca", "-p", "base_order=500"])
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr().out
    assert done.value.code in (0, None), out
    assert "order book" in out and "fills by order type" in out and "limit" in out
    from mlflow.tracking import MlflowClient

    client = MlflowClient(settings.mlflow_tracking_uri)
    [run] = client.search_runs(client.get_experiment_by_name("simulations").experiment_id)
    assert run.data.params["strategy"] == "dca" and run.data.params["param.base_order"] == "500.0"
    monkeypatch.setattr(sys, "argv", ["drydock", "simulate", "grid", "--stop-loss", "0.05"])
    with pytest.raises(SystemExit) as refused:
        main()
    assert refused.value.code == 2
    assert "order-level strategy" in capsys.readouterr().err
