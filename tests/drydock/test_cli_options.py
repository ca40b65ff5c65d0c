"""One option group for market and cost options, read from ExecutionModel's defaults; ``--json``
on the list and status commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import click
import duckdb
import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from drydock import cli_options as opt
from drydock.cli import build_app
from drydock.execution import ExecutionModel, FillTiming
from drydock.settings import Settings

COSTS = ("cash", "fee", "slippage_bps", "fill", "lot_size", "tick_size", "min_notional")
FLAGS = {
    "cash": ["--cash"],
    "fee": ["--fee"],
    "slippage_bps": ["--slippage-bps"],
    "fill": ["--fill"],
    "lot_size": ["--lot-size"],
    "tick_size": ["--tick-size"],
    "min_notional": ["--min-notional"],
    "exchange": ["--exchange", "-e"],
    "symbol": ["--symbol", "-s"],
    "timeframe": ["--timeframe", "-t"],
    "start": ["--start"],
    "end": ["--end"],
}


def _commands(command: click.Command, path: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every leaf command of the CLI (groups may load their commands lazily)."""
    if hasattr(command, "list_commands"):  # a group (typer's own, not a click.Group subclass)
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from _commands(sub, f"{path} {name}".strip())
    else:
        yield path, command


@pytest.fixture(scope="module")
def root() -> click.Command:
    return get_command(build_app())


def test_every_commands_cost_defaults_are_the_execution_models(root: click.Command) -> None:
    model = ExecutionModel()
    expected: dict[str, Any] = {
        "cash": model.init_cash,
        "fee": model.taker_fee,
        "slippage_bps": model.slippage_bps,
        "fill": model.fill,
        "lot_size": model.lot_size,
        "tick_size": model.tick_size,
        "min_notional": model.min_notional,
    }
    using: dict[str, set[str]] = {}
    for path, command in _commands(root):
        for param in command.params:
            if param.name in expected:
                default = param.default
                if param.name == "fill":
                    default = FillTiming(default)
                assert default == expected[param.name], (path, param.name)
                using.setdefault(path, set()).add(param.name)
    assert {"backtest", "simulate", "portfolio", "sweep", "live replay"} <= set(using)
    for path in ("backtest", "simulate", "portfolio", "sweep"):
        assert using[path] == set(COSTS), path
    assert using["live replay"] == set(COSTS) - {"fill"}  # the paper replay fills at next open


def test_the_shared_options_have_the_same_flags_everywhere(root: click.Command) -> None:
    for path, command in _commands(root):
        for param in command.params:
            if param.name in FLAGS:  # portfolio's -s/--symbol is repeatable, same flags
                assert sorted(param.opts) == sorted(FLAGS[param.name]), (path, param.name)


def test_the_defaults_are_read_from_the_model_not_restated() -> None:
    model = ExecutionModel()
    assert (
        model.init_cash,
        model.taker_fee,
        model.slippage_bps,
        model.fill,
    ) == (opt.DEFAULT_CASH, opt.DEFAULT_FEE, opt.DEFAULT_SLIPPAGE_BPS, opt.DEFAULT_FILL)
    assert opt.CostOptions().execution() == ExecutionModel(maker_fee=model.taker_fee)


