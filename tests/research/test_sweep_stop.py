"""The stop-loss dimension of sweeps: every row (fused and generic kernels, both fill timings)
equals a single research-engine backtest with that stop, on the bundled 2024 BTC/USDT 1h sample;
bad stops are refused; the CLI sweeps them into a ``stop_loss`` column."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from drydock.cli import main
from drydock.errors import ConfigError
from drydock.execution import ExecutionModel, FillTiming
from drydock.indicators import ema
from drydock.sample import read_sample
from drydock.series import SeriesKey
from research.engine import EngineConfig, run_backtest
from research.sweep import run_sweep
from research.sweep.cli import parse_stops
from strategies import get_strategy

pytestmark = pytest.mark.integration  # numba kernels and research-engine backtests

BTC = SeriesKey("binance", "BTC/USDT", "1h")
SETS = [{"fast": 12, "slow": 26}, {"fast": 5, "slow": 60}, {"fast": 20, "slow": 100}]
STOPS = [0.005, 0.02, 0.05]
COMPARED = ("total_return", "sharpe", "sortino", "max_drawdown", "win_rate", "exposure")


def _targets(frame: pl.DataFrame, fast: int, slow: int) -> np.ndarray:
    lines = frame.select(ema("close", fast).alias("f"), ema("close", slow).alias("s"))
    target = (lines["f"].to_numpy() > lines["s"].to_numpy()).astype(np.float64)
    target[: slow - 1] = 0.0
    return target


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "generic"])
@pytest.mark.parametrize("fill", [FillTiming.NEXT_OPEN, FillTiming.CLOSE])
def test_every_row_equals_the_research_engine_with_that_stop(
    fused: bool, fill: FillTiming, tmp_path: Path
) -> None:
    frame = read_sample(BTC)
    execution = ExecutionModel(taker_fee=0.001, fixed_fee=0.5, slippage_bps=5.0, fill=fill)
    result = run_sweep(get_strategy("ema_cross"), frame, BTC, execution, SETS,
                       out=tmp_path / "s.parquet", fused=fused, stop_losses=STOPS)  # fmt: skip
    table = result.table().sort("set")
    assert table.height == len(SETS) * len(STOPS) and "stop_loss" in result.param_names
    assert result.engine == ("fused" if fused else "generic")
    stopped_more = 0
    for row in table.iter_rows(named=True):
        cfg = EngineConfig(execution=execution, lot_size=1e-5, min_notional=5.0,
                           stop_loss=row["stop_loss"])  # fmt: skip
        single = run_backtest(frame, _targets(frame, row["fast"], row["slow"]), cfg)
        assert row["final_equity"] == pytest.approx(single.final_equity, rel=1e-12)
        assert row["trade_count"] == len(single.trade_pnl)
        stops = single.orders.filter(pl.col("reason") == "stop_loss").height
        stopped_more += stops > 0
        for name in COMPARED:
            want = single.metrics[name]
            assert (math.isnan(want) and math.isnan(row[name])) or row[name] == pytest.approx(
                want, rel=1e-9
            ), name
    assert stopped_more >= 6  # the stops really fire on most rows


def test_bad_stops_are_refused() -> None:
    frame = read_sample(BTC).head(300)
    strat = get_strategy("ema_cross")
    for stops, message in (([0.0], "in \\(0, 1\\)"), ([float("nan")], "in \\(0, 1\\)"),
                           ([0.02, 0.02], "repeat a value")):  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            run_sweep(strat, frame, BTC, ExecutionModel(), SETS[:1], stop_losses=stops)
    assert parse_stops("0.01:0.03:0.01") == [0.01, 0.02, 0.03]
    with pytest.raises(ConfigError, match="low:high:step"):
        parse_stops("0.01:0.03:0")


def test_sweep_cli_adds_a_stop_loss_column(
    btc_lake: SeriesKey, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:  # fmt: skip
    out = tmp_path / "stops.parquet"
    monkeypatch.setattr(sys, "argv", ["drydock", "sweep", "ema_cross", "--grid", "fast=5:10:5",
                                      "--grid", "slow=20:30:10", "--stop-loss", "0.01,0.03",
                                      "--no-track", "--out", str(out)])  # fmt: skip
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as done:
        main()
    printed = capsys.readouterr().out
    assert done.value.code in (0, None), printed
    table = pl.read_parquet(out)
    assert table.height == 8 and sorted(set(table["stop_loss"])) == [0.01, 0.03]
    assert "stop" in printed  # the column header (rich may wrap it on a narrow console)
