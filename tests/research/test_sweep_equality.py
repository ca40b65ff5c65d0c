"""Sweep kernels (fused and generic) equal the single backtest (vectorbt) and the reference loop on
the bundled BTC/USDT 1h 2024 sample, with fees, slippage, lot rounding and min-notional skips."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from drydock import metrics
from drydock.execution import ExecutionModel, FillTiming, UnsupportedTargetError
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample
from drydock.types import Bar
from research import reference
from research.backtest import backtest_frame
from research.sweep import random_sets, run_sweep
from research.sweep.space import axes
from strategies import get_strategy
from strategies.base import Params, ParamSpec, Strategy

pytestmark = pytest.mark.integration  # vectorbt backtests and numba kernels

BTC = SeriesKey("binance", "BTC/USDT", "1h")
COMPARED = (
    "total_return", "cagr", "volatility", "sharpe", "sortino", "calmar", "max_drawdown",
    "win_rate", "exposure",
)  # fmt: skip
EXECUTIONS = {
    "next_open_fee_slippage": ExecutionModel(),
    "close_fixed_fee": ExecutionModel(fill=FillTiming.CLOSE, fixed_fee=1.0, slippage_bps=12),
    "coarse_lots": ExecutionModel(lot_size=0.01, taker_fee=0.002),
    # 100 USDT bleeding through fees under a 50 USDT floor: entries and exits get skipped
    "min_notional_skips": ExecutionModel(init_cash=100, min_notional=50, lot_size=0.0001),
}
ALWAYS = [{"fast": 12, "slow": 26}, {"fast": 3, "slow": 7}, {"fast": 2, "slow": 5}]


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-300)


@pytest.fixture(scope="module")
def frame():  # type: ignore[no-untyped-def]
    return read_sample(BTC)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "generic"])
@pytest.mark.parametrize("name", list(EXECUTIONS))
def test_sweep_rows_equal_backtest_and_reference(
    name: str,
    fused: bool,
    frame,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    execution = EXECUTIONS[name]
    strategy = get_strategy("ema_cross")
    sets = ALWAYS + random_sets(strategy, axes(strategy), 5, seed=7)
    result = run_sweep(
        strategy, frame, BTC, execution, sets, out=tmp_path / "r.parquet", fused=fused
    )
    assert result.engine == ("fused" if fused else "generic")
    table = result.table()
    assert table.height == len(sets) and table["set"].to_list() == list(range(len(sets)))
    opens, closes = frame["open"].to_list(), frame["close"].to_list()
    skipped_total = 0
    for i, params in enumerate(sets):
        row = table.row(i, named=True)
        assert (row["fast"], row["slow"]) == (params["fast"], params["slow"])
        single = backtest_frame(strategy, params, frame, BTC, execution)
        targets = reference.ema_cross_targets(closes, int(params["fast"]), int(params["slow"]))
        ref = reference.run(opens, closes, targets, execution)
        ref_metrics = metrics.summarize(ref.equity, ref.pnls, 8760.0)
        for metric in COMPARED:
            assert _same(row[metric], single.metrics[metric]), (params, metric)
            if metric != "exposure":
                assert _same(row[metric], ref_metrics[metric]), (params, metric)
        assert row["trade_count"] == single.metrics["trade_count"] == len(ref.pnls)
        assert row["orders"] == single.orders == ref.orders
        assert row["skipped_min_notional"] == single.skipped_min_notional
        assert row["skipped_min_notional"] == ref.skipped_min_notional
        assert row["fees_paid"] == pytest.approx(ref.fees, rel=1e-9)
        assert row["fees_paid"] == pytest.approx(single.fees_paid, rel=1e-9)
        assert row["final_equity"] == pytest.approx(ref.equity[-1], rel=1e-9)
        assert row["return_over_drawdown"] == pytest.approx(
            single.metrics["total_return"] / abs(single.metrics["max_drawdown"]), rel=1e-9
        )
        skipped_total += row["skipped_min_notional"]
    if name == "min_notional_skips":
        assert skipped_total > 0  # the case exercises skipped entries/exits
    assert table["trade_count"].sum() > 100


def test_fused_kernel_equals_generic_path_exactly(frame, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The fused EMA crossover is the strategy's vectorized signal: on 60 random sets (fast 2..100,
    slow 5..400) both paths give bit-identical metrics."""
    strategy = get_strategy("ema_cross")
    sets = random_sets(strategy, axes(strategy), 60, seed=11)
    tables = [
        run_sweep(
            strategy, frame, BTC, ExecutionModel(), sets, out=tmp_path / f"{fused}.parquet",
            fused=fused,
        ).table()
        for fused in (True, False)
    ]  # fmt: skip
    assert tables[0].equals(tables[1])
    assert tables[0]["trade_count"].min() > 0