def test_option_groups_hand_the_command_filled_groups() -> None:
    seen: dict[str, Any] = {}
    app = typer.Typer()

    @app.command()
    @opt.option_groups()
    def probe(
        name: Annotated[str, typer.Argument()],
        series: opt.SeriesOptions = opt.SeriesOptions(),
        costs: opt.CostOptions = opt.CostOptions(),
    ) -> None:
        seen.update(name=name, series=series, costs=costs)

    args = ["x", "-s", "eth/usdt", "--fee", "0.002", "--start", "2024-03-01", "--fill", "close"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen["name"] == "x"
    assert seen["series"].symbol == "ETH/USDT" and seen["series"].exchange == "binance"
    assert seen["series"].start == datetime(2024, 3, 1, tzinfo=UTC)
    execution = seen["costs"].execution()
    assert (execution.taker_fee, execution.fill) == (0.002, FillTiming.CLOSE)
    assert execution.slippage_bps == ExecutionModel().slippage_bps


def test_option_groups_without_fill() -> None:
    seen: dict[str, Any] = {}
    app = typer.Typer()

    @app.command()
    @opt.option_groups(fill=False)
    def probe(costs: opt.CostOptions = opt.CostOptions()) -> None:
        seen["costs"] = costs

    assert CliRunner().invoke(app, ["--fill", "close"]).exit_code == 2
    assert CliRunner().invoke(app, ["--cash", "500"]).exit_code == 0
    assert seen["costs"].cash == 500.0 and seen["costs"].fill == FillTiming.NEXT_OPEN


# -- --json on the list and status commands ---------------------------------------------------


def _json(args: list[str]) -> Any:
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_strategies_json(home: Path) -> None:
    rows = _json(["strategies", "--json"])
    ema = next(r for r in rows if r["id"] == "ema_cross")
    assert set(ema) == {"id", "kind", "description", "origin", "params"}
    assert ema["kind"] == "signal"
    assert [p["name"] for p in ema["params"]] == ["fast", "slow"]
    assert set(ema["params"][0]) == {"name", "default", "low", "high", "step", "doc"}
    assert any(r["kind"] == "order" for r in rows)


def test_status_json(settings: Settings) -> None:
    status = _json(["status", "--json"])
    assert {"home", "lake", "kill switch", "journal", "runs"} <= set(status)
    assert status["home"] == str(settings.root)


def test_policy_check_json(settings: Settings) -> None:
    path = settings.policy_dir / "default.toml"
    out = _json(["policy", "check", str(path), "--json"])
    assert set(out) == {"file", "version", "name", "content_hash", "rules"}
    assert out["rules"] and all(isinstance(k, str) for k in out["rules"])


@pytest.fixture
def warehouse(settings: Settings) -> Path:
    """A warehouse with one whale transfer, one wallet swap and one scored news item."""
    path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    ts = datetime(2025, 12, 1, 12, tzinfo=UTC)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE whale_transfers (ts TIMESTAMPTZ, symbol TEXT, amount DOUBLE, usd DOUBLE,"
            " kind TEXT, significance DOUBLE, sender_entity TEXT, sender TEXT,"
            " receiver_entity TEXT, receiver TEXT)"
        )
        con.execute(
            "INSERT INTO whale_transfers VALUES (?, 'USDC', 5e6, 5e6, 'exchange_inflow', 0.9,"
            " NULL, '0xabc', 'binance', '0xdef')",
            [ts],
        )
        con.execute(
            "CREATE TABLE wallet_swaps (ts TIMESTAMPTZ, label TEXT, source TEXT, token_in TEXT,"
            " amount_in DOUBLE, token_out TEXT, amount_out DOUBLE)"
        )
        con.execute(
            "INSERT INTO wallet_swaps VALUES (?, 'whale-1', 'JUPITER', 'So1', 10, 'Mint1', 1e6)",
            [ts],
        )
        con.execute("CREATE TABLE token_safety (mint TEXT, score DOUBLE)")
        con.execute("INSERT INTO token_safety VALUES ('Mint1', 0.25)")
        con.execute(
            "CREATE TABLE news (content_hash TEXT, published_at TIMESTAMPTZ, source TEXT,"
            " title TEXT)"
        )
        con.execute("INSERT INTO news VALUES ('h1', ?, 'coindesk', 'BTC rallies')", [ts])
        con.execute(
            "CREATE TABLE news_sentiment (content_hash TEXT, asset TEXT, score DOUBLE, label TEXT)"
        )
        con.execute("INSERT INTO news_sentiment VALUES ('h1', 'BTC', 0.6, 'positive')")
    return path


def test_whales_json(warehouse: Path) -> None:
    [row] = _json(["whales", "--json"])
    assert set(row) == {"ts", "symbol", "amount", "usd", "kind", "significance",
                        "sender_entity", "sender", "receiver_entity", "receiver"}  # fmt: skip
    assert (row["kind"], row["receiver_entity"], row["usd"]) == ("exchange_inflow", "binance", 5e6)
    assert datetime.fromisoformat(row["ts"]) == datetime(2025, 12, 1, 12, tzinfo=UTC)


def test_wallets_json(warehouse: Path) -> None:
    [row] = _json(["wallets", "--json"])
    assert set(row) == {"ts", "label", "source", "token_in", "amount_in", "token_out",
                        "amount_out", "safety_score"}  # fmt: skip
    assert (row["label"], row["safety_score"]) == ("whale-1", 0.25)


def test_news_list_json(warehouse: Path) -> None:
    [row] = _json(["news", "list", "--json"])
    assert set(row) == {"published_at", "source", "assets", "score", "label", "title"}
    assert (row["assets"], row["score"], row["title"]) == ("BTC", 0.6, "BTC rallies")
