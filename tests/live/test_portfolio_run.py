"""Several instruments in one run: a portfolio (one cash balance) through the live core, every
order the portfolio model decides judged by the policy on its own symbol and sent to the venue."""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel
from drydock.fills import PortfolioConfig
from drydock.fills.portfolio_model import align_bars
from drydock.markets import instrument_for
from drydock.sample import read_sample, read_sample_funding
from drydock.series import SeriesKey
from drydock.settings import Settings
from drydock.types import Fill, Order
from live.journal import SqliteJournal
from live.portfolio_run import replay_portfolio
from live.venues.paper import PaperVenue
from research.engine.portfolio import run_portfolio
from strategies.funding_carry import CarryRule, carry_weights

SYMBOLS = ("BTC/USDT", "BTC/USDT:USDT")
EXECUTION = ExecutionModel()
POLICY = Path("policies/research.toml")


@pytest.fixture(scope="module")
def frames() -> dict[str, Any]:
    return align_bars({s: read_sample(SeriesKey("binance", s, "1h")) for s in SYMBOLS})


@pytest.fixture(scope="module")
def funding() -> dict[str, Any]:
    return {"BTC/USDT:USDT": read_sample_funding("binance", "BTC/USDT:USDT")}


def config(**kw: Any) -> PortfolioConfig:
    instruments = [instrument_for("binance", s) for s in SYMBOLS]
    return PortfolioConfig(
        execution=EXECUTION, lot_size=tuple(float(i.lot_size) for i in instruments),
        min_notional=tuple(float(i.min_notional) for i in instruments), **kw,
    )  # fmt: skip


def run(frames: Any, weights: Any, cfg: PortfolioConfig, run_id: str, **kw: Any) -> Any:
    kw.setdefault("policy_path", POLICY)
    return replay_portfolio(SYMBOLS, weights, cfg, "binance", "1h", frames=frames, run_id=run_id,
                            **kw)  # fmt: skip


def journal_fills(run_id: str, settings: Settings) -> list[tuple[Any, ...]]:
    with SqliteJournal(settings.journal_path) as j:
        return [(f.ts, f.symbol, f.side.value, float(f.qty), float(f.price), float(f.fee))
                for f in j.fills(run_id)]  # fmt: skip


def engine_fills(frames: Any, weights: Any, cfg: PortfolioConfig, funding: Any = None) -> Any:
    result = run_portfolio(frames, weights, cfg, funding=funding)
    ts = frames[SYMBOLS[0]]["ts"].to_list()
    fills = [
        (ts[int(r[0])], SYMBOLS[int(r[1])], "buy" if r[2] > 0 else "sell", abs(float(r[2])),
         float(r[3]), float(r[4]))
        for r in result.order_records
    ]  # fmt: skip
    return fills, result


def same(ours: list[Any], theirs: list[Any]) -> None:
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs, strict=True):
        assert a[:3] == b[:3], (a, b)
        for x, y in zip(a[3:], b[3:], strict=True):
            assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), (a, b)


def test_a_rebalanced_pair_trades_as_the_portfolio_engine(
    frames: Any, funding: Any, settings: Settings
) -> None:
    n = frames[SYMBOLS[0]].height
    weights = np.tile([0.6, 0.3], (n, 1))
    cfg = config(rebalance_every=24)
    expected, result = engine_fills(frames, weights, cfg, funding)
    replayed = run(frames, weights, cfg, "pair", funding=funding)
    same(expected, journal_fills("pair", settings))
    assert math.isclose(replayed.final_equity, result.final_equity, rel_tol=1e-9)
    assert {f[1] for f in expected} == set(SYMBOLS) and replayed.denied == 0


def test_a_funding_carry_earns_what_the_engine_books(
    frames: Any, funding: Any, settings: Settings
) -> None:
    """Long spot / short perp while funding pays the short: the perp's funding is booked at its
    stamps in the live book exactly as in research (it is the carry's income)."""
    ts = frames[SYMBOLS[0]]["ts"]
    weights = carry_weights(ts, 3600, funding["BTC/USDT:USDT"], CarryRule())
    assert (weights[:, 0] > 0).any() and (weights[:, 0] == 0).any()  # enters and exits
    cfg = config(allow_short=True)
    expected, result = engine_fills(frames, weights, cfg, funding)
    assert result.funding_paid < 0  # the short perp received funding
    replayed = run(frames, weights, cfg, "carry", funding=funding)
    same(expected, journal_fills("carry", settings))
    assert math.isclose(replayed.final_equity, result.final_equity, rel_tol=1e-9)
    sides = Counter((f[1], f[2]) for f in expected)
    assert sides[("BTC/USDT:USDT", "sell")] == sides[("BTC/USDT", "buy")] > 0


