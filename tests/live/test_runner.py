"""``drydock live run`` (live.runner): the scheduled runner in paper, dry-run and live modes.

Paper mode over history equals the vectorized backtest trade for trade (through the runner's own
path); bars are processed when they close plus the settle delay; dry-run journals orders and sends
none; live refuses to start without confirmation or a venue; the operator's pause denies new
exposure mid-run; a restart of the same run sends nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel
from drydock.ohlcv import SeriesKey
from drydock.settings import Settings
from live.journal import SqliteJournal
from live.policy_state import set_paused
from live.runner import LakeFeed, Mode, SimulatedClock, run_strategy
from strategies import get_strategy

pytestmark = pytest.mark.integration  # lake reads, journal and (for parity) vectorbt

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 4, 1, tzinfo=UTC)  # the btc_lake fixture's 2,184 bars end here
PARAMS = {"fast": 12, "slow": 26}


def _run(settings: Settings, key: SeriesKey, mode: Mode, clock: SimulatedClock, **kw: object):  # type: ignore[no-untyped-def]
    strategy = get_strategy("ema_cross")
    return run_strategy(
        strategy, strategy.resolve_params(PARAMS), key, START,
        settings.policy_dir / "research.toml", ExecutionModel(), mode, clock=clock, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_paper_runner_over_history_equals_the_backtest(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    from research.backtest import backtest

    summary = _run(settings, btc_lake, Mode.PAPER, SimulatedClock(END), until=END)
    result = backtest(get_strategy("ema_cross"), PARAMS, btc_lake)
    rep = summary.result
    assert (summary.state, rep.bars, rep.denied) == ("stopped", 2_184, 0)
    assert rep.orders == rep.fills == result.orders
    np.testing.assert_allclose(rep.equity[1:], result.equity, rtol=1e-12)
    np.testing.assert_allclose(rep.trade_pnl, result.trade_pnl, rtol=1e-9)
    with SqliteJournal(settings.journal_path) as journal:
        states = [e.detail["state"] for e in journal.events(scope=rep.run_id, kind="runner_state")]
        assert states == ["warming_up", "running", "stopped"]  # one event per change
        assert journal.run(rep.run_id).mode == "runner-paper"  # type: ignore[union-attr]


def test_fast_forward_sends_the_same_orders_as_stepping_every_bar(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    """Skipping the bars with no possible event (Session.advance) changes nothing a trader sees:
    the same intents, decisions, orders (side, size, price, time), fills and trades; equity
    marked in float64 on skipped bars agrees with the per-bar Decimal marks to 1e-13."""
    fast = _run(settings, btc_lake, Mode.PAPER, SimulatedClock(END), until=END, run_id="fast")
    slow = _run(settings, btc_lake, Mode.PAPER, SimulatedClock(END), until=END, run_id="slow",
                fast_forward=False)  # fmt: skip
    f, s = fast.result, slow.result
    assert (f.bars, f.intents, f.allowed, f.denied, f.orders, f.fills) == (
        s.bars, s.intents, s.allowed, s.denied, s.orders, s.fills,
    ) == (2_184, 79, 79, 0, 79, 79)  # fmt: skip
    assert f.trade_pnl == s.trade_pnl and f.final_position == s.final_position
    assert f.timestamps == s.timestamps and len(f.equity) == 2_185
    np.testing.assert_allclose(f.equity, s.equity, rtol=1e-13, atol=0)
    with SqliteJournal(settings.journal_path) as journal:

        def shape(run_id: str) -> list[tuple[object, ...]]:
            return [(o.side, o.qty, o.price, o.ts) for o in journal.orders(run_id)]

        assert shape("fast") == shape("slow")
        assert journal.counts("fast") == journal.counts("slow")
    capped = _run(settings, btc_lake, Mode.PAPER, SimulatedClock(END), max_bars=700,
                  run_id="fast-700")  # fmt: skip
    assert capped.result.bars == 700 and capped.last_bar == START + timedelta(hours=699)


class RecordingFeed(LakeFeed):
    """The lake feed, remembering the clock time of every bar it hands out."""

    seen: list[tuple[datetime, datetime]]

    def closed_frame(self, after: datetime | None, now: datetime) -> pl.DataFrame:
        frame = super().closed_frame(after, now)
        self.seen.extend((ts, now) for ts in frame["ts"])
        return frame


def test_each_bar_is_read_once_after_it_closes_plus_the_settle_delay(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    # Start at 12:30 on day 3: the 60 closed bars are caught up at once, then each new bar is read
    # at its close + 5 s, one call per bar; the final read at the 18:00 stop takes the 17:00 bar.
    now = START + timedelta(days=2, hours=12, minutes=30)
    feed = RecordingFeed(btc_lake, START)
    feed.seen = []
    clock = SimulatedClock(now)
    _run(settings, btc_lake, Mode.PAPER, clock, feed=feed, until=now.replace(hour=18, minute=0),
         settle=timedelta(seconds=5))  # fmt: skip
    caught_up = [ts for ts, at in feed.seen if at == now]
    assert len(caught_up) == 60 and caught_up[-1] == now.replace(hour=11, minute=0)
    live = [(ts, at) for ts, at in feed.seen if at != now]
    assert [ts.hour for ts, _ in live] == [12, 13, 14, 15, 16, 17]
    assert all(at == ts + timedelta(hours=1, seconds=5) for ts, at in live[:-1])
    assert live[-1][1] == now.replace(hour=18, minute=0)
    assert len({ts for ts, _ in feed.seen}) == len(feed.seen)  # never the same bar twice


def test_state_machine_journals_warm_up_pause_resume_and_stop_once_each(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    """idle -> warming_up -> running <-> paused -> stopped, one runner_state event per change,
    each with the bar count at that moment (the pause at 03:00 is seen at the wake-up after the
    02:00 bar closes, the 06:01 resume at the 07:00:05 wake-up); status shows the last state."""
    from live.status import run_status

    now = START + timedelta(hours=10, minutes=30)  # 10 closed bars: inside the 26-bar warm-up
    with SqliteJournal(settings.journal_path) as journal:
        set_paused(journal, "ema_cross", True, "ops", START + timedelta(days=2, hours=3))
        set_paused(
            journal, "ema_cross", False, "ops", START + timedelta(days=2, hours=6, minutes=1)
        )
    summary = _run(settings, btc_lake, Mode.PAPER, SimulatedClock(now), run_id="phases",
                   until=START + timedelta(days=3), settle=timedelta(seconds=5))  # fmt: skip
    assert summary.state == "stopped"
    with SqliteJournal(settings.journal_path) as journal:
        events = journal.events(scope="phases", kind="runner_state")
        assert [(e.detail["state"], e.detail["bars"]) for e in events] == [
            ("warming_up", 0), ("running", 26), ("paused", 51), ("running", 55), ("stopped", 72),
        ]  # fmt: skip
        assert run_status(journal, "phases", START + timedelta(days=3))["state"] == "stopped"


def test_dry_run_journals_every_order_and_sends_none(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    summary = _run(settings, btc_lake, Mode.DRY_RUN, SimulatedClock(END), max_bars=500)
    rep = summary.result
    assert rep.orders > 0 and rep.fills == 0 and summary.would_send == rep.orders
    assert rep.final_position.qty == 0 and rep.final_equity == 10_000
    with SqliteJournal(settings.journal_path) as journal:
        assert journal.counts(rep.run_id)["fills"] == 0
        assert len(journal.orders(rep.run_id)) == rep.orders


def test_live_mode_refuses_without_confirmation_or_a_venue(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    clock = SimulatedClock(END)
    with pytest.raises(ConfigError, match="--confirm-live"):
        _run(settings, btc_lake, Mode.LIVE, clock, max_bars=10)
    with pytest.raises(ConfigError, match="never falls back to paper"):
        _run(settings, btc_lake, Mode.LIVE, clock, max_bars=10, confirm_live=True)
    with pytest.raises(ConfigError, match="a stop: max_bars or until"):
        _run(settings, btc_lake, Mode.PAPER, clock)


def test_an_operator_pause_denies_new_exposure_until_resumed(
    btc_lake: SeriesKey, settings: Settings, tmp_path: Path
) -> None:
    clock = SimulatedClock(END)
    with SqliteJournal(settings.journal_path) as journal:
        set_paused(journal, "ema_cross", True, "ops", END - timedelta(days=1))
    paused = _run(settings, btc_lake, Mode.PAPER, clock, until=END, run_id="paused-run").result
    assert paused.denied > 0 and paused.fills == 0  # every entry denied, nothing to exit
    with SqliteJournal(settings.journal_path) as journal:
        rules = {
            v["rule_id"]
            for d in journal.decisions("paused-run")
            for v in d.explanation["violations"]
        }
        assert "session.paused" in rules
        set_paused(journal, "ema_cross", False, "ops", END - timedelta(hours=1))
    resumed = _run(
        settings, btc_lake, Mode.PAPER, SimulatedClock(END), until=END, run_id="after-resume"
    )
    assert resumed.result.denied == 0 and resumed.result.fills == 79  # the parity run's fills


def test_a_restart_of_the_same_run_sends_nothing_twice(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    first = _run(settings, btc_lake, Mode.PAPER, SimulatedClock(END), max_bars=1_000, run_id="r1")
    again = _run(settings, btc_lake, Mode.PAPER, SimulatedClock(END), until=END, run_id="r1")
    assert first.result.new_orders > 0
    assert again.result.new_orders == again.result.orders - first.result.orders
    whole = _run(settings, btc_lake, Mode.PAPER, SimulatedClock(END), until=END, run_id="r2")
    assert again.result.final_equity == pytest.approx(whole.result.final_equity, rel=1e-12)


def test_cli_runs_the_promoted_configuration(
    btc_lake: SeriesKey, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import sys

    from drydock.cli import main
    from live.promotion import Gate, promote
    from research.backtest import backtest
    from research.tracking import log_backtest

    result = backtest(get_strategy("ema_cross"), PARAMS, btc_lake)
    promote(log_backtest(result, settings), gate=Gate(None, None, None),
            policy_file=settings.policy_dir / "research.toml")  # fmt: skip
    monkeypatch.setenv("COLUMNS", "200")
    argv = ["drydock", "live", "run", "ema_cross", "--start", "2024-01-01", "--until", "2024-04-01"]
    monkeypatch.setattr(sys, "argv", [*argv, "--mode", "dry-run"])
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr().out
    assert done.value.code in (0, None), out
    assert "mode dry-run, state stopped" in out and "orders built and not sent (dry-run)" in out
    assert "no order fills" in out and "use --mode paper" in out  # says what the figures mean
    monkeypatch.setattr(sys, "argv", [*argv, "--mode", "live"])
    with pytest.raises(SystemExit) as refused:
        main()
    assert refused.value.code == 2 and "--confirm-live" in capsys.readouterr().err
    monkeypatch.delenv("DRYDOCK_BINANCE_API_KEY", raising=False)
    monkeypatch.setattr(sys, "argv", [*argv, "--mode", "live", "--confirm-live"])
    with pytest.raises(SystemExit) as no_keys:
        main()
    assert no_keys.value.code == 2 and "DRYDOCK_BINANCE_API_KEY" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["drydock", "live", "run", "grid", "--bars", "3"])
    with pytest.raises(SystemExit) as unpromoted:
        main()
    assert unpromoted.value.code == 2 and "no promoted configuration" in capsys.readouterr().err


def test_the_runner_notifies_fills_and_denials_once(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    import httpx

    from drydock.adapters.notify import Channel, Notifier

    texts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        texts.append(request.read().decode())
        return httpx.Response(200)

    hook = Channel(
        "webhook", "https://hooks.example.test/x", lambda k, t, d: {"kind": k, "text": t}
    )
    notifier = Notifier([hook], httpx.Client(transport=httpx.MockTransport(handler)))
    first = _run(
        settings,
        btc_lake,
        Mode.PAPER,
        SimulatedClock(END),
        max_bars=700,
        run_id="n1",
        notifier=notifier,
    )
    fills = sum('"kind": "fill"' in t or '"kind":"fill"' in t for t in texts)
    assert fills == first.result.fills > 0
    again = _run(
        settings,
        btc_lake,
        Mode.PAPER,
        SimulatedClock(END),
        max_bars=700,
        run_id="n1",
        notifier=notifier,
    )
    assert again.result.new_orders == 0 and len(texts) == fills  # a restart notifies nothing again


@pytest.mark.parametrize("fast", [True, False])
def test_a_runner_stopped_before_any_bar_closed_reports_its_cash(
    btc_lake: SeriesKey, settings: Settings, fast: bool
) -> None:
    """Probe: stopping before the first bar closed crashed the summary (metrics of an empty
    equity curve). Now: stopped, 0 bars, the starting cash, no metrics."""
    stop = START + timedelta(minutes=30)
    summary = _run(settings, btc_lake, Mode.PAPER, SimulatedClock(stop), until=stop,
                   run_id=f"early-{fast}", fast_forward=fast)  # fmt: skip
    rep = summary.result
    assert (summary.state, rep.bars, rep.orders, rep.final_equity) == ("stopped", 0, 0, 10_000.0)
    assert rep.metrics == {} and list(rep.timestamps) == [START]


@pytest.mark.parametrize("fast_forward", [True, False])
def test_until_bounds_the_catch_up_not_only_the_clock(
    btc_lake: SeriesKey, settings: Settings, fast_forward: bool
) -> None:
    """Regression: with the clock past ``until`` (a README example started today for March), the
    catch-up ran to the end of the lake; it must trade only bars that close by ``until``."""
    until = START + timedelta(days=10)
    summary = _run(settings, btc_lake, Mode.PAPER, SimulatedClock(END), until=until,
                   fast_forward=fast_forward, run_id=f"until-{fast_forward}")  # fmt: skip
    assert summary.result.bars == 10 * 24  # 1h bars from START; the last one closes at `until`
    assert summary.last_bar == until - timedelta(hours=1)
    assert summary.state == "stopped"


@pytest.mark.parametrize("fast_forward", [True, False])
def test_paper_runner_keeps_an_engine_run_fill_for_fill(
    btc_lake: SeriesKey, settings: Settings, fast_forward: bool
) -> None:
    """Long/short EMA with a stop loss, a trailing stop and a scale-out ladder through the
    scheduled runner on a simulated clock: the research engine's fills, fill for fill."""
    from drydock.fills import EngineConfig
    from drydock.ohlcv import read
    from research.engine import run_backtest

    strategy = get_strategy("ema_long_short")
    params = strategy.resolve_params(PARAMS)
    cfg = EngineConfig(
        execution=ExecutionModel(), lot_size=1e-5, allow_short=True, stop_loss=0.03,
        trailing_stop=0.05, scale_out=((0.02, 0.5), (0.04, 0.25)),
    )  # fmt: skip
    frame = read(btc_lake)
    expected = run_backtest(frame, strategy.signals(frame, params)["target"].to_numpy(), cfg)
    summary = run_strategy(
        strategy, params, btc_lake, START, settings.policy_dir / "research.toml",
        ExecutionModel(), Mode.PAPER, clock=SimulatedClock(END), until=END, engine=cfg,
        fast_forward=fast_forward, run_id=f"engine-runner-{fast_forward}",
    )  # fmt: skip
    rep = summary.result
    ts = frame["ts"].to_list()
    with SqliteJournal(settings.journal_path) as journal:
        fills = [
            (f.ts, f.side.value, float(f.qty), float(f.price)) for f in journal.fills(rep.run_id)
        ]
    want = [
        (ts[int(r[0])], "buy" if r[1] > 0 else "sell", abs(float(r[1])), float(r[2]))
        for r in expected.order_records
    ]
    assert len(want) > 79  # exits on top of the signal orders
    assert [f[:2] for f in fills] == [w[:2] for w in want]
    np.testing.assert_allclose([f[2:] for f in fills], [w[2:] for w in want], rtol=1e-9)
    assert rep.final_equity == pytest.approx(float(expected.equity_values[-1]), rel=1e-9)
    assert rep.denied == 0 and rep.bars == 2_184


