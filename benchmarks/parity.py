"""Runner parity per strategy: does the paper runner trade what the research engine trades?

For each configuration the issue names (every library strategy, a long/short EMA with stops and
a scale-out ladder, a spot+perp funding carry), the paper replay (the runner's per-bar path:
policy under ``research.toml``, journal, paper venue) runs over the bundled 2024-Q1 BTC/USDT 1h
sample and its fills are compared with the research engine's, fill by fill (bar time, side,
quantity to 1e-9 relative, price to 1e-9 relative) and in final equity (1e-9 relative). A
configuration the runner cannot run yet counts as checked and not equal, with the reason.
``runner_parity_strategies``: value = equal, baseline = checked; the issue's bar is ratio 1.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import Figure

#: Relative tolerance of quantities, prices and final equity.
RTOL = 1e-9


@dataclass(frozen=True)
class ParityCase:
    """One configuration: its name and how each side runs it (None: that side cannot)."""

    name: str
    strategy: str
    params: dict[str, float]
    engine_options: dict[str, Any]


#: The configurations the live-core issue asks parity for.
CASES = (
    ParityCase("ema_cross", "ema_cross", {"fast": 12, "slow": 26}, {}),
    ParityCase("ema_cross_busy", "ema_cross", {"fast": 3, "slow": 8}, {}),
    ParityCase("grid", "grid", {}, {}),
    ParityCase("dca", "dca", {}, {}),
    ParityCase("rebalance", "rebalance", {"every": 24}, {}),
    ParityCase(
        "ema_long_short_stops_ladder",
        "ema_long_short",
        {"fast": 12, "slow": 26},
        {
            "allow_short": True,
            "stop_loss": 0.03,
            "trailing_stop": 0.05,
            "scale_out": ((1.0, 0.5), (2.0, 0.25)),
        },
    ),
    ParityCase("spot_perp_carry", "funding_carry", {}, {"allow_short": True}),
)


#: Cases the runner cannot run yet, and why (each counts as checked and not equal).
NOT_RUNNABLE: dict[str, str] = {}

#: The portfolio cases: their assets (one cash balance; the bundled 2024-Q1 1h samples). The
#: rebalance holds BTC spot and the BTC perpetual: the only bundled series that share a window
#: (the ETH sample is 2021, the SOL one late 2024).
PORTFOLIOS = {
    "rebalance": ("BTC/USDT", "BTC/USDT:USDT"),
    "funding_carry": ("BTC/USDT", "BTC/USDT:USDT"),
}


def _portfolio(case: ParityCase) -> tuple[Any, Any, Any, Any]:
    """A portfolio case's aligned sample bars, weights, config and funding frames."""
    import numpy as np

    from drydock.execution import ExecutionModel
    from drydock.fills import PortfolioConfig
    from drydock.fills.portfolio_model import align_bars
    from drydock.markets import instrument_for
    from drydock.sample import read_sample, read_sample_funding
    from drydock.series import SeriesKey

    symbols = PORTFOLIOS[case.strategy]
    frames = align_bars({s: read_sample(SeriesKey("binance", s, "1h")) for s in symbols})
    execution = ExecutionModel()
    instruments = [instrument_for("binance", s, execution.overrides()) for s in symbols]
    funding = {s: read_sample_funding("binance", s) for s in symbols if ":" in s}
    every = int(case.params.get("every", 0)) or None
    config = PortfolioConfig(
        execution=execution, lot_size=tuple(float(i.lot_size) for i in instruments),
        min_notional=tuple(float(i.min_notional) for i in instruments),
        allow_short=bool(case.engine_options.get("allow_short", False)), rebalance_every=every,
    )  # fmt: skip
    if case.strategy == "rebalance":
        from strategies.rebalance import scheme_weights

        closes = np.column_stack([frames[s]["close"].to_numpy() for s in symbols])
        weights = scheme_weights("equal", closes, every=every or 24)
    else:
        from strategies.funding_carry import carry_weights

        weights = carry_weights(frames[symbols[0]]["ts"], 3600, funding[symbols[1]])
    return frames, weights, config, funding


