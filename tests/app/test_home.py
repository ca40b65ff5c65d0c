"""The home page renders coverage, runs and an equity chart from real stores (AppTest)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from drydock import warehouse
from drydock.ohlcv import SeriesKey
from drydock.settings import REPO_ROOT
from research.backtest import backtest
from research.tracking import log_backtest
from strategies import get_strategy

PAGE = str(REPO_ROOT / "app" / "Home.py")


def test_empty_stores_show_what_to_run(home: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "drydock ingest" in at.warning[0].value
    assert "drydock backtest" in at.info[0].value


def test_page_shows_coverage_runs_and_equity(btc_lake: SeriesKey, home: Path) -> None:
    warehouse.refresh_views()
    strategy = get_strategy("ema_cross")
    first = log_backtest(backtest(strategy, strategy.resolve_params(), btc_lake))
    second = log_backtest(backtest(strategy, strategy.resolve_params({"fast": 5}), btc_lake))

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    coverage = at.dataframe[0].value
    assert coverage["symbol"].tolist() == ["BTC/USDT"]
    assert coverage["bars"].tolist() == [91 * 24]
    runs = at.dataframe[1].value
    assert runs["run_id"].tolist() == [second, first]  # newest first
    assert len(at.selectbox[0].options) == 2
    chart = at.get("plotly_chart")[0]
    assert chart.proto.spec  # a figure was rendered
    at.selectbox[0].select_index(1).run()
    assert not at.exception
    assert first[:8] in at.selectbox[0].value
