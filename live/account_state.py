"""The policy state a run decides from: written to the journal as it happens, kept in memory.

Every stateful input of the policy engine is an append-only journal event in the vocabulary of
:mod:`live.policy_state` (``equity``, ``trade_closed``, ``execution``, ``breaker_trip``,
``cap_usage``), written in the account's scope (:class:`live.policy_state.Account`) when it
happens, and :func:`live.policy_state.build_context` rebuilds the context from those events.
:class:`AccountState` writes them and keeps the same counters in memory, so a replay decides
without reading the journal back; ``tests/live/test_account_state.py`` holds the two equal field
by field at every decision of a replay with losses, a tripped breaker and a rolling cap near its
limit, and across a restart.

Equity marks are journaled only where :func:`~live.policy_state.build_context` needs them (not
one row per bar): the first mark, every mark that raises the high-water mark, and the mark that
the daily-loss window starts from (the last mark at or before each UTC midnight). With a
``rolling_24h`` daily window every mark is journaled (its start moves with each decision).

What comes from outside the process is read from the journal when it matters: the kill switch on
every decision, the operator's pause (when the account has an operator), and, while a breaker is
tripped, the operator's reset (only a journaled ``breaker_reset`` clears a latch).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from drydock.policy import Policy, PolicyContext, mark_high_water
from live.journal import JournalRepository
from live.policy_state import (
    GLOBAL,
    TRADE_HISTORY,
    Account,
    daily_window_start,
    is_paused,
    kill_journaled,
)

__all__ = ["AccountState"]


_DAY_NS = 86_400 * 10**9


def _midnight(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _from_ns(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


@dataclass
class AccountState:
    """One account's policy counters, journaled when they change and cached for decisions."""

    journal: JournalRepository
    policy: Policy
    account: Account
    kill_file: Path | None = None
    #: Equity marks journaled so far, in time order (what build_context reads).
    marks: list[tuple[datetime, float]] = field(default_factory=list)
    peak: float = 0.0
    last_mark: tuple[datetime, float, bool] | None = None  # (ts, equity, journaled)
    trades: list[tuple[datetime, str, float]] = field(default_factory=list)
    failures: int = 0
    tripped: bool = False
    order_times: list[datetime] = field(default_factory=list)
    usage: list[tuple[datetime, dict[tuple[str, str], float]]] = field(default_factory=list)
    #: The wall clock the operator's pause is read at (the runner's clock: a pause set now
    #: applies to the catch-up's bars too, as the kill switch does); None: the decision's time.
    operator_now: Callable[[], datetime] | None = None
    _trades_seen: int = -1
    _view: tuple[tuple[bool, ...], int, dict[str, datetime]] | None = None

    # ---- writing ---------------------------------------------------------------------------

    def mark(self, ts: datetime, equity: float) -> None:
        """An equity mark at ``ts`` (a bar's close): journaled where build_context needs it."""
        every = self.policy.risk.daily_loss_window == "rolling_24h"
        midnight = _midnight(ts)
        previous = self.last_mark
        if previous is not None and not previous[2] and previous[0] <= midnight < ts:
            self._journal_mark(previous[0], previous[1])  # the day's window starts from it
        journal_it = every or not self.marks or equity > self.peak or ts == midnight
        if journal_it:
            self._journal_mark(ts, equity)
        self.last_mark = (ts, equity, journal_it)

    def mark_many(self, close_ns: npt.NDArray[np.int64], equity: npt.NDArray[np.float64]) -> None:
        """Marks of many bar closes (epoch ns, ascending) at once: the same journaled marks as
        calling :meth:`mark` on each, found without a Python loop over the quiet bars."""
        n = equity.shape[0]
        if n == 0:
            return
        if not self.marks:  # the first mark is always journaled
            self.mark(_from_ns(int(close_ns[0])), float(equity[0]))
            self.mark_many(close_ns[1:], equity[1:])
            return
        if self.policy.risk.daily_loss_window == "rolling_24h":
            wanted = np.ones(n, dtype=bool)
        else:
            running = np.maximum.accumulate(equity)
            before = np.concatenate(([self.peak], running[:-1]))
            wanted = equity > np.maximum(before, self.peak)
            day = close_ns // _DAY_NS
            wanted |= close_ns % _DAY_NS == 0  # a mark at midnight starts its day's window
            # the last mark before a midnight it does not sit on starts the next day's window
            crossed = np.flatnonzero(day[1:] > day[:-1])
            wanted[crossed[close_ns[crossed + 1] % _DAY_NS != 0]] = True
            previous = self.last_mark
            if previous is not None and not previous[2]:
                first = datetime.fromtimestamp(close_ns[0] / 1e9, UTC)
                if previous[0] <= _midnight(first) < first:
                    self._journal_mark(previous[0], previous[1])
        for i in np.flatnonzero(wanted[:-1]):
            self._journal_mark(_from_ns(int(close_ns[i])), float(equity[i]))
        last = _from_ns(int(close_ns[-1]))
        if wanted[-1]:
            self._journal_mark(last, float(equity[-1]))
        self.last_mark = (last, float(equity[-1]), bool(wanted[-1]))

    def _journal_mark(self, ts: datetime, equity: float) -> None:
        self.journal.record_event(
            "equity", self.account.scope, {"equity": equity}, ts,
            key=f"equity:{self.account.scope}:{ts.isoformat()}",
        )  # fmt: skip
        self.marks.append((ts, equity))
        self.peak = mark_high_water(self.peak, equity)

    def trade_closed(self, symbol: str, pnl: float, ts: datetime, key: str) -> None:
        self.journal.record_event(
            "trade_closed", self.account.scope, {"symbol": symbol, "pnl": pnl}, ts, key=key
        )
        self.trades.append((ts, symbol, pnl))

    def execution(self, ok: bool, ts: datetime, key: str) -> None:
        """A venue call's outcome: failures are journaled, and the first success after them
        (what resets the streak); a success after a success changes nothing and writes nothing."""
        if ok and self.failures == 0:
            return
        self.journal.record_event("execution", self.account.scope, {"ok": ok}, ts, key=key)
        self.failures = 0 if ok else self.failures + 1

    def trip(self, rules: list[str], ts: datetime, key: str) -> bool:
        """Latch the breaker (journaled once per key); True when it was not tripped before."""
        if self.tripped:
            return False
        self.journal.record_event("breaker_trip", self.account.scope, {"rules": rules}, ts, key=key)
        self.tripped = True
        return True

    def ordered(self, ts: datetime) -> None:
        """An order row was journaled at ``ts`` (the daily and per-minute counts)."""
        self.order_times.append(ts)

    def used(self, ts: datetime, usage: Mapping[tuple[str, str], float]) -> None:
        """What an ALLOW added to the rolling caps (journaled with its decision)."""
        if usage:
            self.usage.append((ts, dict(usage)))

    # ---- reading ---------------------------------------------------------------------------

    def _trade_view(self) -> tuple[tuple[bool, ...], int, dict[str, datetime]]:
        """Recent wins, the loss streak and last close per symbol over the last
        :data:`TRADE_HISTORY` trades, as build_context reads them; recomputed only after a close."""
        if self._trades_seen != len(self.trades) or self._view is None:
            recent = self.trades[-TRADE_HISTORY:]
            wins = tuple(pnl > 0 for _, _, pnl in recent)
            losses = 0
            for won in reversed(wins):
                if won:
                    break
                losses += 1
            self._view = (wins, losses, {symbol: ts for ts, symbol, _ in recent})
            self._trades_seen = len(self.trades)
        return self._view

    def _breaker(self, now: datetime) -> bool:
        """The latch, cleared only by an operator's journaled reset (read while tripped)."""
        scopes = (self.account.scope, GLOBAL) if self.account.operator else (self.account.scope,)
        if not self.tripped and not self.account.operator:
            return False
        events = self.journal.events_of(("breaker_trip", "breaker_reset"), scopes, None, now)
        latched = {s: False for s in scopes}
        for event in events:
            latched[event.scope] = event.kind == "breaker_trip"
        self.tripped = latched[self.account.scope]
        return any(latched.values())

    def _rolling(self, now: datetime) -> dict[tuple[str, str], float]:
        caps = self.policy.transaction.rolling_caps
        if not caps:
            return {}
        oldest = now - timedelta(hours=max(cap.window_hours for cap in caps))
        self.usage = [(ts, u) for ts, u in self.usage if ts > oldest]
        windows = {cap.id: now - timedelta(hours=cap.window_hours) for cap in caps}
        out: dict[tuple[str, str], float] = {}
        for ts, usage in self.usage:
            for (cap_id, key), amount in usage.items():
                start = windows.get(cap_id)
                if start is not None and start < ts <= now:
                    out[(cap_id, key)] = out.get((cap_id, key), 0.0) + amount
        return out

    def _daily(self, now: datetime, equity: float) -> tuple[float, float]:
        if not self.marks:
            return 0.0, 0.0
        start = daily_window_start(self.policy, now)
        i = bisect_right(self.marks, start, key=lambda m: m[0])
        base = self.marks[i - 1][1] if i > 0 else self.marks[0][1]
        return equity - base, base

    def context(
        self, now: datetime, equity: float, positions: Mapping[str, float]
    ) -> PolicyContext:
        """What the next decision reads: equal to ``build_context`` over the journal."""
        held = {k: abs(v) for k, v in positions.items() if v}
        previous = self.last_mark
        if (
            previous is not None
            and not previous[2]
            and previous[0] <= daily_window_start(self.policy, now)
        ):  # a gap over midnight: the window starts from the last mark before it
            self._journal_mark(previous[0], previous[1])
            self.last_mark = (previous[0], previous[1], True)
        pnl, base = self._daily(now, equity)
        wins, losses, closes = self._trade_view()
        midnight = _midnight(now)
        times = self.order_times
        kill = (self.kill_file is not None and self.kill_file.exists()) or kill_journaled(
            self.journal
        )
        at = self.operator_now() if self.operator_now is not None else now
        paused = self.account.operator and is_paused(self.journal, self.account.strategy_id, at)
        return PolicyContext(
            now=now,
            kill_file_present=kill,
            paused=paused,
            position_notional_usd=held,
            open_positions=len(held),
            trades_today=len(times) - bisect_right(times, midnight - timedelta(microseconds=1)),
            equity_usd=equity,
            equity_high_water_usd=mark_high_water(self.peak, equity),
            consecutive_losses=losses,
            consecutive_failures=self.failures,
            breaker_tripped=self._breaker(now),
            rolling_usage=self._rolling(now),
            daily_pnl_usd=pnl,
            day_start_equity_usd=base,
            orders_last_minute=len(times) - bisect_right(times, now - timedelta(minutes=1)),
            last_close_at=dict(closes),
            recent_trade_wins=wins,
        )
