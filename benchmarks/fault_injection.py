"""Fault injection: the paper runner SIGKILLed at random points of the order path, restarted each
time, against a venue whose book survives the crashes (live.venues.paper_store), for each of
:data:`SCENARIOS` (spot targets, engine-managed exits, resting limits, a two-leg carry).

Figures: ``fault_injection_duplicates`` (orders the venue received twice: resubmits of a known
client id plus accepted orders beyond the journal's), ``fault_injection_lost_fills`` (venue fills
missing from the journal after the last restart) and ``parity_trades_equal`` (1 when the crashed
run ends with the trades and equity of an uninterrupted one). All must be 0, 0 and 1.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import Figure

PARAMS = {"fast": 3, "slow": 8}  # a busy EMA cross: ~450 orders over the 2024-Q1 sample
END_DAY = date(2024, 4, 1)

_CHILD = """
import json, sys
from datetime import datetime
from pathlib import Path
from drydock.execution import ExecutionModel
from drydock.markets import instrument_for
from drydock.ohlcv import SeriesKey
from drydock.settings import get_settings
from live.runner import Mode, SimulatedClock, run_strategy
from live.venues.paper_store import DurablePaperVenue
from strategies import get_strategy
run_id, venue_db, end, params = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3]), json.loads(sys.argv[4])
scenario = sys.argv[5]
key = SeriesKey("binance", "BTC/USDT", "1h")
execution = ExecutionModel()
symbols = ["BTC/USDT", "BTC/USDT:USDT"] if scenario == "carry" else [key.symbol]
venue = DurablePaperVenue(Path(venue_db), "binance", execution,
                          {s: instrument_for("binance", s, execution.overrides()) for s in symbols})
policy = get_settings().policy_dir / "research.toml"
start = datetime.fromisoformat("2024-01-01T00:00:00+00:00")
if scenario == "carry":
    from benchmarks.fault_injection import carry_inputs
    from live.portfolio_run import replay_portfolio
    frames, weights, config, funding = carry_inputs(end)
    r = replay_portfolio(symbols, weights, config, "binance", "1h", strategy_id="funding_carry",
                         policy_path=policy, run_id=run_id, venue=venue, frames=frames,
                         funding=funding)
else:
    engine = None
    if scenario == "grid":
        from live.order_keeper import OrderStrategyRun
        from strategies.order_based import get_order_strategy
        strategy = OrderStrategyRun.of(get_order_strategy("grid"))
        params = {"levels": 6, "spacing": 0.004}
    elif scenario == "engine":
        from drydock.fills import EngineConfig
        strategy = get_strategy("ema_long_short")
        engine = EngineConfig(execution=execution, lot_size=1e-5, min_notional=5.0,
                              allow_short=True, stop_loss=0.01, trailing_stop=0.015,
                              scale_out=((0.006, 0.5), (0.012, 0.25)))
    else:
        strategy = get_strategy("ema_cross")
    summary = run_strategy(strategy, strategy.resolve_params(params), key, start, policy,
                           execution, Mode.PAPER, clock=SimulatedClock(end), until=end,
                           run_id=run_id, venue=venue, engine=engine)
    r = summary.result
print(json.dumps({"orders": r.orders, "fills": r.fills, "equity": r.final_equity, "trades": r.trade_pnl}))
"""

#: The drill's runs: a busy EMA cross (spot targets), a long/short EMA whose stops, trailing stop
#: and ladder the core manages, a grid of resting limits, and a two-leg spot+perp carry.
SCENARIOS = ("ema", "engine", "grid", "carry")


def carry_inputs(end: datetime) -> tuple[Any, Any, Any, Any]:
    """The carry scenario's aligned sample bars (to ``end``), weights, config and funding."""
    import polars as pl

    from drydock.execution import ExecutionModel
    from drydock.fills import PortfolioConfig
    from drydock.fills.portfolio_model import align_bars
    from drydock.markets import instrument_for
    from drydock.sample import read_sample, read_sample_funding
    from drydock.series import SeriesKey
    from strategies.funding_carry import carry_weights

    symbols = ("BTC/USDT", "BTC/USDT:USDT")
    frames = align_bars({
        s: read_sample(SeriesKey("binance", s, "1h")).filter(pl.col("ts") < end) for s in symbols
    })  # fmt: skip
    funding = {symbols[1]: read_sample_funding("binance", symbols[1])}
    execution = ExecutionModel()
    instruments = [instrument_for("binance", s, execution.overrides()) for s in symbols]
    config = PortfolioConfig(
        execution=execution, lot_size=tuple(float(i.lot_size) for i in instruments),
        min_notional=tuple(float(i.min_notional) for i in instruments), allow_short=True,
        rebalance_every=24,
    )  # fmt: skip
    weights = carry_weights(frames[symbols[0]]["ts"], 3600, funding[symbols[1]])
    return frames, weights, config, funding


def write_sample_lake(home: Path, end_day: date = END_DAY) -> None:
    """The bundled BTC/USDT 1h sample up to ``end_day`` in ``home``'s lake."""
    import polars as pl

    from drydock import ohlcv
    from drydock.sample import read_sample
    from drydock.series import SeriesKey

    key = SeriesKey("binance", "BTC/USDT", "1h")
    frame = read_sample(key).filter(pl.col("ts").dt.date() < end_day)
    previous = os.environ.get("DRYDOCK_HOME")
    os.environ["DRYDOCK_HOME"] = str(home)
    try:
        for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
            ohlcv.write_day(key, day, part)
    finally:
        if previous is None:
            os.environ.pop("DRYDOCK_HOME", None)
        else:
            os.environ["DRYDOCK_HOME"] = previous


