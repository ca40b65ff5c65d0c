"""The benchmark harness: figure selection by exact name, the JSON line, the median, the data."""

from __future__ import annotations

import json
from collections.abc import Iterator

import polars as pl
import pytest

from benchmarks import __main__ as cli
from benchmarks import harness, registry
from benchmarks.data import BTC_1H, minute_bars
from benchmarks.harness import FIELDS, Figure, median_time
from drydock.quality import check_bars
from drydock.sample import read_sample


def test_median_time_drops_the_warm_up_and_takes_the_median(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock: Iterator[float] = iter([0.0, 3.0, 10.0, 11.0, 20.0, 22.0])  # durations 3, 1, 2
    monkeypatch.setattr(harness.time, "perf_counter", lambda: next(clock))
    calls: list[int] = []
    assert median_time(lambda: calls.append(1), repeat=3) == 2.0
    assert len(calls) == 4  # one warm-up call, untimed
    with pytest.raises(ValueError, match="repeat must be at least 1"):
        median_time(lambda: None, repeat=0)


def test_figure_line_has_exactly_the_six_keys() -> None:
    line = Figure("x_ratio", 12.5, "x", 1.0, 12.5, 100_000).json()
    assert json.loads(line) == {
        "name": "x_ratio", "value": 12.5, "unit": "x", "baseline": 1.0, "ratio": 12.5, "n": 100_000
    }  # fmt: skip
    assert tuple(json.loads(line)) == FIELDS


def test_only_selects_figures_by_exact_name_and_is_repeatable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = {name: (lambda n=name: Figure(n, 1.0, "x", 1.0, 1.0, 1)) for name in ("a", "ab", "b")}
    monkeypatch.setattr(registry, "FIGURES", fake)
    assert cli.main(["--only", "ab", "--only", "b"]) == 0
    assert [json.loads(line)["name"] for line in capsys.readouterr().out.splitlines()] == [
        "ab",
        "b",
    ]
    assert cli.main([]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_unknown_name_is_an_error_listing_the_valid_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--only", "backtest"])  # the old short name is no longer a figure
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "unknown figure 'backtest'" in err
    assert "backtest_vs_python_loop_ratio, sweep_bar_params_per_s" in err


def test_minute_bars_follow_the_hourly_sample_and_are_deterministic() -> None:
    bars = minute_bars(120_000)
    hourly = read_sample(BTC_1H).head(2_000)
    assert bars.height == 120_000
    q = check_bars(bars, "1m")
    assert (q.bars, q.duplicates, q.missing, q.invalid, q.misaligned) == (120_000, 0, 0, 0, 0)
    assert bars["open"].gather_every(60).to_list() == hourly["open"].to_list()
    assert bars["close"].gather_every(60, offset=59).to_list() == hourly["close"].to_list()
    assert bars["ts"].gather_every(60).to_list() == hourly["ts"].to_list()
    assert minute_bars(120_000).equals(bars)  # same seed, same bars
    assert not minute_bars(120_000, seed=1).equals(bars)
    assert bars.select((pl.col("high") >= pl.max_horizontal("open", "close")).all()).item()


def test_minute_bars_beyond_the_sample_name_the_limit() -> None:
    limit = read_sample(BTC_1H).height * 60
    with pytest.raises(ValueError, match=f"at most {limit:,} bars"):
        minute_bars(limit + 1)
