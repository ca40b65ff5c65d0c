"""``drydock policy check`` and ``explain`` through the real CLI (typer app and console entry)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from drydock.cli import build_app, main
from drydock.policy import load_policy
from drydock.settings import REPO_ROOT

DEFAULT = REPO_ROOT / "policies" / "default.toml"
BUY = {"kind": "order", "venue": "binance", "symbol": "BTC/USDT", "side": "buy"}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(build_app(), ["policy", *args], env={"COLUMNS": "250"})


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["drydock", "policy", *args])
    monkeypatch.setenv("COLUMNS", "250")
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def write_json(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_check_prints_effective_rules_and_hash() -> None:
    result = invoke("check", str(DEFAULT))
    assert result.exit_code == 0, result.output
    policy = load_policy(DEFAULT)
    assert f"valid. content hash {policy.content_hash}" in result.output
    for line in (
        "system.kill_switch",
        "risk.max_order_notional_usd",
        "50,000",
        "risk.symbol_whitelist",
        "[BTC/USDT, ETH/USDT, SOL/USDT]",
        "circuit_breakers.max_drawdown_pct",
        "session.grants",
    ):
        assert line in result.output
    assert "risk.max_leverage" in result.output
    assert "system.allowed_chains" not in result.output  # unset limits are left out


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('version = "1"\n[system]\nkill_switch = "yes"\n', "field 'system.kill_switch'"),
        ('version = "1"\n[risk]\nmax_leverage = = 2\n', "not valid TOML"),
    ],
)
def test_check_bad_file_is_exit_2_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    fragment: str,
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    assert run_main(["check", str(path)], monkeypatch) == 2
    err = capsys.readouterr().err
    assert fragment in err and "bad.toml" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_check_directory_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(["check", str(tmp_path)], monkeypatch) == 2
    assert "is a directory" in capsys.readouterr().err


def test_explain_allow(tmp_path: Path) -> None:
    action = write_json(tmp_path, "a.json", {**BUY, "quantity": 0.1, "price": 60_000})
    result = invoke("explain", str(DEFAULT), str(action))
    assert result.exit_code == 0, result.output
    assert "ALLOW BTC/USDT notional 6,000.00 USD" in result.output
    assert load_policy(DEFAULT).content_hash in result.output
    assert "no rule objected" in result.output


def test_explain_deny_names_rules_and_fixes(tmp_path: Path) -> None:
    action = write_json(tmp_path, "a.json", {**BUY, "quantity": 1.0, "price": 60_000})
    ctx = write_json(
        tmp_path,
        "c.json",
        {"position_notional_usd": {"BTC/USDT": 50_000}, "open_positions": 1,
         "now": "2025-06-01T00:00:00+00:00"},
    )  # fmt: skip
    result = invoke("explain", str(DEFAULT), str(action), "--context", str(ctx))
    assert result.exit_code == 1, result.output
    assert "DENY BTC/USDT notional 60,000.00 USD" in result.output
    assert "risk.max_order_notional" in result.output
    assert "risk.max_position_notional" in result.output
    assert "raise risk.max_order_notional_usd" in result.output  # the suggestion


def test_explain_json_for_machines(tmp_path: Path) -> None:
    action = write_json(
        tmp_path, "a.json", {**BUY, "symbol": "BTC/USDT ", "quantity": 1, "price": 5}
    )
    result = invoke("explain", str(DEFAULT), str(action), "--json")
    assert result.exit_code == 1
    record = json.loads(result.output)
    assert record["verdict"] == "deny" and record["allowed"] is False
    assert record["policy_hash"] == load_policy(DEFAULT).content_hash
    assert record["policy_version"] == "2025.1"
    (violation,) = record["violations"]
    assert violation["rule_id"] == "system.malformed_action"
    assert violation["severity"] == "critical" and violation["suggestion"]
    assert "padded" in violation["message"]
    assert record["action"]["notional_usd"] == 5.0 and record["action"]["side"] == "buy"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({**BUY, "notional_usd": 100.0}, "notional_usd is derived as quantity * price"),
        ({"symbol": "BTC/USDT"}, 'needs "kind" and "venue"'),
        ([BUY], "one JSON object"),
    ],
)
def test_explain_bad_action_file_is_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data: object,
    fragment: str,
) -> None:
    action = write_json(tmp_path, "a.json", data)
    assert run_main(["explain", str(DEFAULT), str(action)], monkeypatch) == 2
    err = capsys.readouterr().err
    assert fragment in err and "a.json" in err and "Traceback" not in err


def test_explain_bad_json_and_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "a.json"
    broken.write_text('{"kind": "order",\n "venue": }', encoding="utf-8")
    assert run_main(["explain", str(DEFAULT), str(broken)], monkeypatch) == 2
    assert "not valid JSON: Expecting value at line 2, column 11" in capsys.readouterr().err
    action = write_json(tmp_path, "ok.json", {**BUY, "quantity": 1, "price": 5})
    ctx = write_json(tmp_path, "c.json", {"now": "yesterday"})
    assert run_main(["explain", str(DEFAULT), str(action), "--context", str(ctx)], monkeypatch) == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err
    ctx = write_json(tmp_path, "c2.json", {"equity": 5})
    assert run_main(["explain", str(DEFAULT), str(action), "--context", str(ctx)], monkeypatch) == 2
    assert "unknown field(s) 'equity'" in capsys.readouterr().err


def test_explain_nan_context_fails_closed(tmp_path: Path) -> None:
    action = write_json(tmp_path, "a.json", {**BUY, "quantity": 0.1, "price": 100})
    ctx = tmp_path / "c.json"
    ctx.write_text('{"equity_usd": NaN, "equity_high_water_usd": 100}', encoding="utf-8")
    result = invoke("explain", str(DEFAULT), str(action), "--context", str(ctx), "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["violations"][0]["rule_id"] == "system.malformed_context"
