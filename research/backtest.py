"""Backtests of library strategies under drydock.execution's model, on one of two engines.

``research`` (default): the research engine (:mod:`research.engine`, a numba kernel with a Python
reference), which also takes fractional, short and leveraged targets. ``vectorbt``: the same 0/1
long-only model through vectorbt (kept as a cross-check; ``--engine vectorbt``). Both give the
same fills on 0/1 targets (tests/research/test_backtest_engines.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from drydock import metrics, ohlcv
from drydock.errors import ConfigError
from drydock.execution import ExecutionModel, FillTiming, check_targets
from drydock.logs import get_logger
from drydock.markets import instrument_for
from drydock.ohlcv import SeriesKey
from drydock.timeframes import periods_per_year, timeframe_delta
from drydock.types import Instrument
from strategies.base import Params, Strategy

log = get_logger(__name__)

#: Engines of :func:`backtest`; the first is the default.
ENGINES = ("research", "vectorbt")
DEFAULT_ENGINE = ENGINES[0]


@dataclass
class BacktestResult:
    """What a backtest produced: the inputs that define it and its outputs."""

    strategy_id: str
    params: Params
    key: SeriesKey
    execution: ExecutionModel
    ts: np.ndarray
    equity: np.ndarray
    position: np.ndarray
    trade_pnl: np.ndarray
    metrics: dict[str, float]
    data_fingerprint: str
    bars: int
    start: datetime
    end: datetime
    orders: int = 0
    #: Sum of the fees of every filled order, in quote currency.
    fees_paid: float = 0.0
    #: Orders skipped because their notional was below the instrument's min notional.
    skipped_min_notional: int = 0
    instrument: Instrument | None = None
    run_id: str = ""
    #: The engine that ran it (``research`` or ``vectorbt``).
    engine: str = DEFAULT_ENGINE
    #: One row per fill: bar, side (buy/sell), qty, price (after slippage), fee.
    fills: pl.DataFrame | None = None

    @property
    def final_equity(self) -> float:
        """Account value at the last bar's close."""
        return float(self.equity[-1])

    def equity_frame(self) -> pl.DataFrame:
        """Equity, drawdown and position per bar."""
        return pl.DataFrame(
            {
                "ts": self.ts,
                "equity": self.equity,
                "drawdown": metrics.drawdown_series(self.equity),
                "position": self.position,
            }
        ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def order_sizes(target: np.ndarray, fill: str) -> np.ndarray:
    """Order per bar (NaN = no order) for 0/1 targets under the fill timing.

    An entry buys as much as cash allows after fees (``+inf`` amount) and an exit sells the whole
    position (``-inf``), exactly as the reference loop and the paper venue size them. Targets must
    have passed :func:`drydock.execution.check_targets`.
    """

    def lag(values: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros_like(values[:1]), values[:-1]])

    held = lag(target) if fill == FillTiming.NEXT_OPEN else target
    previous = lag(held)
    return np.where(held == previous, np.nan, np.where(held > previous, np.inf, -np.inf))


def default_instrument(execution: ExecutionModel) -> Instrument:
    """Binance BTC/USDT increments with the model's overrides (for targets without a market)."""
    return instrument_for("binance", "BTC/USDT", execution.overrides())


def run_vectorbt(
    frame: pl.DataFrame,
    target: np.ndarray,
    execution: ExecutionModel,
    timeframe: str,
    instrument: Instrument | None = None,
) -> Any:
    """Simulate 0/1 targets (one column per 2-D column: a sweep) with vectorbt."""
    return simulate_vectorbt(frame, target, execution, timeframe, instrument)[0]