def test_a_promoted_simulation_runs_with_its_engine_rules(
    btc_lake: SeriesKey, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`drydock simulate` with stops and shorts -> `drydock promote` -> `drydock live run
    --mode paper`: the runner takes the promoted rules and trades the simulation's fills."""
    import sys

    from drydock.cli import main
    from drydock.fills import EngineConfig
    from drydock.ohlcv import read
    from live.promotion import Gate, promote
    from research.engine import run_backtest
    from research.engine.tracking import log_simulation

    strategy = get_strategy("ema_long_short")
    params = strategy.resolve_params(PARAMS)
    cfg = EngineConfig(execution=ExecutionModel(), lot_size=1e-5, min_notional=5.0,
                       allow_short=True, stop_loss=0.03, scale_out=((0.02, 0.5),))  # fmt: skip
    frame = read(btc_lake)
    result = run_backtest(frame, strategy.signals(frame, params)["target"].to_numpy(), cfg)
    run_id = log_simulation(result, frame, btc_lake, cfg, strategy.id, dict(params), settings)
    promote(run_id, gate=Gate(None, None, None), policy_file=settings.policy_dir / "research.toml")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "argv", ["drydock", "live", "run", "ema_long_short", "--start",
                                      "2024-01-01", "--until", "2024-04-01", "--mode", "paper"])  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr().out
    assert done.value.code in (0, None), out
    with SqliteJournal(settings.journal_path) as journal:
        [summary] = journal.runs()
        fills = journal.fills(summary.run.run_id)
    assert len(fills) == result.order_records.shape[0]
    assert f"{float(result.equity_values[-1]):,.2f}" in out