def _portfolio_fills(case: ParityCase, policy: Path) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Both sides of a portfolio case: (engine fills, equity), (runner fills, equity); a
    fill's side names its asset (``buy BTC/USDT``)."""
    from live.journal import open_journal
    from live.portfolio_run import replay_portfolio
    from research.engine.portfolio import run_portfolio

    frames, weights, config, funding = _portfolio(case)
    symbols = tuple(frames)
    ts = frames[symbols[0]]["ts"].to_list()
    run = run_portfolio(frames, weights, config, funding=funding)
    ours = [
        (ts[int(r[0])], f"{'buy' if r[2] > 0 else 'sell'} {symbols[int(r[1])]}", abs(float(r[2])),
         float(r[3]))
        for r in run.order_records
    ]  # fmt: skip
    result = replay_portfolio(
        symbols, weights, config, "binance", "1h", strategy_id=case.strategy,
        policy_path=policy, run_id=f"parity-{case.name}", frames=frames, funding=funding,
    )  # fmt: skip
    with open_journal() as journal:
        theirs = [
            (f.ts, f"{f.side.value} {f.symbol}", float(f.qty), float(f.price))
            for f in journal.fills(result.run_id)
        ]
    return (ours, float(run.final_equity)), (theirs, result.final_equity)


@dataclass(frozen=True)
class ParityResult:
    case: str
    equal: bool
    reason: str


def _engine_config(case: ParityCase, key: Any) -> Any:
    """The case's engine rules over the default costs and the market's increments (None: the
    case runs the plain backtest)."""
    if not case.engine_options:
        return None
    from drydock.execution import ExecutionModel
    from drydock.fills import EngineConfig
    from drydock.markets import instrument_for

    execution = ExecutionModel()
    instrument = instrument_for(key.exchange, key.symbol, execution.overrides())
    return EngineConfig(
        execution=execution, lot_size=float(instrument.lot_size),
        min_notional=float(instrument.min_notional), **case.engine_options,
    )  # fmt: skip


def _engine_fills(
    case: ParityCase, key: Any
) -> tuple[list[tuple[datetime, str, float, float]], float]:
    """The research engine's fills (fill time, side, qty, price) and final equity."""
    from drydock.ohlcv import read
    from research.backtest import backtest
    from research.engine import run_backtest
    from strategies import get_strategy
    from strategies.order_based import get_order_strategy, order_strategies

    frame = read(key)
    ts = frame["ts"].to_list()
    if case.strategy in order_strategies():  # resting orders: research's order loop
        from drydock.execution import ExecutionModel
        from drydock.markets import instrument_for
        from research.engine.orders import run_orders

        ostrat = get_order_strategy(case.strategy)
        execution = ExecutionModel()
        instrument = instrument_for(key.exchange, key.symbol, execution.overrides())
        run = run_orders(frame, ostrat, ostrat.resolve_params(case.params), execution,
                         lot_size=float(instrument.lot_size),
                         min_notional=float(instrument.min_notional))  # fmt: skip
        fills = [
            (ts[int(r[0])], "buy" if r[1] > 0 else "sell", abs(float(r[1])), float(r[2]))
            for r in run.order_records
        ]
        return fills, float(run.equity_values[-1])
    strategy = get_strategy(case.strategy)
    params = strategy.resolve_params(case.params)
    config = _engine_config(case, key)
    if config is not None:
        target = strategy.signals(frame, params)["target"].to_numpy()
        run = run_backtest(frame, target, config)
        fills = [
            (ts[int(r[0])], "buy" if r[1] > 0 else "sell", abs(float(r[1])), float(r[2]))
            for r in run.order_records
        ]
        return fills, float(run.equity_values[-1])
    result = backtest(strategy, params, key)
    assert result.fills is not None
    fills = [
        (ts[int(r["bar"])], str(r["side"]), float(r["qty"]), float(r["price"]))
        for r in result.fills.iter_rows(named=True)
    ]
    return fills, float(result.final_equity)


