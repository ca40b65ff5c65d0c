"""One source of policy state: the context a run decides from equals ``build_context`` over the
journal, field by field, at every decision, and across a restart.

Regression: the runner decided from in-memory counters and journaled breakers as kind ``breaker``
by run id, while ``drydock live state`` read ``breaker_trip`` by strategy from writers nobody
called: an operator read a state the runner did not decide from."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drydock.ohlcv import SeriesKey
from drydock.policy import PolicyContext
from drydock.settings import Settings
from drydock.types import Fill, Order
from live.account_state import AccountState
from live.journal import SqliteJournal
from live.policy_state import build_context, run_account
from live.replay import replay
from live.venues.paper import PaperVenue

pytestmark = pytest.mark.integration

PARAMS = {"fast": 3, "slow": 8}  # many trades on 6 days of 1h bars: losses and a breaker
#: A rolling cap the run gets near (each entry spends ~10k of a 25k/24h cap), a loss breaker and
#: a drawdown breaker that trips mid-run.
POLICY = """version = "state"
[risk]
max_daily_trades = 40
[circuit_breakers]
max_consecutive_losses = 3
[transaction]
[[transaction.rolling_caps]]
id = "strategy-24h"
scope = "strategy"
max = 25000
"""


def _checked(
    monkeypatch: pytest.MonkeyPatch, seen: list[tuple[PolicyContext, PolicyContext]]
) -> None:
    """Compare the cached context with the journal's at every decision the run makes."""
    cached = AccountState.context

    def both(self: AccountState, now: datetime, equity: float, positions: Any) -> PolicyContext:
        mine = cached(self, now, equity, positions)
        theirs = build_context(
            self.journal, strategy_id=self.account.strategy_id, policy=self.policy, now=now,
            equity=equity, positions=positions, kill_file_present=mine.kill_file_present,
            account=self.account,
        )  # fmt: skip
        seen.append((mine, theirs))
        return mine

    monkeypatch.setattr(AccountState, "context", both)


def _assert_equal(pairs: list[tuple[PolicyContext, PolicyContext]]) -> None:
    for mine, theirs in pairs:
        for f in fields(PolicyContext):
            a, b = getattr(mine, f.name), getattr(theirs, f.name)
            if isinstance(a, float):
                assert a == pytest.approx(b, rel=1e-12, abs=1e-9), (f.name, mine.now)
            elif isinstance(a, dict):
                assert a.keys() == b.keys(), (f.name, mine.now)
                for k in a:
                    assert a[k] == pytest.approx(b[k], rel=1e-12), (f.name, k, mine.now)
            else:
                assert a == b, (f.name, mine.now)