@pytest.mark.parametrize("fast_forward", [True, False])
def test_the_runner_books_a_perpetuals_funding_as_the_engine(
    settings: Settings, fast_forward: bool
) -> None:
    """An engine run on the BTC perpetual through the scheduled runner (one wake per closed bar
    after a short catch-up) books the lake's funding at its stamps: run_backtest(funding=...)."""
    from drydock.fills import EngineConfig
    from drydock.funding import write_funding
    from drydock.ohlcv import read, write_day
    from drydock.sample import read_sample, read_sample_funding
    from research.engine import run_backtest

    perp = SeriesKey("binance", "BTC/USDT:USDT", "1h")
    frame = read_sample(perp).filter(pl.col("ts") < datetime(2024, 1, 11, tzinfo=UTC))
    for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
        write_day(perp, day, part)
    funding = read_sample_funding("binance", perp.symbol)
    write_funding("binance", perp.symbol, funding)
    strategy = get_strategy("ema_long_short")
    params = strategy.resolve_params({"fast": 5, "slow": 20})
    cfg = EngineConfig(execution=ExecutionModel(), lot_size=0.001, min_notional=100.0,
                       allow_short=True)  # fmt: skip
    bars = read(perp)
    target = strategy.signals(bars, params)["target"].to_numpy()
    expected = run_backtest(bars, target, cfg, funding=funding)
    assert abs(expected.funding_paid) > 0.5
    end = bars["ts"][-1] + timedelta(hours=1)
    clock = SimulatedClock(START + timedelta(days=3))  # catch up 3 days, then bar by bar
    summary = run_strategy(
        strategy, params, perp, START, settings.policy_dir / "research.toml", ExecutionModel(),
        Mode.PAPER, clock=clock, until=end, engine=cfg, settle=timedelta(0),
        fast_forward=fast_forward, run_id=f"perp-{fast_forward}",
    )  # fmt: skip
    assert summary.result.bars == bars.height
    assert summary.result.final_equity == pytest.approx(float(expected.equity_values[-1]), rel=1e-9)
