"""Promotion end to end on MLflow (sqlite): a tracked backtest passes or fails the gate, the
champion alias points at the registered configuration, and a forced promotion is journaled."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from drydock.cli import main
from drydock.errors import DrydockError
from drydock.ohlcv import SeriesKey
from drydock.settings import Settings
from live.journal import SqliteJournal
from live.promotion import Gate, PromotionRefused, load_champion, promote

pytestmark = pytest.mark.integration  # vectorbt backtest and MLflow registry on sqlite

POLICY = Path(__file__).parents[2] / "policies" / "default.toml"


@pytest.fixture
def run_id(btc_lake: SeriesKey, settings: Settings) -> str:
    from research.backtest import backtest
    from research.tracking import log_backtest
    from strategies import get_strategy

    result = backtest(get_strategy("ema_cross"), {"fast": 12, "slow": 26}, btc_lake)
    return log_backtest(result, settings)


def test_a_passing_run_becomes_the_champion(run_id: str, settings: Settings) -> None:
    done = promote(run_id, gate=Gate(min_sharpe=None, max_drawdown=0.9, min_trades=5),
                   policy_file=POLICY, settings=settings)  # fmt: skip
    assert (done.name, done.version, done.forced) == ("strategy.ema_cross", "1", False)
    config = load_champion("ema_cross", settings)
    assert config["params"] == {"fast": "12", "slow": "26"}
    assert config["series"] == {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1h"}
    assert config["policy"]["hash"] and config["policy"]["file"] == str(POLICY)
    assert config["source_run"] == run_id and config["fingerprints"]["data_fingerprint"]


def test_a_failing_gate_refuses_with_the_figures_and_force_is_journaled(
    run_id: str, settings: Settings
) -> None:
    strict = Gate(min_sharpe=50.0, max_drawdown=0.9, min_trades=5)
    with pytest.raises(PromotionRefused, match=r"sharpe -?\d+\.\d{3} < 50"):
        promote(run_id, gate=strict, settings=settings)
    with pytest.raises(DrydockError, match="Strategy 'ema_cross' has no promoted"):
        load_champion("ema_cross", settings)
    with pytest.raises(DrydockError, match="--force needs a --reason"):
        promote(run_id, gate=strict, force=True, settings=settings)
    done = promote(run_id, gate=strict, force=True, operator="alice", reason="paper only",
                   settings=settings)  # fmt: skip
    assert done.forced and done.failures[0].startswith("sharpe")
    with SqliteJournal(settings.journal_path) as journal:
        [event] = journal.events_of(("promotion_forced",))
    assert event.detail["operator"] == "alice" and event.detail["reason"] == "paper only"
    assert load_champion("ema_cross", settings)["source_run"] == run_id


def test_cli_promote_and_bad_run_ids(
    run_id: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def cli(*args: str) -> int:
        monkeypatch.setattr(sys, "argv", ["drydock", "promote", *args])
        with pytest.raises(SystemExit) as done:
            main()
        return int(done.value.code or 0)

    assert cli(run_id, "--min-trades", "5", "--max-drawdown", "0.9", "--min-sharpe", "0") == 0
    assert "strategy.ema_cross version 1 is now @champion" in capsys.readouterr().out
    assert cli("no-such-run") == 2
    assert "No MLflow run 'no-such-run'" in capsys.readouterr().err
