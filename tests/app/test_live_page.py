"""The Live page lists journaled replay runs with their orders, fills and policy decisions."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from drydock.ohlcv import SeriesKey, write_day
from drydock.sample import read_sample, sample_days
from drydock.settings import REPO_ROOT
from live.replay import replay

pytestmark = pytest.mark.integration  # Streamlit AppTest over paper replays

PAGE = str(REPO_ROOT / "app" / "pages" / "2_Live.py")
BTC = SeriesKey("binance", "BTC/USDT", "1h")
PARAMS = {"fast": "5", "slow": "20"}


@pytest.fixture
def btc_days(home: Path) -> SeriesKey:
    """The first six UTC days of the BTC 1h sample in the test's lake."""
    frame = read_sample(BTC)
    for day in sample_days(BTC)[:6]:
        write_day(BTC, day, frame.filter(pl.col("ts").dt.date() == day))
    return BTC


def test_no_journal_says_what_to_run(home: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert "drydock live replay" in at.info[0].value
    assert not (home / "live" / "journal.sqlite").exists()  # the page did not create one


def test_runs_with_orders_fills_and_a_denied_rule(btc_days: SeriesKey, tmp_path: Path) -> None:
    traded = replay("ema_cross", PARAMS, "binance", "BTC/USDT", "1h", run_id="traded")
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "tight"\n[risk]\nmax_order_notional_usd = 1000\n', "utf-8")
    guarded = replay(
        "ema_cross", PARAMS, "binance", "BTC/USDT", "1h", policy_path=policy, run_id="guarded"
    )
    assert traded.orders > 0 and guarded.denied > 0 and guarded.orders == 0

    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    runs = at.dataframe[0].value.set_index("run_id")
    assert set(runs.index) == {"traded", "guarded"}
    assert runs.loc["traded", "orders"] == traded.orders
    assert runs.loc["traded", "fills"] == traded.fills
    assert runs.loc["traded", "denied"] == 0
    assert runs.loc["guarded", "denied"] == guarded.denied
    assert runs.loc["guarded", "orders"] == runs.loc["guarded", "fills"] == 0
    assert runs.loc["guarded", "policy"] == "tight"
    assert bool(runs.loc["traded", "finished"]) is True

    at.selectbox[0].select("traded").run()
    decisions, orders, fills = (at.dataframe[i].value for i in (1, 2, 3))
    assert (decisions["verdict"] == "allow").sum() == traded.allowed
    assert len(orders) == traded.orders and len(fills) == traded.fills
    assert orders["client_order_id"].tolist() == fills["client_order_id"].tolist()
    assert orders["side"].tolist()[:2] == ["buy", "sell"]
    assert orders["filled"].tolist() == orders["qty"].tolist()  # paper fills the whole order
    assert set(orders["symbol"]) == set(fills["symbol"]) == {"BTC/USDT"}
    # fees for people: quote currency to 4 decimals, not the Decimal's 14
    assert fills["fee"].str.fullmatch(r"[\d,]+\.\d{4}").all()

    at.selectbox[0].select("guarded").run()
    assert not at.exception
    decisions, orders, fills = (at.dataframe[i].value for i in (1, 2, 3))
    denied = decisions[decisions["verdict"] == "deny"]
    assert len(denied) == guarded.denied
    assert set(denied["rule_id"]) == {"risk.max_order_notional"}
    assert denied["message"].str.contains("exceeds the cap 1,000.00 USD").all()
    assert len(orders) == len(fills) == 0
