"""What became of a run (running, stopped, finished, crashed) and the status tables in words.

Regressions: a stopped dry-run was listed by ``drydock status`` as unfinished like a crashed one,
and ``drydock live status`` printed raw JSON in its table cells (``{"not_sent": 119}``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import polars as pl
import pytest
from typer.testing import CliRunner

from drydock.cli import build_app
from drydock.errors import DrydockError
from drydock.execution import ExecutionModel
from drydock.ohlcv import SeriesKey
from drydock.settings import Settings
from drydock.types import Bar
from live.journal import SqliteJournal
from live.replay import replay
from live.runner import Mode, SimulatedClock, run_strategy
from live.status import describe, run_outcome
from strategies import get_strategy
from strategies.base import Params, ParamSpec, Strategy

pytestmark = pytest.mark.integration

START = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 4, 2, tzinfo=UTC)


class FailsAtBar(Strategy):
    """Long from bar 3; its incremental form raises at bar 30 (a strategy bug met mid-run)."""

    id = "fails_at_bar"
    params: ClassVar[tuple[ParamSpec, ...]] = ()

    def warmup(self, params: Params) -> int:
        return 1

    def signals(self, frame: pl.DataFrame, params: Params) -> pl.DataFrame:
        return frame.with_columns(target=(pl.int_range(pl.len()) >= 3).cast(pl.Float64))

    def init_state(self, params: Params) -> Any:
        return {"i": 0}

    def step(self, state: Any, bar: Bar, params: Params) -> float:
        state["i"] += 1
        if state["i"] == 30:
            raise DrydockError("feature store unavailable at bar 30")
        return 1.0 if state["i"] > 3 else 0.0


def _outcomes(settings: Settings) -> dict[str, tuple[str, str]]:
    with SqliteJournal(settings.journal_path) as journal:
        return {s.run.run_id: run_outcome(journal, s.run.run_id, NOW) for s in journal.runs()}


def test_runs_read_as_finished_stopped_crashed_or_running(
    btc_lake: SeriesKey, settings: Settings
) -> None:
    policy = settings.policy_dir / "research.toml"
    replay("ema_cross", {}, "binance", "BTC/USDT", "1h", policy_path=policy, run_id="done")
    ema = get_strategy("ema_cross")
    run_strategy(ema, ema.resolve_params(), btc_lake, START, policy, ExecutionModel(),
                 Mode.DRY_RUN, clock=SimulatedClock(NOW), max_bars=100, run_id="halted")  # fmt: skip
    with pytest.raises(DrydockError, match="unavailable at bar 30"):
        replay(FailsAtBar(), {}, "binance", "BTC/USDT", "1h", policy_path=policy, run_id="broke")
    out = _outcomes(settings)
    assert out["done"] == ("finished", "")
    assert out["halted"][0] == "stopped" and "--run-id halted" in out["halted"][1]
    assert out["broke"] == ("crashed", "DrydockError: feature store unavailable at bar 30")
    # A holder renewing its lease is running; once it stops renewing (killed), the run crashed.
    with SqliteJournal(settings.journal_path) as journal, journal.hold_run("broke", timedelta(
            minutes=5)):  # fmt: skip
        live_now = datetime.now(UTC)
        assert run_outcome(journal, "broke", live_now)[0] == "running"
        word, why = run_outcome(journal, "broke", live_now + timedelta(minutes=10))
        assert word == "crashed" and "stopped renewing the lease" in why
    # A process of this host killed mid-run leaves its row but not its file lock: crashed at
    # once, not "running" until the row expires.
    import socket

    from live.lease_row import RowLease

    left = RowLease(settings.journal_path, "broke", "pid 1", timedelta(minutes=5),
                    host=socket.gethostname())  # fmt: skip
    left.acquire()
    left.close()
    with SqliteJournal(settings.journal_path) as journal:
        word, why = run_outcome(journal, "broke", datetime.now(UTC))
        assert word == "crashed" and "process on this host is gone" in why

    result = CliRunner().invoke(build_app(), ["status"], terminal_width=400)
    assert result.exit_code == 0, result.output
    assert "0 running, 1 stopped, 1 finished, 1 crashed" in result.output
    assert "STOPPED halted" in result.output and "CRASHED broke" in result.output
    assert "done" not in result.output.split("runs", 1)[1]  # finished runs are counted, not listed


def test_live_status_tables_speak_words_not_json(btc_lake: SeriesKey, settings: Settings) -> None:
    ema = get_strategy("ema_cross")
    run_strategy(ema, ema.resolve_params(), btc_lake, START, settings.policy_dir / "research.toml",
                 ExecutionModel(), Mode.DRY_RUN, clock=SimulatedClock(NOW), max_bars=500,
                 run_id="dry")  # fmt: skip
    table = CliRunner().invoke(build_app(), ["live", "status", "--run", "dry"], terminal_width=200)
    assert table.exit_code == 0, table.output
    assert "{" not in table.output and '"' not in table.output
    assert "stopped (at " in table.output and "not sent" in table.output
    assert describe("orders", {"not_sent": 119, "filled": 2}) == "119 not sent, 2 filled"
    assert (
        describe("position", None) == "flat" and describe("policy_breaker", False) == "not tripped"
    )
