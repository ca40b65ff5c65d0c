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

import numpy as np
import numpy.typing as npt
import polars as pl

from drydock import ohlcv
from drydock.fills import PortfolioConfig
from drydock.markets import instrument_for
from drydock.settings import get_settings
from drydock.types import Instrument
from live.journal import JournalRepository
from live.order_keeper import TargetlessRun
from live.portfolio_feed import aligned_bars, wide_frame
from live.portfolio_keeper import PortfolioKeeper
from live.session import ReplayResult, session
from live.venues.base import SimulatedVenue
from live.venues.paper import PaperVenue


class WeightsRun(TargetlessRun):
    """A weights scheme as the session sees a strategy: an id; its orders are the portfolio
    model's."""

    id = "rebalance"
    description = "Portfolio weights rebalanced with one cash balance."
    params = ()


def named(strategy_id: str) -> WeightsRun:
    """A :class:`WeightsRun` carrying ``strategy_id`` (the journal's and the policy's name)."""
    cls: type[WeightsRun] = type("WeightsRun", (WeightsRun,), {"id": strategy_id})
    return cls()


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
    wide = wide_frame(frames, weights, config, exchange, start, end, funding)
    w = np.ascontiguousarray(wide.select(f"weight:{j}" for j in range(len(symbols))).to_numpy())
    policy_file = policy_path or get_settings().policy_dir / "default.toml"
    key = ohlcv.SeriesKey(exchange, symbols[0], timeframe)
    extra = {
        "symbols": list(symbols),
        "weights": hashlib.sha256(w.tobytes()).hexdigest()[:16],
        "portfolio": _config_parts(config),
        "funding": funding if isinstance(funding, bool) else sorted(funding),
    }
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
        run.advance(wide)
        if ts.len() and keeper.finish(ts.len() - 1):
            run.marks.replace_last(float(keeper.equity()))
        result = run.result(timeframe)
        run.state.journal.record_event(
            "run_finished", run.record.run_id,
            {"final_equity": result.final_equity, "bars": ts.len()},
            datetime.now(UTC), key=f"{run.record.run_id}:finished",
        )  # fmt: skip
    return result