def test_the_cached_context_equals_the_journals_at_every_decision_and_after_a_restart(
    lake: SeriesKey, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "state.toml"
    policy.write_text(POLICY, encoding="utf-8")
    seen: list[tuple[PolicyContext, PolicyContext]] = []
    _checked(monkeypatch, seen)
    first = replay("ema_cross", PARAMS, lake.exchange, lake.symbol, lake.timeframe,
                   policy_path=policy, run_id="state")  # fmt: skip
    assert len(seen) == first.allowed + first.denied + first.held >= 12
    _assert_equal(seen)
    tripped = [m for m, _ in seen if m.breaker_tripped]
    assert tripped and first.denied > 0  # the breaker latched mid-run and denied entries
    assert max(m.consecutive_losses for m, _ in seen) >= 3
    peak_use = max((m.rolling_usage.get(("strategy-24h", "ema_cross"), 0.0) for m, _ in seen))
    assert 15_000 < peak_use <= 25_000  # near the cap
    assert any(m.daily_pnl_usd != 0 for m, _ in seen)
    with SqliteJournal(settings.journal_path) as journal:
        scope = "run:state"
        kinds = {e.kind for e in journal.events(scope=scope)}
        assert {"equity", "trade_closed", "breaker_trip", "cap_usage"} <= kinds
        assert not journal.events(scope="caps")  # a replay never spends the wallet's caps
        marks = journal.events(scope=scope, kind="equity")
        assert len(marks) < first.bars  # only the marks the context needs, not one per bar
    # `drydock live state --run` shows exactly what the last decision read.
    import json

    from typer.testing import CliRunner

    from drydock.cli import build_app
    from live.policy_state import state_summary

    last = seen[-1][0]
    assert last.now is not None
    shown = CliRunner().invoke(build_app(), [
        "live", "state", "ema_cross", "--run", "state", "--at", last.now.isoformat(),
        "--equity", repr(last.equity_usd), "--policy", str(policy),
    ])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == json.loads(json.dumps(state_summary(last)))
    assert json.loads(shown.output)["breaker_tripped"] is True


class _CrashAt(PaperVenue):
    """A paper venue whose ``nth`` submit dies after the runner journaled the order."""

    def __init__(self, nth: int):
        super().__init__("binance")
        self.nth, self.calls = nth, 0

    def submit(self, order: Order) -> list[Fill]:
        self.calls += 1
        if self.calls == self.nth:
            raise RuntimeError("process died mid-submit")
        return super().submit(order)


def test_the_context_after_a_restart_equals_the_journals(
    lake: SeriesKey, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that died mid-run resumes with its counters rebuilt (by re-stepping from its start;
    stored decisions reused) and decides every new action from what the journal holds."""
    policy = tmp_path / "state.toml"
    policy.write_text(POLICY, encoding="utf-8")
    seen: list[tuple[PolicyContext, PolicyContext]] = []
    _checked(monkeypatch, seen)
    with pytest.raises(RuntimeError, match="died mid-submit"):
        replay("ema_cross", PARAMS, lake.exchange, lake.symbol, lake.timeframe,
               policy_path=policy, run_id="restart", venue=_CrashAt(4))  # fmt: skip
    crashed_at = seen[-1][0].now
    assert crashed_at is not None
    with SqliteJournal(settings.journal_path) as journal:
        # the paper venue forgets its book with the process, so the journal committed in
        # batches: the crash lost the open batch (nothing after its start is journaled), the
        # rerun below steps it again to the same result
        assert not journal.orders("restart") and journal.verify() == []
    seen.clear()
    resumed = replay("ema_cross", PARAMS, lake.exchange, lake.symbol, lake.timeframe,
                     policy_path=policy, run_id="restart")  # fmt: skip
    after = [
        (m, t) for m, t in seen if m.now is not None and m.now > crashed_at
    ]  # decided anew after the restart
    assert len(after) >= 6 and any(m.breaker_tripped for m, _ in after)
    _assert_equal(after)
    whole = replay("ema_cross", PARAMS, lake.exchange, lake.symbol, lake.timeframe,
                   policy_path=policy, run_id="whole")  # fmt: skip
    assert resumed.trade_pnl == whole.trade_pnl and resumed.equity == whole.equity


def test_bulk_marks_journal_the_same_marks_as_one_by_one(settings: Settings) -> None:
    """The fast-forward path's :meth:`AccountState.mark_many` equals :meth:`mark` per bar."""
    from drydock.policy import parse_policy

    policy = parse_policy({"version": "m"})
    start = int(datetime(2024, 1, 1, 20, tzinfo=UTC).timestamp()) * 10**9
    hour = 3600 * 10**9
    ns = start + hour * np.concatenate([np.arange(0, 30), np.arange(33, 60)])  # a gap at a midnight
    rng = np.random.default_rng(7)
    equity = np.asarray(10_000 * np.cumprod(1 + rng.normal(0, 0.01, ns.shape[0])), np.float64)
    out = []
    for bulk in (False, True):
        with SqliteJournal(settings.root / f"j{bulk}.sqlite") as journal:
            acct = AccountState(journal, policy, run_account("s", f"r{bulk}", operator=False))
            if bulk:
                acct.mark_many(ns[:10], equity[:10])
                acct.mark_many(ns[10:], equity[10:])
            else:
                for t, e in zip(ns, equity, strict=True):
                    acct.mark(datetime.fromtimestamp(t / 1e9, UTC), float(e))
            out.append(acct.marks)
    assert out[0] == out[1] and 4 <= len(out[0]) < ns.shape[0]