class CrashOnce(PaperVenue):
    forgets_on_crash = False

    def __init__(self, nth: int) -> None:
        super().__init__("binance", EXECUTION)
        self.nth, self.calls = nth, 0

    def submit(self, order: Order) -> list[Fill]:
        self.calls += 1
        if self.calls == self.nth:
            raise RuntimeError("power cut")
        return super().submit(order)


def test_a_crash_between_legs_resumes_without_duplicate_or_lost_legs(
    frames: Any, funding: Any, settings: Settings
) -> None:
    """The 2nd submit is the spot leg of the first carry entry (sells go first: the perp short
    filled), so the crash falls between the legs; the rerun sends the spot leg once and ends as
    an uninterrupted run."""
    weights = carry_weights(frames[SYMBOLS[0]]["ts"], 3600, funding["BTC/USDT:USDT"])
    cfg = config(allow_short=True)
    clean = run(frames, weights, cfg, "clean", funding=funding)
    with pytest.raises(RuntimeError, match="power cut"):
        run(frames, weights, cfg, "crashy", funding=funding, venue=CrashOnce(2))
    with SqliteJournal(settings.journal_path) as j:
        assert [f.symbol for f in j.fills("crashy")] == ["BTC/USDT:USDT"]  # one leg in
    resumed = run(frames, weights, cfg, "crashy", funding=funding)
    assert journal_fills("crashy", settings) == journal_fills("clean", settings)
    assert resumed.final_equity == pytest.approx(clean.final_equity, rel=1e-12)
    with SqliteJournal(settings.journal_path) as j:
        orders = j.orders("crashy")
        assert len(orders) == len({o.client_order_id for o in orders}) == clean.orders


