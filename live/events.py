"""Events beside bars in the live loop: the event types (``drydock.events``), readers that load
them for a time window from the lake datasets, and the merge that hands each event to the bar it
precedes.

An event stamped in (previous bar's close, this bar's close] is delivered to the strategy before
this bar's own step (``live.session.Session.step(bar, events=...)``); a changed target becomes an
intent exactly as a bar's does (sized, decided and filled at the next open). Parsing stays with
the kernel readers: ``wallet_swaps`` (drydock.onchain), ``news_sentiment`` (models.news_scoring),
``whale_transfers`` (drydock.onchain) and ``funding_rates`` (drydock.funding). Operator signals
have no dataset: a caller's event source hands them in.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from drydock.errors import DataNotFoundError
from drydock.events import (
    EVENT_KINDS,
    EVENT_TYPES,
    Event,
    EventError,
    FundingUpdate,
    FutureEventError,
    OperatorSignal,
    SentimentUpdate,
    UnknownEventError,
    WalletSwap,
    WhaleTransfer,
    check_event,
    check_kinds,
    sort_events,
)

if TYPE_CHECKING:
    import polars as pl

    from drydock.series import SeriesKey
    from drydock.types import Bar, OrderIntent

__all__ = [
    "EVENT_KINDS",
    "EVENT_TYPES",
    "Event",
    "EventError",
    "EventSource",
    "FundingUpdate",
    "FutureEventError",
    "LakeEvents",
    "OperatorSignal",
    "SentimentUpdate",
    "UnknownEventError",
    "WalletSwap",
    "WhaleTransfer",
    "assign",
    "check_event",
    "check_kinds",
    "merge",
    "net_intents",
    "read_funding_updates",
    "read_sentiment_updates",
    "read_wallet_swaps",
    "read_whale_transfers",
    "sort_events",
]

#: Events in the window (after, until]: ``after`` None means from the beginning.
EventSource = Callable[[datetime | None, datetime], Sequence[Event]]


def _lake(lake_dir: Path | None) -> Path:
    from drydock.settings import get_settings

    return lake_dir if lake_dir is not None else get_settings().lake_dir


def _window(
    frame: pl.DataFrame, column: str, after: datetime | None, until: datetime
) -> pl.DataFrame:
    import polars as pl

    keep = pl.col(column) <= until
    if after is not None:
        keep &= pl.col(column) > after
    return frame.filter(keep)


def read_wallet_swaps(
    after: datetime | None,
    until: datetime,
    lake_dir: Path | None = None,
    wallets: Iterable[str] | None = None,
) -> list[WalletSwap]:
    """Watched wallets' swaps stamped in (after, until], optionally of ``wallets`` only."""
    from drydock.onchain import read_wallet_swaps as read

    frame = _window(read(_lake(lake_dir)), "ts", after, until)
    only = set(wallets) if wallets is not None else None
    return [
        WalletSwap(
            r["ts"],
            r["chain"],
            r["wallet"],
            r["token_in"],
            r["amount_in"],
            r["token_out"],
            r["amount_out"],
            r["tx_id"],
            r["index"],
            r["label"] or "",
            r["source"] or "",
        )
        for r in frame.iter_rows(named=True)
        if only is None or r["wallet"] in only
    ]


def read_sentiment_updates(
    after: datetime | None,
    until: datetime,
    lake_dir: Path | None = None,
    assets: Iterable[str] | None = None,
) -> list[SentimentUpdate]:
    """Scored news (``news_sentiment``) published in (after, until], optionally about ``assets``."""
    from models.news_scoring import read_scores

    frame = _window(read_scores(_lake(lake_dir)), "published_at", after, until)
    only = set(assets) if assets is not None else None
    rows = sorted(frame.iter_rows(named=True), key=lambda r: (r["published_at"], r["asset"]))
    return [
        SentimentUpdate(
            r["published_at"],
            r["asset"],
            r["score"],
            r["impact"],
            r["label"] or "",
            r["content_hash"],
        )
        for r in rows
        if only is None or r["asset"] in only
    ]


