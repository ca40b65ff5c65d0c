"""The runner against a recorded exchange: a real ccxt ``kraken`` answering from recorded bodies.

Dry-run reads the venue (markets) and sends nothing; live mode sends every order once through
timeouts, rate limits and a rejected exit (flagged stuck, retried next bar, unstuck); the order
lifecycle is journaled as events; the venue's circuit breaker opens and closes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tenacity import wait_none

from drydock.adapters.ccxt import CcxtVenue, RecordedKraken, recorded_kraken_exchange
from drydock.execution import ExecutionModel
from drydock.ohlcv import SeriesKey
from drydock.settings import REPO_ROOT, Settings
from drydock.types import Bar
from live.journal import SqliteJournal
from live.lifecycle import OrderState, open_orders, order_states, stuck_symbols
from live.runner import Mode, RunnerSummary, SimulatedClock, run_strategy
from strategies import get_strategy

START = datetime(2024, 1, 1, tzinfo=UTC)
END = START + timedelta(days=6)  # the lake fixture's six days of real BTC/USDT 1h bars
PARAMS = {"fast": 5, "slow": 20}


class BarPricedKraken(CcxtVenue):
    """The ccxt venue; the recorded exchange fills market orders at the current bar's open."""

    def __init__(self, adapter: RecordedKraken, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self.adapter = adapter

    def set_bar(self, bar: Bar) -> None:
        self.adapter.prices["BTC/USDT"] = Decimal(str(bar.open))


class Notices:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def notify(self, kind: str, text: str, detail: Any = None) -> None:
        self.sent.append((kind, text))


def kraken() -> tuple[BarPricedKraken, RecordedKraken]:
    exchange, adapter = recorded_kraken_exchange(REPO_ROOT / "data" / "sample")
    return BarPricedKraken(adapter, exchange, sleep=lambda s: None), adapter


def run(
    settings: Settings, key: SeriesKey, mode: Mode, venue: CcxtVenue, now: datetime = END, **kw: Any
) -> RunnerSummary:
    strategy = get_strategy("ema_cross")
    return run_strategy(
        strategy, strategy.resolve_params(PARAMS), key, START,
        settings.policy_dir / "research.toml", ExecutionModel(), mode, clock=SimulatedClock(now),
        until=END, venue=venue, confirm_live=mode is Mode.LIVE, retry_wait=wait_none(), **kw,
    )  # fmt: skip


def test_dry_run_against_the_recorded_exchange_sends_nothing(
    lake: SeriesKey, settings: Settings
) -> None:
    venue, adapter = kraken()
    summary = run(settings, lake, Mode.DRY_RUN, venue)
    rep = summary.result
    assert summary.would_send == rep.orders > 3 and rep.fills == 0
    assert adapter.add_calls == [] and "AddOrder" not in adapter.bodies
    with SqliteJournal(settings.journal_path) as j:
        orders = j.orders(rep.run_id)
        assert len(orders) == summary.would_send
        # Sized with Kraken's own increments (lot 1e-8 BTC from its markets), not Binance's 1e-5.
        assert any(o.qty != o.qty.quantize(Decimal("0.00001")) for o in orders)
        assert set(order_states(j, rep.run_id).values()) == {OrderState.NOT_SENT}


def test_live_run_sends_each_order_once_through_timeouts_and_rate_limits(
    lake: SeriesKey, settings: Settings
) -> None:
    clean_venue, _clean_adapter = kraken()
    clean = run(settings, lake, Mode.LIVE, clean_venue, run_id="clean").result
    venue, adapter = kraken()
    adapter.script.extend(["accept", "timeout_after_accept", "rate_limited", "accept",
                           "timeout_before_accept"])  # fmt: skip
    rep = run(settings, lake, Mode.LIVE, venue, run_id="faulty").result
    assert rep.orders == rep.fills == clean.orders > 3 and rep.failures == 0
    assert adapter.accepted() == rep.orders and adapter.duplicates() == 0
    assert len(adapter.add_calls) == rep.orders + 2  # the rate-limited and never-accepted resends
    assert rep.equity == clean.equity  # the same fills at the same recorded-exchange prices
    with SqliteJournal(settings.journal_path) as j:
        assert set(order_states(j, "faulty").values()) == {OrderState.FILLED}
        assert open_orders(j, "faulty") == []
        assert len(j.fills("faulty")) == rep.orders
        # Bars from Binance, orders to Kraken: journaled and judged as Kraken's.
        assert {o.venue for o in j.orders("faulty")} == {"kraken"}
        assert {d.explanation["action"]["venue"] for d in j.decisions("faulty")} == {"kraken"}


def test_a_rejected_exit_is_stuck_alerted_retried_and_unstuck(
    lake: SeriesKey, settings: Settings
) -> None:
    venue, adapter = kraken()
    adapter.script.extend(["accept", "insufficient_funds"])  # the first exit is refused
    notices = Notices()
    rep = run(settings, lake, Mode.LIVE, venue, run_id="stuck", notifier=notices).result
    assert rep.failures == 1 and adapter.duplicates() == 0
    with SqliteJournal(settings.journal_path) as j:
        [stuck] = j.events(scope="stuck", kind="stuck")
        [unstuck] = j.events(scope="stuck", kind="unstuck")
        assert unstuck.ts == stuck.ts + timedelta(hours=1)  # retried on the very next bar
        states = order_states(j, "stuck")
        assert states[stuck.detail["client_order_id"]] is OrderState.REJECTED
        assert states[unstuck.detail["client_order_id"]] is OrderState.FILLED
        assert stuck_symbols(j, "stuck") == {}
        retry = j.order(unstuck.detail["client_order_id"])
        assert retry is not None and str(retry.qty) == stuck.detail["qty"]
    assert [k for k, _ in notices.sent].count("stuck") == 1
    # Every buy was sold again: the book ends flat or long exactly by the last entry.
    assert rep.final_position.qty in (
        Decimal(0),
        Decimal(str(adapter.orders[max(adapter.orders)].vol)),
    )


def test_an_exit_refused_every_bar_stays_stuck_and_is_retried_each_bar(
    lake: SeriesKey, settings: Settings
) -> None:
    venue, adapter = kraken()
    adapter.script.extend(["accept"] + ["insufficient_funds"] * 500)
    rep = run(settings, lake, Mode.LIVE, venue, run_id="wedged").result
    with SqliteJournal(settings.journal_path) as j:
        stuck = j.events(scope="wedged", kind="stuck")
        assert j.events(scope="wedged", kind="unstuck") == []
        assert list(stuck_symbols(j, "wedged")) == ["BTC/USDT"]
    # One retry per bar from the first refused exit to the last bar: never dropped.
    first = stuck[0].ts
    assert len(stuck) == (END - timedelta(hours=1) - first) // timedelta(hours=1) + 1
    assert rep.final_position.qty > 0


def test_venue_breaker_opens_after_repeated_timeouts_and_closes_after_cooldown(
    lake: SeriesKey, settings: Settings
) -> None:
    venue, adapter = kraken()
    adapter.script.extend(["accept"] + ["unavailable"] * 6)
    notices = Notices()
    rep = run(settings, lake, Mode.LIVE, venue, run_id="breaker", notifier=notices,
              breaker_threshold=3, breaker_cooldown=timedelta(seconds=0)).result  # fmt: skip
    with SqliteJournal(settings.journal_path) as j:
        opened = j.events(scope="breaker", kind="venue_breaker_open")
        closed = j.events(scope="breaker", kind="venue_breaker_closed")
    assert len(opened) >= 1 and len(closed) >= 1
    assert opened[0].detail["venue"] == "kraken" and opened[0].detail["failures"] == 3
    assert ("breaker", "kraken circuit open") in notices.sent
    assert adapter.duplicates() == 0 and rep.fills == adapter.accepted()


@pytest.mark.parametrize("mode", [Mode.LIVE])
def test_live_mode_still_refuses_without_confirmation(
    lake: SeriesKey, settings: Settings, mode: Mode
) -> None:
    from drydock.errors import ConfigError

    venue, adapter = kraken()
    strategy = get_strategy("ema_cross")
    with pytest.raises(ConfigError, match="--confirm-live"):
        run_strategy(strategy, strategy.resolve_params(PARAMS), lake, START,
                     settings.policy_dir / "research.toml", ExecutionModel(), mode,
                     clock=SimulatedClock(END), until=END, venue=venue)  # fmt: skip
    assert adapter.bodies == {}


def test_an_order_whose_answer_was_lost_is_recovered_by_reconciliation(
    lake: SeriesKey, settings: Settings
) -> None:
    """The exchange takes the first order but the answer and every read during the retries fail:
    the order is journaled ``failed``. The next reconciliation (an hour of clock later) finds its
    fill at the exchange, journals it and the running book holds it; nothing is sent twice."""
    clean_venue, _ = kraken()
    clean = run(settings, lake, Mode.LIVE, clean_venue, run_id="clean2").result
    venue, adapter = kraken()
    adapter.script.append("timeout_after_accept")
    adapter.read_faults_after_accept = 3  # the reads of the three retries after the timeout fail
    # Live from the first bar's close: one bar per hour of clock, a reconciliation every 15 min.
    rep = run(
        settings, lake, Mode.LIVE, venue, now=START + timedelta(hours=1), run_id="lost"
    ).result
    assert adapter.duplicates() == 0 and adapter.accepted() == rep.orders
    with SqliteJournal(settings.journal_path) as j:
        [failed] = j.events(scope="lost", kind="order_failed")
        cid = failed.detail["client_order_id"]
        [fill] = j.fills_for(cid)  # recovered
        recon = [e for e in j.events(scope="lost", kind="reconciled")]
        assert sum(e.detail["recovered_fills"] for e in recon) == 1
        [found] = [e for e in recon if e.detail["recovered_fills"]]
        assert found.ts - failed.ts <= timedelta(hours=1, minutes=1)  # the next hour's check
        assert recon[0].detail["balances"] == {"USDT": "10000.0"}
        assert order_states(j, "lost")[cid] is OrderState.FILLED
        assert len(j.fills("lost")) == adapter.accepted()
    assert rep.failures == 1 and fill.qty == Decimal(str(adapter.orders[min(adapter.orders)].vol))
    # The recovered entry was held from the bar it was found: the book is the clean run's book.
    assert rep.final_position.qty == clean.final_position.qty


def test_live_status_shows_the_stuck_exit_open_breaker_and_orders(
    lake: SeriesKey, settings: Settings
) -> None:
    import json

    from typer.testing import CliRunner

    from drydock.cli import build_app

    venue, adapter = kraken()
    adapter.script.extend(["accept"] + ["insufficient_funds"] * 500)
    run(settings, lake, Mode.LIVE, venue, run_id="desk")
    result = CliRunner().invoke(build_app(), ["live", "status", "--json", "--run", "desk"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    [desk] = report["runs"]
    assert report["kill_switch"] == "off"
    assert (desk["state"], desk["mode"], desk["venue"]) == ("stopped", "runner-live", "kraken")
    assert list(desk["stuck"]) == ["BTC/USDT"]
    assert desk["orders"]["filled"] == 1 and desk["orders"]["rejected"] == len(
        adapter.add_calls) - 1  # fmt: skip
    assert desk["open_orders"] == [] and desk["venue_breaker"] == "closed"
    assert Decimal(desk["position"]["qty"]) > 0
    # The exchange's balances follow the fills: the BTC held is the journal's position, no drift.
    balances = desk["last_reconciled"]["balances"]
    assert Decimal(balances["BTC"]) == Decimal(desk["position"]["qty"])
    assert Decimal(balances["USDT"]) < 10_000 and desk["last_reconciled"]["drift"] is None
    table = CliRunner().invoke(build_app(), ["live", "status", "--run", "desk"])
    assert table.exit_code == 0 and "BTC/USDT" in table.output and "stuck" in table.output
    assert "exit " in table.output and "unfilled" in table.output and "{" not in table.output
    missing = CliRunner().invoke(build_app(), ["live", "status", "--run", "nope"])
    assert missing.exit_code != 0 and "no run 'nope'" in missing.output


def test_a_position_sold_outside_the_runner_is_found_as_drift_and_alerted_once(
    lake: SeriesKey, settings: Settings
) -> None:
    """Reconciliation judges the venue's balances: after the run, someone sells the BTC on the
    exchange by hand. The runner's next start finds the venue short of the journaled position,
    journals ``position_drift`` once and alerts; status shows it. A clean run has no drift."""
    from live.reconcile import reconcile
    from live.status import run_status

    venue, adapter = kraken()
    first = run(settings, lake, Mode.LIVE, venue, run_id="drift",
                now=END - timedelta(hours=30)).result  # fmt: skip
    held = first.final_position.qty
    assert held > 0  # the run ends long (EMA 5/20 on the six-day sample, 30 h before its end)
    with SqliteJournal(settings.journal_path) as j:
        assert j.events(scope="drift", kind="position_drift") == []  # balances follow the fills
        assert reconcile(j, "drift", venue, END).drift is None
    venue.exchange.create_order("BTC/USDT", "market", "sell", float(held))  # by hand, no runner
    notices = Notices()
    again = run(settings, lake, Mode.LIVE, BarPricedKraken(adapter, venue.exchange,
                sleep=lambda s: None), run_id="drift", notifier=notices,
                now=END - timedelta(hours=30)).result  # fmt: skip
    assert again.orders == first.orders  # the resume caught up through the journal: sent nothing
    assert [k for k, _ in notices.sent].count("drift") == 1  # on start; not again on stop
    with SqliteJournal(settings.journal_path) as j:
        [event] = j.events(scope="drift", kind="position_drift")
        assert event.detail == {"asset": "BTC", "journal": str(held), "venue": "0",
                                "short_by": str(held)}  # fmt: skip
        report = reconcile(j, "drift", venue, END)
        assert report.drift == event.detail and not report.new_drift  # journaled once
        assert run_status(j, "drift", END)["last_reconciled"]["drift"]["asset"] == "BTC"
