"""Runner figures: latency from a bar's arrival to the order reaching the venue, and the runner
path's throughput over a year of 1m bars (paper mode, research policy, real journal)."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import Figure

START = datetime(2024, 1, 1, tzinfo=UTC)


class _TimedVenue:
    """The paper venue, timing each submit from the bar that carries it (``set_bar``)."""

    def __init__(self, inner: Any):
        self.name = inner.name
        self._inner = inner
        self._bar_at = 0.0
        self.latencies: list[float] = []

    def instrument(self, symbol: str) -> Any:
        return self._inner.instrument(symbol)

    def set_bar(self, bar: Any) -> None:
        self._bar_at = time.perf_counter()
        self._inner.set_bar(bar)

    def submit(self, order: Any) -> Any:
        self.latencies.append(time.perf_counter() - self._bar_at)
        return self._inner.submit(order)

    def fills_for(self, client_order_id: str) -> Any:
        return self._inner.fills_for(client_order_id)


def _p99_figure(name: str, seconds: list[float], target_ms: float = 5.0) -> Figure:
    """The p99 of latencies in ms against the issue's ``target_ms`` (ratio = target / p99)."""
    ms = sorted(x * 1000 for x in seconds)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    return Figure(name, round(p99, 3), "ms", target_ms, round(target_ms / p99, 2), len(ms))


def _home_env(home: Path) -> dict[str, str | None]:
    previous = {"DRYDOCK_HOME": os.environ.get("DRYDOCK_HOME")}
    os.environ["DRYDOCK_HOME"] = str(home)
    return previous


def _restore(previous: dict[str, str | None]) -> None:
    for k, v in previous.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def bar_to_submit_p99_ms() -> Figure:
    """p99 of (bar handed to the runner -> order handed to the paper venue) over the 2024-Q1
    BTC sample with a busy EMA 3/8 (every order sized, policy-checked and journaled first)."""
    from benchmarks.fault_injection import write_sample_lake
    from drydock.execution import ExecutionModel
    from drydock.markets import instrument_for
    from drydock.ohlcv import SeriesKey
    from drydock.settings import get_settings
    from live.runner import Mode, SimulatedClock, run_strategy
    from live.venues.paper import PaperVenue
    from strategies import get_strategy

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        write_sample_lake(home, date(2024, 4, 1))
        previous = _home_env(home)
        try:
            key = SeriesKey("binance", "BTC/USDT", "1h")
            execution = ExecutionModel()
            venue = _TimedVenue(PaperVenue("binance", execution,
                                           {key.symbol: instrument_for("binance", key.symbol, {})}))  # fmt: skip
            strategy = get_strategy("ema_cross")
            end = datetime(2024, 4, 1, tzinfo=UTC)
            run_strategy(strategy, strategy.resolve_params({"fast": 3, "slow": 8}), key, START,
                         get_settings().policy_dir / "research.toml", execution, Mode.PAPER,
                         clock=SimulatedClock(end), until=end, venue=venue)  # fmt: skip
        finally:
            _restore(previous)
    return _p99_figure("bar_to_submit_p99_ms", venue.latencies)


def replay_bars_per_s(bars: int = 525_600) -> Figure:
    """Bars per second of the runner path (lake read, strategy, marks, decisions, journal, paper
    fills) over a year of synthetic 1m bars of a low-turnover EMA 60/400, against the issue's
    target of 1,000,000/s (ratio = ours / target). The runner fast-forwards (Session.advance):
    only bars where the target changes or an order is pending are stepped in Python. The numba
    step kernel is compiled (or loaded from its cache) before the clock starts."""
    from benchmarks.data import minute_bars
    from drydock import ohlcv
    from drydock.execution import ExecutionModel
    from drydock.ohlcv import SeriesKey
    from drydock.settings import get_settings
    from live.runner import Mode, SimulatedClock, run_strategy
    from strategies import get_strategy

    frame = minute_bars(bars)
    key = SeriesKey("binance", "BTC/USDT", "1m")
    with tempfile.TemporaryDirectory() as folder:
        previous = _home_env(Path(folder))
        try:
            import polars as pl

            for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
                ohlcv.write_day(key, day, part)
            strategy = get_strategy("ema_cross")
            params = strategy.resolve_params({"fast": 60, "slow": 400})
            strategy.step_many(strategy.init_state(params), frame["close"].to_numpy()[:2], params)
            first = frame["ts"][0]
            end = frame["ts"][-1] + timedelta(minutes=1)
            started = time.perf_counter()
            run_strategy(strategy, params, key, first,
                         get_settings().policy_dir / "research.toml", ExecutionModel(), Mode.PAPER,
                         clock=SimulatedClock(end), until=end)  # fmt: skip
            seconds = time.perf_counter() - started
        finally:
            _restore(previous)
    rate = bars / seconds
    return Figure(
        "replay_bars_per_s", round(rate), "bars/s", 1_000_000, round(rate / 1_000_000, 4), bars
    )


class _EventTimedVenue(_TimedVenue):
    """The paper venue, timing each submit from the event that caused it (:meth:`handed`)."""

    def handed(self) -> None:
        self._bar_at = time.perf_counter()

    def set_bar(self, bar: Any) -> None:
        self._inner.set_bar(bar)


def event_to_submit_p99_ms(every: int = 4) -> Figure:
    """p99 of (wallet swap handed to the loop -> the order it causes handed to the paper venue)
    for the copy_wallet stub over the bundled SOL/USDT 1h sample (1,000 bars), with a swap of the
    sample's watched wallet every ``every`` bars, buys and sells in turn (each one an order: sized,
    policy-checked and journaled first, filled at the next bar's open). The loop's own time: in
    live trading the order also waits for that open."""
    import polars as pl

    from drydock import ohlcv
    from drydock.events import WalletSwap
    from drydock.execution import ExecutionModel
    from drydock.markets import instrument_for
    from drydock.sample import read_sample
    from drydock.settings import get_settings
    from live.session import session
    from live.venues.paper import PaperVenue
    from strategies.base import iter_bars
    from strategies.copy_wallet import SOL_MINT, CopyWallet

    usdc, wallet = (
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        "FCHTRYx6npkQCogtpZtEFLJeevAFGbDHhJyvqvT6F4kX",
    )
    key = ohlcv.SeriesKey("binance", "SOL/USDT", "1h")
    frame = read_sample(key)
    bars = iter_bars(frame)
    with tempfile.TemporaryDirectory() as folder:
        previous = _home_env(Path(folder))
        try:
            for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
                ohlcv.write_day(key, day, part)
            execution = ExecutionModel()
            venue = _EventTimedVenue(PaperVenue("binance", execution,
                                                {key.symbol: instrument_for("binance", key.symbol, {})}))  # fmt: skip
            strategy = CopyWallet()
            with session(
                strategy, strategy.resolve_params(), key, None, None,
                get_settings().policy_dir / "research.toml", execution, venue=venue,
            ) as run:  # fmt: skip
                for n, bar in enumerate(bars):
                    events = []
                    if n % every == 0:
                        buy = (n // every) % 2 == 0
                        legs = (usdc, SOL_MINT) if buy else (SOL_MINT, usdc)
                        at = bar.ts + timedelta(minutes=20)
                        events = [WalletSwap(at, "solana", wallet, legs[0], 1.0, legs[1], 1.0)]
                        venue.handed()
                    run.step(bar, events=events)
        finally:
            _restore(previous)
    return _p99_figure("event_to_submit_p99_ms", venue.latencies)
