"""Each figure runs end to end on a small series and reports a consistent six-key line."""

from __future__ import annotations

import json

import pytest

from benchmarks.backtest import backtest_vs_python_loop_ratio

pytestmark = pytest.mark.integration  # vectorbt simulations


def test_backtest_ratio_figure() -> None:
    figure = json.loads(backtest_vs_python_loop_ratio(bars=3_000, repeat=1).json())
    assert figure["name"] == "backtest_vs_python_loop_ratio"
    assert (figure["unit"], figure["baseline"], figure["n"]) == ("x", 1.0, 3_000)
    assert figure["value"] == figure["ratio"] > 0


def test_portfolio_ratio_figure_checks_the_engines_agree() -> None:
    from benchmarks.portfolio import portfolio_vs_vectorbt_ratio

    figure = json.loads(portfolio_vs_vectorbt_ratio(bars=20_000, repeat=1).json())
    assert (figure["name"], figure["unit"], figure["n"]) == (
        "portfolio_vs_vectorbt_ratio",
        "x",
        60_000,
    )
    assert figure["value"] == figure["ratio"] > 0 and figure["baseline"] > 0


def test_news_figures_run_on_small_inputs() -> None:
    from benchmarks.news import news_dedupe_items_per_s, sentiment_fallback_items_per_s

    for figure, name in ((sentiment_fallback_items_per_s, "sentiment_fallback_items_per_s"),
                         (news_dedupe_items_per_s, "news_dedupe_items_per_s")):  # fmt: skip
        line = json.loads(figure(items=200).json())
        assert (
            (line["name"], line["n"]) == (name, 200) and line["value"] > 0 and line["baseline"] > 0
        )


def test_onchain_figures_run_on_small_inputs() -> None:
    from benchmarks.onchain import wallet_swaps_decode_per_s, whale_scan_logs_per_s

    whales = json.loads(whale_scan_logs_per_s(n=500).json())
    swaps = json.loads(wallet_swaps_decode_per_s(repeat=5).json())
    assert (whales["name"], whales["n"], swaps["name"], swaps["n"]) == (
        "whale_scan_logs_per_s",
        500,
        "wallet_swaps_decode_per_s",
        55,
    )
    assert whales["value"] > 0 and swaps["value"] > 0