def simulate_vectorbt(
    frame: pl.DataFrame,
    target: np.ndarray,
    execution: ExecutionModel,
    timeframe: str,
    instrument: Instrument | None = None,
) -> tuple[Any, int]:
    """(vectorbt Portfolio, orders skipped below min notional) for 0/1 targets."""
    from drydock.runtime import prepare_numba

    prepare_numba()
    import vectorbt as vbt

    instrument = instrument or default_instrument(execution)
    index = pd.DatetimeIndex(frame["ts"].to_numpy(), name="ts")
    close = pd.Series(frame["close"].to_numpy(), index=index)
    next_open = execution.fill == FillTiming.NEXT_OPEN
    price = pd.Series(frame["open"].to_numpy(), index=index) if next_open else close
    sizes = order_sizes(np.asarray(target, dtype=np.float64), execution.fill)
    min_notional = float(instrument.min_notional)
    freq = pd.Timedelta(timeframe_delta(timeframe))
    # An order whose notional at its slipped fill price is below the instrument's min notional
    # is rejected by vectorbt's min_size (min notional / that bar's fill price, per side): it is
    # skipped, and what follows plays out without it (a skipped exit keeps the position), in one
    # simulation. vectorbt compares sizes with a 1e-9 relative tolerance.
    px = price.to_numpy() if sizes.ndim == 1 else price.to_numpy()[:, None]
    fill_px = np.where(sizes > 0, px * (1 + execution.slippage), px * (1 - execution.slippage))
    min_size = np.where(np.isnan(sizes), 0.0, min_notional / fill_px)
    wrap = (
        (lambda a: pd.DataFrame(a, index=index))
        if sizes.ndim == 2
        else (lambda a: pd.Series(a, index))
    )
    # Round entries down to whole lots; exits sell everything held (rounding the float position
    # again could leave one lot of dust behind).
    granularity = np.where(sizes > 0, float(instrument.lot_size), np.nan)
    pf = vbt.Portfolio.from_orders(
        close=close,
        size=wrap(sizes),
        size_type="amount",
        direction="longonly",
        price=price,
        val_price=price,
        fees=execution.taker_fee,
        fixed_fees=execution.fixed_fee,
        slippage=execution.slippage,
        size_granularity=granularity,
        min_size=wrap(min_size),
        init_cash=execution.init_cash,
        freq=freq,
    )
    return pf, _min_notional_skips(pf, sizes, price.to_numpy(), execution, instrument)


def _min_notional_skips(
    pf: Any,
    sizes: np.ndarray,
    price: np.ndarray,
    execution: ExecutionModel,
    instrument: Instrument,
) -> int:
    """Orders vectorbt rejected for min size, counted as the reference loop counts them.

    A requested order that did not fill was rejected for min notional when it was an exit with a
    position held, or an entry whose cash buys at least one lot (an entry that cannot pay one lot
    is no order at all, as in the reference loop and the replay). Derived from the cash and
    position before each bar, so no per-order logs are recorded (they cost ~50% more time).
    """
    if not float(instrument.min_notional) > 0:
        return 0
    req = sizes.reshape(len(sizes), -1)
    filled = np.zeros(req.shape, dtype=bool)
    records = pf.orders.values
    filled[records["idx"], records["col"]] = True
    unfilled = ~np.isnan(req) & ~filled
    if not unfilled.any():
        return 0
    assets = np.asarray(pf.assets()).reshape(req.shape)
    cash = np.asarray(pf.cash()).reshape(req.shape)
    held_before = np.vstack([np.zeros((1, req.shape[1])), assets[:-1]])
    cash_before = np.vstack([np.full((1, req.shape[1]), execution.init_cash), cash[:-1]])
    exits = int((unfilled & (req < 0) & (held_before > 0)).sum())
    rows, cols = np.nonzero(unfilled & (req > 0))
    lot = float(instrument.lot_size)
    entries = sum(
        execution.all_in_qty(
            float(cash_before[r, c]), execution.slipped_price(float(price[r]), buy=True), lot
        )
        > 0
        for r, c in zip(rows, cols, strict=True)
    )
    return exits + int(entries)


def engine_config(
    execution: ExecutionModel,
    instrument: Instrument,
    *,
    leverage: float = 1.0,
    allow_short: bool = False,
) -> Any:
    """The research engine's configuration for a plain backtest: the shared costs and the
    instrument's increments, no exit rules (the strategy's targets are the only orders)."""
    from drydock.fills.model import EngineConfig

    return EngineConfig(
        execution=execution,
        lot_size=float(instrument.lot_size),
        min_notional=float(instrument.min_notional),
        leverage=leverage,
        allow_short=allow_short,
    )


def simulate_engine(
    frame: pl.DataFrame,
    target: np.ndarray,
    config: Any,
    timeframe: str,
    *,
    with_metrics: bool = True,
) -> Any:
    """The research engine's :class:`~research.engine.run.EngineResult` for ``target``."""
    from research.engine.run import run_backtest

    return run_backtest(
        frame, target, config, periods_per_year=periods_per_year(timeframe),
        with_metrics=with_metrics,
    )  # fmt: skip


def _fills_vectorbt(pf: Any) -> pl.DataFrame:
    records = pf.orders.values
    return pl.DataFrame(
        {
            "bar": records["idx"].astype(np.int64),
            "side": np.where(records["side"] == 0, "buy", "sell"),
            "qty": records["size"].astype(np.float64),
            "price": records["price"].astype(np.float64),
            "fee": records["fees"].astype(np.float64),
        }
    )