def _child(
    home: Path, run_id: str, venue_db: Path, end: datetime, kill_at: int, journal_url: str = "",
    scenario: str = "ema",
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    env = os.environ | {"DRYDOCK_HOME": str(home), "DRYDOCK_FAULT_KILL_AT": str(kill_at),
                        "DRYDOCK_JOURNAL_URL": journal_url}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", _CHILD, run_id, str(venue_db), end.isoformat(), json.dumps(PARAMS),
         scenario],
        env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip


def run_fault_injection(home: Path, *, seed: int = 7, max_kills: int = 40, span: int = 120,
                        end_day: date = END_DAY, journal_url: str = "",
                        scenario: str = "ema") -> dict[str, Any]:  # fmt: skip
    """Kill the runner at a random checkpoint among the next ``span`` (4 per order: decided,
    ordered, submitted, filled; finished orders pass none) until it finishes, up to
    ``max_kills`` times; then compare the venue, the journal and an uninterrupted run.

    ``journal_url``: run every child on that PostgreSQL journal instead of the home's SQLite.
    ``scenario``: which run is drilled (:data:`SCENARIOS`); each uses its own run ids.
    """
    from drydock.settings import Settings
    from live.journal import Journal, SqliteJournal
    from live.venues.paper_store import DurablePaperVenue

    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC)
    rng = random.Random(seed)
    clean_id, crashy_id = f"clean-{scenario}", f"crashy-{scenario}"
    clean = _child(home, clean_id, home / f"{clean_id}.db", end, 0, journal_url, scenario)
    if clean.returncode != 0:
        raise RuntimeError(f"clean run failed: {clean.stderr[-2000:]}")
    baseline = json.loads(clean.stdout.strip().splitlines()[-1])
    kills = 0
    final: dict[str, Any] | None = None
    for _ in range(max_kills + 1):
        kill_at = rng.randint(1, span) if kills < max_kills else 0
        done = _child(home, crashy_id, home / f"{crashy_id}.db", end, kill_at, journal_url,
                      scenario)  # fmt: skip
        if done.returncode == -9:
            kills += 1
            continue
        if done.returncode != 0:
            raise RuntimeError(f"restart failed: {done.stderr[-2000:]}")
        final = json.loads(done.stdout.strip().splitlines()[-1])
        break
    if final is None:
        raise RuntimeError("the crashed run never finished")
    venue = DurablePaperVenue(home / f"{crashy_id}.db")
    journal: Journal
    if journal_url:
        from live.journal.postgres import PostgresJournal

        journal = PostgresJournal(journal_url)
    else:
        journal = SqliteJournal(Settings(home=home).journal_path)
    with journal:
        journaled = {f.client_order_id for f in journal.fills(crashy_id)}
        orders = {o.client_order_id for o in journal.orders(crashy_id)}
    venue_ids = {f.client_order_id for f in venue.all_fills()}
    duplicates = venue.resubmits() + len(venue_ids - orders)
    lost = len(venue_ids - journaled)
    venue.close()
    equal = final["trades"] == baseline["trades"] and final["equity"] == baseline["equity"]
    return {"kills": kills, "orders": final["orders"], "duplicates": duplicates,
            "lost_fills": lost, "parity": equal, "accepted": len(venue_ids)}  # fmt: skip


_RESULT: dict[str, Any] = {}


#: Kills per scenario in `make bench` (the EMA run keeps its 40).
KILLS = {"ema": 40, "engine": 15, "grid": 15, "carry": 15}


def _measured() -> dict[str, Any]:
    """Every scenario drilled; duplicates and lost fills summed, parity of all of them."""
    if not _RESULT:
        total: dict[str, Any] = {"kills": 0, "orders": 0, "duplicates": 0, "lost_fills": 0,
                                 "parity": True}  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder)
            write_sample_lake(home)
            for scenario in SCENARIOS:
                r = run_fault_injection(home, scenario=scenario, max_kills=KILLS[scenario])
                print(f"  fault injection {scenario}: {r}", file=sys.stderr)
                for name in ("kills", "orders", "duplicates", "lost_fills"):
                    total[name] += r[name]
                total["parity"] = total["parity"] and r["parity"]
        _RESULT.update(total)
    return _RESULT


def fault_injection_duplicates() -> Figure:
    r = _measured()
    return Figure(
        "fault_injection_duplicates",
        r["duplicates"],
        "orders",
        0,
        1.0 if r["duplicates"] == 0 else 0.0,
        r["kills"],
    )


def fault_injection_lost_fills() -> Figure:
    r = _measured()
    return Figure(
        "fault_injection_lost_fills",
        r["lost_fills"],
        "fills",
        0,
        1.0 if r["lost_fills"] == 0 else 0.0,
        r["orders"],
    )


def parity_trades_equal() -> Figure:
    r = _measured()
    return Figure(
        "parity_trades_equal", int(r["parity"]), "bool", 1, float(r["parity"]), r["orders"]
    )