def _runner_fills(
    case: ParityCase, key: Any, policy: Path
) -> tuple[list[tuple[datetime, str, float, float]], float]:
    """The paper replay's journaled fills and final equity."""
    from live.journal import open_journal
    from live.replay import replay

    if case.strategy in NOT_RUNNABLE:
        raise NotImplementedError(NOT_RUNNABLE[case.strategy])
    result = replay(case.strategy, case.params, key.exchange, key.symbol, key.timeframe,
                    policy_path=policy, run_id=f"parity-{case.name}",
                    engine=_engine_config(case, key))  # fmt: skip
    with open_journal() as journal:
        fills = [
            (f.ts, f.side.value, float(f.qty), float(f.price)) for f in journal.fills(result.run_id)
        ]
    return fills, result.final_equity


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-12)


def compare(case: ParityCase, key: Any, policy: Path) -> ParityResult:
    """Run both sides of one case; equal only when every fill and the final equity agree."""
    try:
        if case.strategy in PORTFOLIOS:
            (ours, our_equity), (theirs, their_equity) = _portfolio_fills(case, policy)
        else:
            theirs, their_equity = _runner_fills(case, key, policy)
            ours, our_equity = _engine_fills(case, key)
    except Exception as exc:  # a side that cannot run the case: not equal, with its reason
        return ParityResult(case.name, False, f"{type(exc).__name__}: {exc}".splitlines()[0])
    if len(ours) != len(theirs):
        return ParityResult(case.name, False, f"{len(theirs)} runner fills vs {len(ours)}")
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        same = a[0] == b[0] and a[1] == b[1] and _close(a[2], b[2]) and _close(a[3], b[3])
        if not same:
            return ParityResult(case.name, False, f"fill {i}: engine {a} vs runner {b}")
    if not _close(our_equity, their_equity):
        return ParityResult(case.name, False, f"final equity {our_equity} vs {their_equity}")
    return ParityResult(case.name, True, f"{len(ours)} fills equal")


def parity_results(
    cases: tuple[ParityCase, ...] = CASES, report: Callable[[ParityResult], None] | None = None
) -> list[ParityResult]:
    """Every case compared in a fresh home holding the 2024-Q1 sample."""
    import os

    from benchmarks.fault_injection import write_sample_lake
    from drydock.ohlcv import SeriesKey
    from drydock.settings import get_settings

    out = []
    with tempfile.TemporaryDirectory() as folder:
        previous = os.environ.get("DRYDOCK_HOME")
        os.environ["DRYDOCK_HOME"] = folder
        try:
            write_sample_lake(Path(folder), date(2024, 4, 1))
            key = SeriesKey("binance", "BTC/USDT", "1h")
            policy = get_settings().policy_dir / "research.toml"
            for case in cases:
                result = compare(case, key, policy)
                out.append(result)
                if report is not None:
                    report(result)
        finally:
            if previous is None:
                os.environ.pop("DRYDOCK_HOME", None)
            else:
                os.environ["DRYDOCK_HOME"] = previous
    return out


def runner_parity_strategies() -> Figure:
    """Strategies whose runner trades equal the engine's (value) of those checked (baseline)."""
    import sys

    def show(result: ParityResult) -> None:
        mark = "equal" if result.equal else "NOT equal"
        print(f"  parity {result.case}: {mark} ({result.reason})", file=sys.stderr)

    results = parity_results(report=show)
    equal = sum(r.equal for r in results)
    return Figure(
        "runner_parity_strategies", equal, "strategies", len(results),
        round(equal / len(results), 4), len(results),
    )  # fmt: skip


__all__ = [
    "CASES",
    "ParityCase",
    "ParityResult",
    "compare",
    "parity_results",
    "runner_parity_strategies",
]