@pytest.mark.parametrize(
    ("bad", "message"),
    [(np.nan, "not a finite number"), (0.9, "gross exposure"), (-0.2, "is a short")],
)
def test_bad_weights_fail_before_any_order(
    frames: Any, settings: Settings, bad: float, message: str
) -> None:
    n = frames[SYMBOLS[0]].height
    weights = np.tile([0.5, 0.2], (n, 1))
    weights[n // 2, 1] = bad
    with pytest.raises(ConfigError, match=message):
        run(frames, weights, config(), "bad", funding=False)
    with SqliteJournal(settings.journal_path) as j:
        assert j.run("bad") is None


def test_each_leg_is_judged_on_its_own_symbol(
    frames: Any, funding: Any, settings: Settings, tmp_path: Path
) -> None:
    """A policy that whitelists only spot denies every perp leg (named by its symbol); the spot
    legs go through, and the book holds exactly what filled."""
    policy = tmp_path / "spot.toml"
    policy.write_text('version = "spot"\n[risk]\nsymbol_whitelist = ["BTC/USDT"]\n', "utf-8")
    weights = carry_weights(frames[SYMBOLS[0]]["ts"], 3600, funding["BTC/USDT:USDT"])
    result = run(frames, weights, config(allow_short=True), "spot-only", funding=funding,
                 policy_path=policy)  # fmt: skip
    with SqliteJournal(settings.journal_path) as j:
        denied = [d for d in j.decisions("spot-only") if not d.allowed]
        fills = j.fills("spot-only")
    assert denied and all(d.explanation["action"]["symbol"] == "BTC/USDT:USDT" for d in denied)
    assert {f.symbol for f in fills} == {"BTC/USDT"}
    held = sum((f.qty if f.side.value == "buy" else -f.qty for f in fills), Decimal(0))
    assert result.final_position.symbol in SYMBOLS and held >= 0


def test_the_cli_runs_a_carry_from_the_lake_as_the_engine(
    frames: Any, funding: Any, settings: Settings
) -> None:
    """`drydock live portfolio --scheme carry` over lake bars and lake funding: the research
    portfolio engine's final equity, every leg journaled."""
    import polars as pl
    import typer
    from typer.testing import CliRunner

    from drydock.funding import write_funding
    from drydock.ohlcv import write_day
    from live.cli import register

    for s, frame in frames.items():
        for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
            write_day(SeriesKey("binance", s, "1h"), day, part)
    write_funding("binance", "BTC/USDT:USDT", funding["BTC/USDT:USDT"])
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    argv = ["live", "portfolio", "-s", "BTC/USDT", "-s", "BTC/USDT:USDT", "--scheme", "carry",
            "--policy", str(POLICY)]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    weights = carry_weights(frames[SYMBOLS[0]]["ts"], 3600, funding["BTC/USDT:USDT"])
    cfg = config(allow_short=True, rebalance_every=24)  # the CLI's --every default
    expected, engine = engine_fills(frames, weights, cfg, funding)
    assert f"{engine.final_equity:,.2f}" in result.output
    with SqliteJournal(settings.journal_path) as j:
        [summary] = j.runs()
        assert summary.run.strategy_id == "funding_carry"
        assert len(j.fills(summary.run.run_id)) == len(expected)
    replayed = journal_fills(summary.run.run_id, settings)
    paper = CliRunner().invoke(app, [*argv, "--mode", "paper", "--start", "2024-01-01",
                                      "--until", "2024-04-01", "--run-id", "scheduled"])  # fmt: skip
    assert paper.exit_code == 0, paper.output
    assert f"{engine.final_equity:,.2f}" in paper.output and "mode paper" in paper.output
    assert journal_fills("scheduled", settings) == replayed  # the runner trades the replay
    no_stop = CliRunner().invoke(app, [*argv, "--mode", "paper"])
    assert no_stop.exit_code != 0 and "--until" in str(no_stop.exception or no_stop.output)
    wrong = CliRunner().invoke(app, [*argv[:4], "--scheme", "carry"])
    assert wrong.exit_code != 0 and "spot then its perpetual" in str(
        wrong.exception or wrong.output
    )


def _lake_with_carry(frames: Any, funding: Any) -> None:
    import polars as pl

    from drydock.funding import write_funding
    from drydock.ohlcv import write_day

    for s, frame in frames.items():
        for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
            write_day(SeriesKey("binance", s, "1h"), day, part)
    write_funding("binance", "BTC/USDT:USDT", funding["BTC/USDT:USDT"])


@pytest.mark.parametrize("resume_at", [None, 700])
def test_the_scheduled_runner_trades_a_carry_as_the_engine(
    frames: Any, funding: Any, settings: Settings, resume_at: int | None
) -> None:
    """The paper runner on a simulated clock, reading both legs and the funding from the lake
    through a PortfolioFeed: the research portfolio engine's fills and equity; stopped after
    700 bars and restarted with the same run id, it ends the same."""
    from live.portfolio_feed import PortfolioFeed
    from live.portfolio_run import named
    from live.runner import Mode, SimulatedClock, run_strategy

    _lake_with_carry(frames, funding)
    cfg = config(allow_short=True, rebalance_every=24)
    ts = frames[SYMBOLS[0]]["ts"]
    start, end = ts[0], ts[-1] + (ts[1] - ts[0])

    def rule(seen: Any) -> Any:
        return carry_weights(seen[SYMBOLS[0]]["ts"], 3600, funding["BTC/USDT:USDT"])

    def go(**kw: Any) -> Any:
        feed = PortfolioFeed(SYMBOLS, "binance", "1h", cfg, rule, start=start)
        return run_strategy(
            named("funding_carry"), {}, SeriesKey("binance", SYMBOLS[0], "1h"), start, POLICY,
            EXECUTION, Mode.PAPER, clock=SimulatedClock(end), until=end, feed=feed,
            portfolio=(SYMBOLS, cfg), run_id="carry-runner", **kw,
        )  # fmt: skip

    if resume_at is not None:
        assert go(max_bars=resume_at).result.bars == resume_at
    summary = go()
    expected, engine = engine_fills(frames, rule(frames), cfg, funding)
    same(expected, journal_fills("carry-runner", settings))
    assert math.isclose(summary.result.final_equity, engine.final_equity, rel_tol=1e-9)
