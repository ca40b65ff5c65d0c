"""Every library strategy: incremental form equals vectorized form, and no lookahead."""

from __future__ import annotations

import polars as pl
import pytest

from drydock.errors import ConfigError, DrydockError
from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample
from strategies import IncrementalRunner, get_strategy, strategy_ids
from strategies.base import iter_bars

BTC = SeriesKey("binance", "BTC/USDT", "1h")
ETH = SeriesKey("binance", "ETH/USDT", "1h")


@pytest.mark.parametrize("strategy_id", strategy_ids())
@pytest.mark.parametrize("key", [BTC, ETH], ids=str)
def test_incremental_matches_vectorized(strategy_id: str, key: SeriesKey) -> None:
    strategy = get_strategy(strategy_id)
    params = strategy.resolve_params()
    frame = read_sample(key)
    vectorized = strategy.signals(frame, params)["target"].to_list()
    state = strategy.init_state(params)
    incremental = [strategy.step(state, bar, params) for bar in iter_bars(frame)]
    assert incremental == vectorized
    if not strategy.event_kinds:  # an event-driven strategy trades on events (tests/live)
        assert 0 < sum(t != 0 for t in vectorized) < len(vectorized)  # it actually trades


@pytest.mark.parametrize("strategy_id", strategy_ids())
def test_no_lookahead(strategy_id: str) -> None:
    """The target at bar t is the same whether or not later bars exist."""
    strategy = get_strategy(strategy_id)
    params = strategy.resolve_params()
    frame = read_sample(BTC).head(3000)
    full = strategy.signals(frame, params)["target"]
    for cut in range(strategy.warmup(params), frame.height, 97):
        truncated = strategy.signals(frame.head(cut + 1), params)["target"]
        assert truncated[-1] == full[cut], f"lookahead at bar {cut}"


def test_runner_emits_intents_on_target_changes() -> None:
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params({"fast": "5", "slow": "20"})
    frame = read_sample(BTC).head(500)
    targets = strategy.signals(frame, params)["target"].to_list()
    runner = IncrementalRunner(strategy, params, "BTC/USDT")
    intents = [i for bar in iter_bars(frame) for i in runner.on_bar(bar)]
    changes = sum(1 for a, b in zip([0.0, *targets], targets, strict=False) if a != b)
    assert len(intents) == changes > 0
    assert [i.side.value for i in intents[:2]] == ["buy", "sell"]


def test_warmup_is_flat() -> None:
    strategy = get_strategy("ema_cross")
    params = strategy.resolve_params({"slow": "50"})
    targets = strategy.signals(read_sample(BTC).head(200), params)["target"]
    assert targets.head(49).sum() == 0


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"fast": "abc"}, "is not a number"),
        ({"fast": "nan"}, "is not finite"),
        ({"slow": "inf"}, "is not finite"),
        ({"fast": "-1e309"}, "is not finite"),
        ({"fast": "1"}, "allowed 2..100"),
        ({"fast": "2.5"}, "whole number"),
        ({"speed": "3"}, "Valid parameters: fast, slow"),
        ({"fast": "30", "slow": "20"}, "fast < slow"),
    ],
)
def test_bad_params_are_clear_errors(overrides: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        get_strategy("ema_cross").resolve_params(overrides)


def test_unknown_strategy_lists_choices() -> None:
    with pytest.raises(DrydockError, match="Valid choices: copy_wallet, ema_cross"):
        get_strategy("ema_crossover")


def test_signals_keep_input_columns() -> None:
    frame = read_sample(BTC).head(50)
    out = get_strategy("ema_cross").signals(frame, get_strategy("ema_cross").resolve_params())
    assert out.columns == [*frame.columns, "target"]
    assert out["target"].dtype == pl.Float64
