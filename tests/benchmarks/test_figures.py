"""Each figure does the work it claims and reports it as documented: the subject and the peer
compute the same numbers (or the figure refuses), n is the requested size, and value, baseline and
ratio follow from the timings (injected, so no wall-clock assert)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.benchmarks.clock import install

pytestmark = pytest.mark.integration  # vectorbt simulations


def test_backtest_ratio_figure_times_two_equal_equity_curves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks import backtest as bench

    clock = install(monkeypatch, bench, 3.0, 0.5)  # the Python loop 3 s, ours 0.5 s
    figure = json.loads(bench.backtest_vs_python_loop_ratio(bars=3_000, repeat=1).json())
    (loop_equity, _), ours_equity = clock.results
    assert len(ours_equity) == len(loop_equity) == 3_000
    np.testing.assert_allclose(np.asarray(ours_equity), np.asarray(loop_equity), rtol=1e-9)
    assert np.ptp(np.asarray(loop_equity)) > 0  # trades happened: a real comparison
    assert figure == {
        "name": "backtest_vs_python_loop_ratio",
        "value": 6.0,
        "unit": "x",
        "baseline": 1.0,
        "ratio": 6.0,
        "n": 3_000,
    }


def test_portfolio_ratio_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import portfolio as bench

    clock = install(monkeypatch, bench, 0.25, 2.0)  # ours 0.25 s, vectorbt 2 s
    figure = json.loads(bench.portfolio_vs_vectorbt_ratio(bars=20_000, repeat=1).json())
    ours, theirs = clock.results
    assert ours == pytest.approx(theirs, rel=1e-6) and ours != bench.EXECUTION.init_cash
    assert figure == {
        "name": "portfolio_vs_vectorbt_ratio",
        "value": 8.0,
        "unit": "x",
        "baseline": 2.0,  # the peer's seconds
        "ratio": 8.0,
        "n": 20_000 * bench.ASSETS,
    }


def test_portfolio_figure_refuses_engines_that_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import portfolio as bench
    from research.engine.portfolio import run_portfolio as real

    def drifting(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]

        class Off:
            final_equity = result.final_equity * (1 + 1e-4)

        return Off()

    monkeypatch.setattr(bench, "run_portfolio", drifting)
    with pytest.raises(AssertionError, match="portfolio engines disagree"):
        bench.portfolio_vs_vectorbt_ratio(bars=5_000, repeat=1)


def test_sentiment_fallback_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import news as bench

    clock = install(monkeypatch, bench, 0.5, 0.25)  # ours 0.5 s, the plain code 0.25 s
    line = json.loads(bench.sentiment_fallback_items_per_s(items=200).json())
    ours, plain = clock.results
    for a, b in zip(ours, plain, strict=True):
        assert len(a) == len(b) == 200
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    assert line == {
        "name": "sentiment_fallback_items_per_s",
        "value": 400,
        "unit": "items/s",
        "baseline": 800,
        "ratio": 0.5,
        "n": 200,
    }


def test_news_dedupe_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import news as bench

    install(monkeypatch, bench, 0.4, 0.1)
    line = json.loads(bench.news_dedupe_items_per_s(items=200).json())
    assert line == {
        "name": "news_dedupe_items_per_s",
        "value": 500,
        "unit": "items/s",
        "baseline": 2_000,
        "ratio": 0.25,  # plain seconds / ours = our rate / the baseline rate
        "n": 200,
    }


def test_onchain_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import onchain as bench

    install(monkeypatch, bench, 0.5, 0.1, 2.0, 0.5)
    whales = json.loads(bench.whale_scan_logs_per_s(n=500).json())
    swaps = json.loads(bench.wallet_swaps_decode_per_s(repeat=5).json())
    assert whales == {
        "name": "whale_scan_logs_per_s",
        "value": 1_000,
        "unit": "logs/s",
        "baseline": 5_000,
        "ratio": 0.2,
        "n": 500,
    }
    sample = len(swaps_sample())
    assert swaps == {
        "name": "wallet_swaps_decode_per_s",
        "value": round(5 * sample / 2.0),
        "unit": "txs/s",
        "baseline": round(5 * sample / 0.5),
        "ratio": 0.25,
        "n": 5 * sample,
    }


def swaps_sample() -> list[object]:
    from drydock.settings import REPO_ROOT

    path = REPO_ROOT / "data" / "sample" / "helius" / "enhanced_transactions.json"
    return list(json.loads(path.read_text()))