def backtest_frame(
    strategy: Strategy,
    params: Params,
    frame: pl.DataFrame,
    key: SeriesKey,
    execution: ExecutionModel,
    instrument: Instrument | None = None,
    *,
    engine: str = DEFAULT_ENGINE,
    leverage: float = 1.0,
    allow_short: bool = False,
) -> BacktestResult:
    """Backtest ``strategy`` on an in-memory bar frame with ``engine`` (research or vectorbt)."""
    if engine not in ENGINES:
        raise ConfigError(f"Engine {engine!r} is not one of {', '.join(ENGINES)}; e.g. research.")
    if engine == "vectorbt" and (leverage != 1.0 or allow_short):
        raise ConfigError(
            "The vectorbt engine is spot and long-only (targets 0 or 1); drop --leverage and "
            "--allow-short, or use --engine research."
        )
    instrument = instrument or instrument_for(key.exchange, key.symbol, execution.overrides())
    target = strategy.signals(frame, params)["target"].to_numpy()
    ppy = periods_per_year(key.timeframe)
    if engine == "vectorbt" or (leverage == 1.0 and not allow_short):
        # spot, long-only, unlevered: what the replay and the live runner trade today, so the
        # same target fails the same way here as there (one check, drydock.execution's)
        check_targets(strategy.id, frame["ts"], target)
    if engine == "vectorbt":
        pf, skipped = simulate_vectorbt(frame, target, execution, key.timeframe, instrument)
        equity = pf.value().to_numpy()
        position = pf.assets().to_numpy()
        trade_pnl = np.asarray(pf.trades.closed.pnl.values, dtype=np.float64)
        stats = metrics.summarize(equity, trade_pnl, ppy) | {"exposure": metrics.exposure(position)}
        fills = _fills_vectorbt(pf)
    else:
        config = engine_config(execution, instrument, leverage=leverage, allow_short=allow_short)
        run = simulate_engine(frame, target, config, key.timeframe)
        equity, position, trade_pnl = run.equity_values, run.position_values, run.trade_pnl
        stats, skipped = run.metrics, run.rejected_min_notional
        rec = run.order_records
        fills = pl.DataFrame(
            {
                "bar": rec[:, 0].astype(np.int64),
                "side": np.where(rec[:, 1] > 0, "buy", "sell"),
                "qty": np.abs(rec[:, 1]),
                "price": rec[:, 2],
                "fee": rec[:, 3],
            }
        )
    result = BacktestResult(
        strategy_id=strategy.id,
        params=params,
        key=key,
        execution=execution,
        ts=frame["ts"].to_numpy(),
        equity=equity,
        position=position,
        trade_pnl=trade_pnl,
        metrics=stats,
        data_fingerprint=ohlcv.fingerprint(frame),
        bars=frame.height,
        start=frame["ts"][0],
        end=frame["ts"][-1],
        orders=fills.height,
        fees_paid=float(fills["fee"].sum()),
        skipped_min_notional=skipped,
        instrument=instrument,
        run_id=uuid.uuid4().hex[:12],
        engine=engine,
        fills=fills,
    )
    log.info(
        "backtest.finished",
        run_id=result.run_id,
        engine=engine,
        strategy=strategy.id,
        params=dict(params),
        series=str(key),
        start=result.start.isoformat(),
        end=result.end.isoformat(),
        bars=result.bars,
        trades=len(trade_pnl),
        orders=result.orders,
        skipped_min_notional=skipped,
        final_equity=round(result.final_equity, 2),
        fees_paid=round(result.fees_paid, 2),
    )
    return result


def backtest(
    strategy: Strategy,
    params: Params,
    key: SeriesKey,
    execution: ExecutionModel | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    engine: str = DEFAULT_ENGINE,
    leverage: float = 1.0,
    allow_short: bool = False,
) -> BacktestResult:
    """Backtest ``strategy`` on lake bars of ``key`` in ``[start, end)`` with ``engine``."""
    execution = execution or ExecutionModel()
    instrument = instrument_for(key.exchange, key.symbol, execution.overrides())
    frame = ohlcv.read(key, start, end)
    strategy.require_history(frame, key, params, start, end)
    return backtest_frame(
        strategy, params, frame, key, execution, instrument,
        engine=engine, leverage=leverage, allow_short=allow_short,
    )  # fmt: skip
