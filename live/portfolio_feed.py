"""A portfolio's bars, weights and funding, aligned across its assets, one row per bar.

:func:`wide_frame` lays each bar of every asset out as one row (``ts``, then
:data:`ASSET_COLUMNS` per asset, suffixed ``:<asset index>``) after checking the weights whole;
:class:`PortfolioFeed` reads those rows from the lake for the scheduled runner, and the history
replay builds the same frame, so both step a portfolio through :meth:`live.session.Session.advance`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from drydock import ohlcv
from drydock.errors import ConfigError
from drydock.fills import PortfolioConfig
from drydock.fills.portfolio_model import align_bars, check_weights
from drydock.types import Bar


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


def funding_rates(
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


#: Columns of one asset in a portfolio feed's wide frame, suffixed ``:<asset index>``.
ASSET_COLUMNS = ("open", "high", "low", "close", "volume", "weight", "fund_open", "fund_inside")


@dataclass
class PortfolioFeed:
    """Closed bars of every asset of a portfolio from the lake, aligned, with the weights and
    funding of each bar, as one wide frame (``ts`` then :data:`ASSET_COLUMNS` per asset): what
    the scheduled runner hands :meth:`live.session.Session.advance` for a portfolio run.

    Each call reads the assets' history from ``start`` (weight rules look back: inverse
    volatility, the carry's last funding) and returns the closed bars after ``after``; the
    weights of those bars are checked before the runner sees them.
    """

    symbols: tuple[str, ...]
    exchange: str
    timeframe: str
    config: PortfolioConfig
    weights: Callable[[Mapping[str, pl.DataFrame]], npt.ArrayLike]
    start: datetime | None = None
    funding: bool | Mapping[str, pl.DataFrame] = True
    lake_dir: Path | None = None

    def closed_frame(self, after: datetime | None, now: datetime) -> pl.DataFrame:
        from drydock.timeframes import timeframe_delta

        tf = timeframe_delta(self.timeframe)
        frames = aligned_bars(self.symbols, self.exchange, self.timeframe, self.start, now,
                              self.lake_dir)  # fmt: skip
        first = frames[self.symbols[0]]
        closed = first["ts"] + tf <= now
        frames = {s: f.filter(closed) for s, f in frames.items()}
        wide = wide_frame(frames, self.weights(frames), self.config, self.exchange, self.start,
                          now, self.funding)  # fmt: skip
        return wide if after is None else wide.filter(pl.col("ts") > after)

    def closed_bars(self, after: datetime | None, now: datetime) -> list[Bar]:
        raise ConfigError(
            "A portfolio feed hands whole rows of every asset (closed_frame); the runner reads "
            "it through Session.advance."
        )


def wide_rows(
    frame: pl.DataFrame, k: int
) -> Iterator[tuple[list[Bar], list[float], list[float], list[float]]]:
    """A portfolio feed's rows as (bars, weights, funding at the open, funding inside)."""
    for row in frame.rows():
        ts, rest = row[0], row[1:]
        n = len(ASSET_COLUMNS)
        per = [rest[j * n : (j + 1) * n] for j in range(k)]
        yield ([Bar(ts, *p[:5]) for p in per], [p[5] for p in per], [p[6] for p in per],
               [p[7] for p in per])  # fmt: skip


def wide_frame(
    frames: Mapping[str, pl.DataFrame], weights: npt.ArrayLike, config: PortfolioConfig,
    exchange: str, start: datetime | None, end: datetime | None,
    funding: bool | Mapping[str, pl.DataFrame] = True,
) -> pl.DataFrame:  # fmt: skip
    """The aligned ``frames`` with their ``weights`` (checked whole: NaN, gross above the cap,
    spot shorts) and funding (``True``: the perps' lake funding; ``False``: none; or (ts, rate)
    frames by symbol) as one row per bar."""
    symbols = tuple(frames)
    ts = frames[symbols[0]]["ts"]
    w = np.ascontiguousarray(np.asarray(weights, dtype=np.float64))
    if w.shape != (ts.len(), len(symbols)):
        raise ConfigError(
            f"Weights of shape {w.shape} for {ts.len()} bars x {len(symbols)} assets; pass one "
            "row per aligned bar and one column per asset."
        )
    check_weights(w, config, ts, symbols)  # the whole series, before the first order
    if funding is False:
        at_open, inside = np.zeros_like(w), np.zeros_like(w)
    else:
        given = None if funding is True else funding
        at_open, inside = funding_rates(frames, exchange, start, end, given)
    columns: dict[str, Any] = {"ts": ts}
    for j, s in enumerate(symbols):
        for name in ASSET_COLUMNS[:5]:
            columns[f"{name}:{j}"] = frames[s][name]
        columns[f"weight:{j}"], columns[f"fund_open:{j}"] = w[:, j], at_open[:, j]
        columns[f"fund_inside:{j}"] = inside[:, j]
    return pl.DataFrame(columns)
