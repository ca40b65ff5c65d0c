"""Strategy discovery: package entry points plus the user's own strategy files, no repo edit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drydock.cli import build_app
from drydock.errors import ConfigError
from drydock.ohlcv import SeriesKey
from strategies.registry import discover, get_strategy, strategy_ids, strategy_sources

UP_BAR = """
import polars as pl

from strategies.base import ParamSpec, Strategy
from strategies.ema_cross import EmaCross  # imported, not defined here: not registered twice


class UpBar(Strategy):
    id = "{sid}"
    description = "Long after a bar that closed above its open, flat otherwise."
    params = (ParamSpec("min_move", 0, 0, 100, doc="minimum close-open move, in quote units"),)

    def warmup(self, params):
        return 1

    def signals(self, frame, params):
        up = (pl.col("close") - pl.col("open")) > params["min_move"]
        return frame.with_columns(up.cast(pl.Float64).alias("target"))

    def init_state(self, params):
        return None

    def step(self, state, bar, params):
        return 1.0 if bar.close - bar.open > params["min_move"] else 0.0
"""


def write_strategy(folder: Path, name: str, sid: str = "up_bar") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(UP_BAR.format(sid=sid), encoding="utf-8")
    return path


def test_library_strategy_comes_from_its_entry_point(home: Path) -> None:
    origins = {s.id: s.origin for s in strategy_sources()}
    assert origins == {
        "copy_wallet": "entry point copy_wallet = strategies.copy_wallet:CopyWallet",
        "ema_cross": "entry point ema_cross = strategies.ema_cross:EmaCross",
        "ema_long_short": "entry point ema_long_short = strategies.ema_long_short:EmaLongShort",
    }


def test_user_folder_strategy_is_discovered_with_its_file(home: Path) -> None:
    path = write_strategy(home / "strategies", "up_bar.py")
    (home / "strategies" / "_helpers.py").write_text("raise RuntimeError('never imported')\n")
    assert strategy_ids() == ["copy_wallet", "ema_cross", "ema_long_short", "up_bar"]
    origins = {s.id: s.origin for s in strategy_sources()}
    assert origins["up_bar"] == str(path)
    strategy = get_strategy("up_bar")
    assert strategy.resolve_params({"min_move": "5"}) == {"min_move": 5}


def test_strategy_path_setting_lists_files_and_folders(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = write_strategy(tmp_path / "a", "one.py", sid="one")
    write_strategy(tmp_path / "b", "two.py", sid="two")
    write_strategy(home / "strategies", "ignored.py", sid="ignored")  # default folder replaced
    monkeypatch.setenv("DRYDOCK_STRATEGY_PATH", f"{one}:{tmp_path / 'b'}")
    assert strategy_ids() == ["copy_wallet", "ema_cross", "ema_long_short", "one", "two"]
    monkeypatch.setenv("DRYDOCK_STRATEGY_PATH", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"missing \(from DRYDOCK_STRATEGY_PATH\) does not"):
        strategy_ids()


def test_two_strategies_with_one_id_name_both_sources(tmp_path: Path) -> None:
    path = write_strategy(tmp_path, "clash.py", sid="ema_cross")
    with pytest.raises(ConfigError) as info:
        discover([tmp_path])
    message = str(info.value)
    assert "Two strategies share the id 'ema_cross'" in message
    assert "entry point ema_cross = strategies.ema_cross:EmaCross" in message
    assert str(path) in message


def test_broken_user_module_names_the_file_and_the_exception(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("import polars\n\nRATIO = 1 / 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        discover([tmp_path])
    assert str(path) in str(info.value)
    assert "ZeroDivisionError: division by zero" in str(info.value)


def test_strategy_class_without_id_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "noid.py").write_text(
        UP_BAR.format(sid="x").replace('    id = "x"\n', ""), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"Strategy class UpBar from .*noid.py has no `id`"):
        discover([tmp_path])


def test_cli_lists_the_file_origin(home: Path) -> None:
    path = write_strategy(home / "strategies", "up_bar.py")
    result = CliRunner().invoke(build_app(), ["strategies"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "up_bar" in result.output and "min_move" in result.output
    assert str(path) in result.output


@pytest.mark.integration
def test_user_strategy_backtests_from_the_cli(btc_lake: SeriesKey, home: Path) -> None:
    write_strategy(home / "strategies", "up_bar.py")
    args = ["backtest", "up_bar", "-p", "min_move=50", "--end", "2024-02-01", "--no-track"]
    result = CliRunner().invoke(build_app(), args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "up_bar binance BTC/USDT 1h" in out and "2024-01-01..2024-01-31 (744 bars)" in out
    from research.backtest import backtest

    direct = backtest(
        get_strategy("up_bar"), {"min_move": 50}, btc_lake, end=datetime(2024, 2, 1, tzinfo=UTC)
    )
    assert direct.bars == 744 and direct.orders > 0 and direct.fees_paid > 0
    assert f"final equity {direct.final_equity:,.2f} (started with 10,000.00)" in out
    assert f"fees paid {direct.fees_paid:,.2f} over {direct.orders} orders" in out
