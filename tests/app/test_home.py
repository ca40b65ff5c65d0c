"""The home page renders coverage, runs and an equity chart from real stores (AppTest)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from drydock import warehouse
from drydock.metrics import format_metric
from drydock.ohlcv import SeriesKey
from drydock.settings import REPO_ROOT
from research.backtest import backtest
from research.tracking import log_backtest
from strategies import get_strategy

pytestmark = pytest.mark.integration  # MLflow runs and vectorbt backtests, ~30 s

PAGE = str(REPO_ROOT / "app" / "Home.py")


def _trace_y(trace: dict[str, Any]) -> list[float]:
    """A plotly trace's y values, whether plain JSON or plotly's base64 typed array."""
    y = trace["y"]
    if isinstance(y, dict):
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"])).tolist()
    return [float(v) for v in y]


def test_empty_stores_show_what_to_run(home: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "drydock ingest" in at.warning[0].value
    assert "drydock backtest" in at.info[0].value


def test_page_shows_coverage_runs_and_equity(btc_lake: SeriesKey, home: Path) -> None:
    warehouse.refresh_views()
    strategy = get_strategy("ema_cross")
    first_result = backtest(strategy, strategy.resolve_params(), btc_lake)
    second_result = backtest(strategy, strategy.resolve_params({"fast": 5}), btc_lake)
    first, second = log_backtest(first_result), log_backtest(second_result)

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    coverage = at.dataframe[0].value
    assert coverage["symbol"].tolist() == ["BTC/USDT"]
    assert coverage["bars"].tolist() == [91 * 24]

    runs = at.dataframe[1].value
    assert runs["run_id"].tolist() == [second, first]  # newest first
    for row, result in zip(runs.to_dict("records"), (second_result, first_result), strict=True):
        for name in ("total_return", "sharpe", "max_drawdown", "trade_count"):
            assert row[name] == format_metric(name, result.metrics[name])  # as the CLI prints
    assert runs["total_return"].str.endswith("%").all()

    def shown_equity() -> list[float]:
        figure = json.loads(at.get("plotly_chart")[0].proto.spec)
        return _trace_y(figure["data"][0])

    assert len(at.selectbox[0].options) == 2
    assert shown_equity() == pytest.approx(second_result.equity.tolist())
    at.selectbox[0].select_index(1).run()
    assert not at.exception
    assert first[:8] in at.selectbox[0].value
    assert shown_equity() == pytest.approx(first_result.equity.tolist())
    assert shown_equity()[-1] != pytest.approx(second_result.equity.tolist()[-1])


def test_a_truncated_lake_file_is_one_error_naming_it_and_the_rebuild(
    btc_lake: SeriesKey, home: Path
) -> None:
    """Before: an uncaught duckdb InvalidInputException ('No magic bytes found ...')."""
    warehouse.refresh_views()
    [part] = sorted((home / "lake" / "ohlcv").rglob("part-0.parquet"))
    part.write_bytes(part.read_bytes()[:100])  # truncated mid-write
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    [error] = at.error
    assert str(part) in error.value
    assert (
        "drydock ingest --exchange binance --symbol BTC/USDT --timeframe 1h "
        "--start 2024-01-01 --end 2025-01-01" in error.value
    )
    assert "unreadable" in error.value and not at.warning
