"""Paper replay of a portfolio over several instruments: weights per bar, one cash balance.

The assets' lake bars are aligned on their common timestamps (as ``drydock portfolio`` does),
the weights checked whole before the first order (NaN, gross above the leverage cap, spot
shorts: the research check), funding read for perpetuals, and each bar's row stepped through a
:class:`live.portfolio_keeper.PortfolioKeeper` inside one run of the journal: every order the
portfolio model decides goes through the policy engine on its own symbol and to the venue. The
run is named by its first asset; its journaled inputs list every asset, the weights' hash and
the portfolio rules, so a rerun resumes it and other inputs are refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from drydock import ohlcv
from drydock.errors import ConfigError
from drydock.fills import PortfolioConfig
from drydock.fills.portfolio_model import align_bars, check_weights
from drydock.markets import instrument_for
from drydock.settings import get_settings
from drydock.types import Bar, Instrument
from live.journal import JournalRepository
from live.portfolio_keeper import PortfolioKeeper
from live.session import ReplayResult, session
from live.venues.base import SimulatedVenue
from live.venues.paper import PaperVenue
from strategies.base import Params, Strategy


class WeightsRun(Strategy):
    """A weights scheme as the session sees a strategy: an id, no target (its orders are the
    portfolio model's)."""

    id = "rebalance"
    description = "Portfolio weights rebalanced with one cash balance."
    params = ()

    def warmup(self, params: Params) -> int:
        return 0

    def signals(self, frame: pl.DataFrame, params: Params) -> pl.DataFrame:
        return frame.with_columns(pl.lit(0.0).alias("target"))

    def init_state(self, params: Params) -> Any:
        return None

    def step(self, state: Any, bar: Bar, params: Params) -> float:
        return 0.0


def named(strategy_id: str) -> WeightsRun:
    """A :class:`WeightsRun` carrying ``strategy_id`` (the journal's and the policy's name)."""
    cls: type[WeightsRun] = type("WeightsRun", (WeightsRun,), {"id": strategy_id})
    return cls()


def aligned_bars(
    symbols: Sequence[str], exchange: str, timeframe: str, start: datetime | None,
    end: datetime | None, lake_dir: Path | None = None,
) -> dict[str, pl.DataFrame]:  # fmt: skip
    """Each asset's lake bars on the timestamps they all have."""
    if len(set(symbols)) != len(symbols) or not symbols:
        raise ConfigError(f"A portfolio needs distinct assets, got {list(symbols)}.")
    frames = {s: ohlcv.read(ohlcv.SeriesKey(exchange, s, timeframe), start, end, lake_dir)
              for s in symbols}  # fmt: skip
    return align_bars(frames)


def _rates(
    frames: Mapping[str, pl.DataFrame], exchange: str, start: datetime | None,
    end: datetime | None, given: Mapping[str, pl.DataFrame] | None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:  # fmt: skip
    """Funding per bar and asset, stamped at the open and inside the bar (perps only): the
    ``given`` frames, else the lake's."""
    from drydock.funding import read_funding, split_funding

    symbols = list(frames)
    ts = frames[symbols[0]]["ts"]
    at_open, inside = np.zeros((ts.len(), len(symbols))), np.zeros((ts.len(), len(symbols)))
    for j, s in enumerate(symbols):
        if ":" in s:
            rates = given.get(s) if given is not None else read_funding(exchange, s, start, end)
            at_open[:, j], inside[:, j] = split_funding(ts, rates)
    return at_open, inside


def _config_parts(config: PortfolioConfig) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in fields(config):
        if f.name == "execution":
            continue
        value = getattr(config, f.name)
        out[f.name] = list(value) if isinstance(value, tuple | list) else value
    return out


def replay_portfolio(
    symbols: Sequence[str],
    weights: npt.ArrayLike,
    config: PortfolioConfig,
    exchange: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    strategy_id: str = "rebalance",
    policy_path: Path | None = None,
    run_id: str | None = None,
    journal: JournalRepository | None = None,
    venue: SimulatedVenue | None = None,
    lake_dir: Path | None = None,
    funding: bool | Mapping[str, pl.DataFrame] = True,
    frames: Mapping[str, pl.DataFrame] | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> ReplayResult:
    """Replay ``weights`` (bars x assets, decided at each close) over the assets' aligned lake
    bars (or ``frames``, aligned) through the policy, the journal and the paper venue (one cash
    balance). ``funding``: read the perps' funding from the lake (True), none (False), or these
    (ts, rate) frames by symbol. ``instruments`` (default: the market metadata of each symbol)
    are the paper venue's increments."""
    frames = dict(frames) if frames is not None else aligned_bars(
        symbols, exchange, timeframe, start, end, lake_dir
    )  # fmt: skip
    symbols = tuple(frames)
    ts = frames[symbols[0]]["ts"]
    w = np.ascontiguousarray(np.asarray(weights, dtype=np.float64))
    if w.shape != (ts.len(), len(symbols)):
        raise ConfigError(
            f"Weights of shape {w.shape} for {ts.len()} bars x {len(symbols)} assets; pass one "
            "row per aligned bar and one column per asset."
        )
    check_weights(w, config, ts, symbols)  # the whole series, before the first order
    rates_open, rates_inside = (
        _rates(frames, exchange, start, end, None if funding is True else funding)
        if funding is not False
        else (None, None)
    )
    policy_file = policy_path or get_settings().policy_dir / "default.toml"
    key = ohlcv.SeriesKey(exchange, symbols[0], timeframe)
    extra = {
        "symbols": list(symbols),
        "weights": hashlib.sha256(w.tobytes()).hexdigest()[:16],
        "portfolio": _config_parts(config),
        "funding": funding if isinstance(funding, bool) else sorted(funding),
    }
    columns = [frames[s].select("ts", "open", "high", "low", "close", "volume").rows()
               for s in symbols]  # fmt: skip
    if venue is None:
        known = dict(instruments or {})
        for s in symbols:
            if s not in known:
                known[s] = instrument_for(exchange, s, config.execution.overrides())
        venue = PaperVenue(exchange, config.execution, instruments=known)
    with session(
        named(strategy_id), {}, key, start, end, policy_file, config.execution, run_id=run_id,
        journal=journal, venue=venue, extra_inputs=extra, portfolio=(symbols, config),
    ) as run:  # fmt: skip
        keeper = run.state.book
        assert isinstance(keeper, PortfolioKeeper)
        with run.batched() as tick:
            for t in range(ts.len()):
                bars = [Bar(*rows[t]) for rows in columns]
                run.step_portfolio(
                    bars, w[t].tolist(),
                    None if rates_open is None else rates_open[t].tolist(),
                    None if rates_inside is None else rates_inside[t].tolist(),
                )  # fmt: skip
                tick()
            if ts.len() and keeper.finish(ts.len() - 1):
                run.marks.replace_last(float(keeper.equity()))
        result = run.result(timeframe)
        run.state.journal.record_event(
            "run_finished", run.record.run_id,
            {"final_equity": result.final_equity, "bars": ts.len()},
            datetime.now(UTC), key=f"{run.record.run_id}:finished",
        )  # fmt: skip
    return result
