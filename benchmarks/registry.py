"""Figure names -> the functions that measure them (imported only when a figure runs)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from benchmarks.harness import Figure


def _lazy(module: str, function: str) -> Callable[[], Figure]:
    """A figure function loaded on first call, so listing names stays cheap."""

    def run() -> Figure:
        figure: Callable[[], Figure] = getattr(import_module(module), function)
        return figure()

    return run


FIGURES: dict[str, Callable[[], Figure]] = {
    "backtest_vs_python_loop_ratio": _lazy("benchmarks.backtest", "backtest_vs_python_loop_ratio"),
    "sweep_bar_params_per_s": _lazy("benchmarks.backtest", "sweep_bar_params_per_s"),
    "sweep_generic_bar_params_per_s": _lazy(
        "benchmarks.backtest", "sweep_generic_bar_params_per_s"
    ),
    "sweep_peak_rss_mb": _lazy("benchmarks.backtest", "sweep_peak_rss_mb"),
    "sweep_stop_bar_params_per_s": _lazy("benchmarks.backtest", "sweep_stop_bar_params_per_s"),
    "ingest_rows_per_s": _lazy("benchmarks.market_data", "ingest_rows_per_s"),
    "query_1y_1m_ms": _lazy("benchmarks.market_data", "query_1y_1m_ms"),
    "resample_rows_per_s": _lazy("benchmarks.market_data", "resample_rows_per_s"),
    "engine_vs_python_loop_ratio": _lazy("benchmarks.engine", "engine_vs_python_loop_ratio"),
    "conformance_cases": _lazy("benchmarks.engine", "conformance_cases"),
    "portfolio_vs_vectorbt_ratio": _lazy("benchmarks.portfolio", "portfolio_vs_vectorbt_ratio"),
    "bar_to_submit_p99_ms": _lazy("benchmarks.runner", "bar_to_submit_p99_ms"),
    "event_to_submit_p99_ms": _lazy("benchmarks.runner", "event_to_submit_p99_ms"),
    "replay_bars_per_s": _lazy("benchmarks.runner", "replay_bars_per_s"),
    "runner_parity_strategies": _lazy("benchmarks.parity", "runner_parity_strategies"),
    "fault_injection_duplicates": _lazy("benchmarks.fault_injection", "fault_injection_duplicates"),
    "fault_injection_lost_fills": _lazy("benchmarks.fault_injection", "fault_injection_lost_fills"),
    "parity_trades_equal": _lazy("benchmarks.fault_injection", "parity_trades_equal"),
    "sentiment_fallback_items_per_s": _lazy("benchmarks.news", "sentiment_fallback_items_per_s"),
    "news_dedupe_items_per_s": _lazy("benchmarks.news", "news_dedupe_items_per_s"),
    "whale_scan_logs_per_s": _lazy("benchmarks.onchain", "whale_scan_logs_per_s"),
    "wallet_swaps_decode_per_s": _lazy("benchmarks.onchain", "wallet_swaps_decode_per_s"),
    "policy_evals_per_s": _lazy("benchmarks.policy", "policy_evals_per_s"),
    "policy_eval_p99_us": _lazy("benchmarks.policy", "policy_eval_p99_us"),
}
