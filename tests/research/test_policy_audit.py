"""The policy inside vectorized backtests: every order judged by the static rules, counted per
rule, logged to MLflow; the same order gets the same rule ids in the replay."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from drydock.cli import main
from drydock.execution import ExecutionModel
from drydock.ohlcv import SeriesKey, read
from drydock.policy import parse_policy
from drydock.settings import Settings
from research.backtest import backtest
from research.policy_audit import audit_orders, metric_name, static_policy
from strategies import get_strategy

pytestmark = pytest.mark.integration  # vectorbt backtests and MLflow on sqlite

PARAMS = {"fast": 12, "slow": 26}


def run(key: SeriesKey, cash: float = 10_000.0) -> tuple[object, pl.DataFrame]:
    result = backtest(get_strategy("ema_cross"), PARAMS, key, ExecutionModel(init_cash=cash))
    return result, read(key)


def test_order_cap_denies_every_entry_and_no_exit(btc_lake: SeriesKey) -> None:
    result, frame = run(btc_lake)
    audit = audit_orders(result, frame, parse_policy({"version": "t", "risk": {"max_order_notional_usd": 5_000.0}}))  # type: ignore[arg-type]  # fmt: skip
    orders = audit.orders
    assert orders.height == result.orders  # type: ignore[attr-defined]
    buys, sells = orders.filter(pl.col("side") == "buy"), orders.filter(pl.col("side") == "sell")
    assert buys.height > 0 and not buys["allowed"].any()  # all-in entries of ~10k are over 5k
    assert sells["allowed"].all()  # exits are exempt from the risk layer
    assert audit.rule_counts == {"risk.max_order_notional": buys.height}
    assert audit.denied == buys.height and not audit.clean


def test_whitelist_without_the_symbol_and_a_clean_policy(btc_lake: SeriesKey) -> None:
    result, frame = run(btc_lake)
    other = parse_policy({"version": "w", "risk": {"symbol_whitelist": ["ETH/USDT"]}})
    audit = audit_orders(result, frame, other)  # type: ignore[arg-type]
    assert set(audit.rule_counts) == {"risk.symbol_not_whitelisted"}
    clean = audit_orders(result, frame, parse_policy({"version": "c"}))  # type: ignore[arg-type]
    assert clean.clean and clean.denied == 0 and clean.rule_counts == {}


def test_stateful_rules_are_listed_not_applied() -> None:
    policy = parse_policy(
        {"version": "s", "risk": {"max_daily_trades": 1, "max_order_notional_usd": 100.0},
         "circuit_breakers": {"max_consecutive_losses": 1}}
    )  # fmt: skip
    static, dropped = static_policy(policy)
    assert dropped == ["risk.max_daily_trades", "circuit_breakers.max_consecutive_losses"]
    assert static.risk.max_daily_trades is None and static.risk.max_order_notional_usd == 100.0


def test_zero_equity_fails_closed(btc_lake: SeriesKey) -> None:
    """Concentration needs positive equity; a tiny account denies rather than divides by 0."""
    result, frame = run(btc_lake, cash=10_000.0)
    policy = parse_policy({"version": "z", "risk": {"max_concentration_pct": 50.0}})
    audit = audit_orders(result, frame, policy)  # type: ignore[arg-type]
    assert audit.rule_counts.get("risk.max_concentration", 0) > 0  # all-in is 100% of equity


def test_cli_backtest_with_policy_logs_tags_metrics_and_audit(
    btc_lake: SeriesKey, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    policy = tmp_path / "p.toml"
    policy.write_text('version = "cap"\n[risk]\nmax_order_notional_usd = 5000\n', encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["drydock", "backtest", "ema_cross", "-p", "fast=12", "-p",
                                      "slow=26", "--policy", str(policy)])  # fmt: skip
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "denied" in out and "risk.max_order_notional" in out
    client = MlflowClient(settings.mlflow_tracking_uri)
    [run] = client.search_runs(client.get_experiment_by_name("backtests").experiment_id)
    denied = run.data.metrics["policy_denied_orders"]
    assert run.data.tags["policy_clean"] == "false" and denied > 0
    assert run.data.metrics[metric_name("risk.max_order_notional")] == denied
    assert run.data.tags["policy_version"] == "cap" and len(run.data.tags["policy_hash"]) == 64
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "policy_audit.parquet" in artifacts


def test_bad_policy_fails_before_any_work(
    btc_lake: SeriesKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "b"\n[risk]\nmax_order_notional_usd = "5000"\n', encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["drydock", "backtest", "ema_cross", "--policy", str(bad)])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "max_order_notional_usd" in err


def test_the_same_order_gets_the_same_rule_ids_in_the_replay(
    btc_lake: SeriesKey, settings: Settings, tmp_path: Path
) -> None:
    from live.journal import SqliteJournal
    from live.replay import replay

    path = tmp_path / "p.toml"
    path.write_text('version = "w"\n[risk]\nsymbol_whitelist = ["ETH/USDT"]\n', encoding="utf-8")
    result, frame = run(btc_lake)
    audit = audit_orders(result, frame, parse_policy({"version": "w", "risk": {"symbol_whitelist": ["ETH/USDT"]}}))  # type: ignore[arg-type]  # fmt: skip
    first = audit.orders.filter(~pl.col("allowed")).row(0, named=True)
    replayed = replay("ema_cross", {k: str(v) for k, v in PARAMS.items()}, "binance",
                      "BTC/USDT", "1h", policy_path=path, run_id="audit-vs-replay")  # fmt: skip
    assert replayed.denied > 0
    with SqliteJournal(settings.journal_path) as journal:
        decision = next(d for d in journal.decisions("audit-vs-replay") if not d.allowed)
    assert decision.ts == first["ts"]
    assert [v["rule_id"] for v in decision.explanation["violations"]] == first["rule_ids"]