def read_whale_transfers(
    after: datetime | None,
    until: datetime,
    lake_dir: Path | None = None,
    symbols: Iterable[str] | None = None,
) -> list[WhaleTransfer]:
    """Whale transfers (``whale_transfers``) in (after, until], optionally of ``symbols``."""
    from drydock.onchain import read_whales

    frame = _window(read_whales(_lake(lake_dir)), "ts", after, until)
    only = set(symbols) if symbols is not None else None
    return [
        WhaleTransfer(
            r["ts"],
            r["chain"],
            r["symbol"],
            r["amount"],
            r["usd"],
            r["sender"],
            r["receiver"],
            r["kind"] or "",
            r["significance"] or 0.0,
            r["tx_hash"],
            r["log_index"],
        )
        for r in frame.iter_rows(named=True)
        if only is None or r["symbol"] in only
    ]


def read_funding_updates(
    exchange: str,
    symbol: str,
    after: datetime | None,
    until: datetime,
    lake_dir: Path | None = None,
) -> list[FundingUpdate]:
    """Funding events of a perpetual (``funding_rates``) in (after, until]; none is no error."""
    from drydock.funding import read_funding

    try:
        frame = read_funding(exchange, symbol, after, until + timedelta(microseconds=1), lake_dir)
    except DataNotFoundError:
        return []
    frame = _window(frame, "ts", after, until)
    return [
        FundingUpdate(r["ts"], exchange, symbol, r["rate"], r["interval_hours"], r["mark_price"])
        for r in frame.iter_rows(named=True)
    ]


@dataclass(frozen=True)
class LakeEvents:
    """The runner's default event source: the declared ``kinds`` read from the lake per window.

    Sentiment and whale transfers are narrowed to the series' base asset, funding to the series
    itself (a perpetual); wallet swaps are every watched wallet's (the strategy picks)."""

    kinds: tuple[str, ...]
    key: SeriesKey
    lake_dir: Path | None = None

    def __post_init__(self) -> None:
        check_kinds(self.kinds, f"The event source of {self.key}")

    def __call__(self, after: datetime | None, until: datetime) -> list[Event]:
        base = self.key.symbol.split("/")[0]
        found: list[Event] = []
        if "wallet_swap" in self.kinds:
            found += read_wallet_swaps(after, until, self.lake_dir)
        if "sentiment" in self.kinds:
            found += read_sentiment_updates(after, until, self.lake_dir, assets=(base,))
        if "whale_transfer" in self.kinds:
            found += read_whale_transfers(after, until, self.lake_dir, symbols=(base,))
        if "funding" in self.kinds and ":" in self.key.symbol:
            found += read_funding_updates(self.key.exchange, self.key.symbol, after, until,
                                          self.lake_dir)  # fmt: skip
        return sort_events(found)


def assign(
    opens: Sequence[datetime], tf: timedelta, events: Sequence[Event], source: str
) -> dict[int, list[Event]]:
    """Bar index -> its events, in time order: each event goes to the first bar whose close is at
    or after it (so the first bar takes everything up to its close). Every event is checked
    (:func:`check_event`) against the last bar's close, the loop's clock."""
    if not events:
        return {}
    if not opens:
        raise FutureEventError(
            f"{source} handed {len(events)} event(s) with no closed bar to deliver them with; "
            "hand events together with the bars they precede."
        )
    closes = [ts + tf for ts in opens]
    grouped: dict[int, list[Event]] = {}
    for event in sort_events(events):
        check_event(event, closes[-1], source)
        grouped.setdefault(bisect_left(closes, event.ts), []).append(event)
    return grouped


def merge(
    bars: Sequence[Bar], events: Sequence[Event], tf: timedelta, source: str = "The event source"
) -> Iterator[tuple[Bar, list[Event]]]:
    """Each bar with the events it precedes (stamped after the previous close, up to its own)."""
    grouped = assign([b.ts for b in bars], tf, events, source)
    for n, bar in enumerate(bars):
        yield bar, grouped.get(n, [])


def net_intents(intents: list[OrderIntent], before: float) -> list[OrderIntent]:
    """One intent for the net change of a bar's intents (its events' and its own), so a target
    moved and moved back before the next open sends nothing, and fees are paid once."""
    from dataclasses import replace

    from drydock.types import Side

    if len(intents) < 2:
        return intents
    last = intents[-1]
    if last.target == before:
        return []
    return [replace(last, side=Side.BUY if last.target > before else Side.SELL)]