class AboveMean(Strategy):
    """A test strategy without a fused kernel: long while the close is above its rolling mean."""

    id = "above_mean"
    description = "close > rolling mean of the close"
    params = (ParamSpec("window", 20, 2, 500, 1), ParamSpec("level", 1.0, 0.5, 1.5, 0.01, False))
    long = 1.0

    def warmup(self, params: Params) -> int:
        return int(params["window"])

    def signals(self, frame: pl.DataFrame, params: Params) -> pl.DataFrame:
        mean = pl.col("close").rolling_mean(int(params["window"]))
        above = pl.col("close") > mean * params["level"]
        return frame.with_columns(target=pl.when(above).then(self.long).otherwise(0.0))

    def init_state(self, params: Params) -> None:
        return None

    def step(self, state: None, bar: Bar, params: Params) -> float:
        raise NotImplementedError


def test_generic_path_serves_any_strategy(frame, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    strategy = AboveMean()
    assert strategy.fused_kernel() is None
    sets = [{"window": w, "level": lv} for w in (10, 48, 200) for lv in (0.99, 1.01)]
    table = run_sweep(
        strategy, frame, BTC, ExecutionModel(), sets, out=tmp_path / "g.parquet"
    ).table()
    assert table["level"].dtype == pl.Float64 and table["window"].dtype == pl.Int64
    for i, params in enumerate(sets):
        single = backtest_frame(strategy, params, frame, BTC, ExecutionModel())
        row = table.row(i, named=True)
        for metric in COMPARED:
            assert _same(row[metric], single.metrics[metric]), (params, metric)
        assert row["orders"] == single.orders > 10


class HalfIn(AboveMean):
    """Emits a fractional target, which today's execution model cannot trade."""

    id = "half_in"
    long = 0.5


def test_generic_path_rejects_untradable_targets(frame, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.parquet"
    with pytest.raises(UnsupportedTargetError, match=r"'half_in' emitted target 0.5 at bar 2024"):
        run_sweep(HalfIn(), frame, BTC, ExecutionModel(), [{"window": 10, "level": 1.0}], out=path)
    assert not path.exists() and list(tmp_path.iterdir()) == []  # nothing half-written


def test_chunks_stream_the_same_table(
    frame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Many small chunks (row groups) give the same rows as one chunk, and report progress."""
    import pyarrow.parquet as pq

    from research.sweep import engine

    strategy = get_strategy("ema_cross")
    sets = random_sets(strategy, axes(strategy), 30, seed=5)
    whole = run_sweep(strategy, frame, BTC, ExecutionModel(), sets, out=tmp_path / "one.parquet")
    monkeypatch.setattr(engine, "MIN_CHUNK_BAR_PARAMS", 0)
    seen: list[tuple[int, int]] = []
    parts = run_sweep(
        strategy, frame, BTC, ExecutionModel(), sets, out=tmp_path / "many.parquet",
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert (whole.chunks, parts.chunks, parts.chunk_size) == (1, 4, 8)
    assert seen == [(8, 30), (16, 30), (24, 30), (30, 30)]
    assert pq.ParquetFile(parts.path).num_row_groups == 4
    assert parts.table().equals(whole.table())
