"""``drydock portfolio`` and the weight schemes: BTC + SOL with one cash balance on the tmp lake,
logged to MLflow; bad input refused in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from drydock.cli import main
from drydock.errors import ConfigError
from drydock.series import SeriesKey
from drydock.settings import Settings
from strategies.rebalance import inverse_volatility_weights, scheme_weights

SYMBOLS = ("BTC/USDT", "SOL/USDT")


@pytest.fixture
def pair_lake(home: Path) -> list[SeriesKey]:
    """BTC and SOL 1h bars of the bundled sample's common window (1,000 bars of 2024)."""
    from drydock import ohlcv
    from drydock.sample import read_sample

    keys = [SeriesKey("binance", s, "1h") for s in SYMBOLS]
    for key in keys:
        frame = read_sample(key).filter(pl.col("ts") >= pl.datetime(2024, 9, 19, time_zone="UTC"))
        for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
            ohlcv.write_day(key, day, part)  # type: ignore[arg-type]
    return keys


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["drydock", "portfolio", *args])
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as done:
        main()
    return int(done.value.code or 0)


@pytest.mark.integration
def test_inverse_vol_portfolio_from_the_cli_is_logged(
    pair_lake: list[SeriesKey], settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code = run(monkeypatch, "-s", "BTC/USDT", "-s", "SOL/USDT", "--scheme", "inverse_vol",
               "--lookback", "72", "--every", "24", "--band", "10", "--close-at-end")  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1000 common bars" in out and "orders BTC/USDT" in out and "still open" not in out
    client = MlflowClient(settings.mlflow_tracking_uri)
    [logged] = client.search_runs(client.get_experiment_by_name("simulations").experiment_id)
    assert logged.data.params["symbols"] == "BTC/USDT,SOL/USDT"
    assert logged.data.params["scheme.scheme"] == "inverse_vol"
    assert logged.data.tags["drydock.kind"] == "portfolio"
    assert len(logged.data.tags["data_fingerprint"].split(",")) == 2
    assert logged.data.metrics["orders"] > 40 and logged.data.metrics["fees_paid"] > 0
    assert {a.path for a in client.list_artifacts(logged.info.run_id)} == {
        "equity.parquet",
        "orders.parquet",
    }


@pytest.mark.integration
def test_bad_portfolio_input_is_one_line(
    pair_lake: list[SeriesKey], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert run(monkeypatch, "-s", "BTC/USDT", "-s", "SOL/USDT", "--scheme", "fixed",
               "--weights", "0.6", "--no-track") == 2  # fmt: skip
    assert "one weight per asset (2)" in capsys.readouterr().err
    assert run(monkeypatch, "-s", "BTC/USDT", "-s", "SOL/USDT", "--scheme", "fixed",
               "--weights", "0.9,0.9", "--no-track") == 2  # fmt: skip
    assert "gross exposure of 1.8" in capsys.readouterr().err
    assert run(monkeypatch, "-s", "BTC/USDT", "-s", "btc/usdt", "--no-track") == 2
    assert "name each asset once" in capsys.readouterr().err


def test_inverse_volatility_is_causal_and_sums_to_gross() -> None:
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, [0.01, 0.03], (300, 2)), axis=0))
    w = inverse_volatility_weights(closes, lookback=48, every=12, gross=0.9)
    assert (w[:48] == 0).all()
    assert np.allclose(w[48:].sum(axis=1), 0.9)
    assert (w[48:, 0] > w[48:, 1]).all()  # the calmer asset gets more
    # causal: changing the future does not change the past rows
    later = closes.copy()
    later[200:] *= 3
    assert np.array_equal(inverse_volatility_weights(later, 48, 12, 0.9)[:200], w[:200])
    # held between rebalancing dates
    assert np.array_equal(w[49], w[48]) and not np.array_equal(w[60], w[59])


def test_scheme_errors_name_the_fix() -> None:
    closes = np.ones((10, 2))
    with pytest.raises(ConfigError, match="not one of equal, fixed, inverse_vol"):
        scheme_weights("momentum", closes)
    with pytest.raises(ConfigError, match="lookback >= 2"):
        scheme_weights("inverse_vol", closes, lookback=1)
    assert scheme_weights("equal", closes, gross=0.5)[0].tolist() == [0.25, 0.25]
