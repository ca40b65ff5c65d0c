"""Per-symbol lot, tick and min notional from the bundled ccxt markets files."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from drydock.errors import ConfigError, DrydockError
from drydock.markets import instrument_for, load_markets
from drydock.settings import REPO_ROOT

CCXT_STATIC = REPO_ROOT / "tests" / "fixtures" / "ccxt_static_markets_binance_BTC_ETH_USDT.json"


@pytest.mark.parametrize(
    ("symbol", "lot", "tick"),
    [
        ("BTC/USDT", "0.00001", "0.01"),
        ("ETH/USDT", "0.0001", "0.01"),
        ("SOL/USDT", "0.001", "0.01"),
    ],
)
def test_bundled_binance_markets(symbol: str, lot: str, tick: str) -> None:
    inst = instrument_for("binance", symbol)
    assert (inst.lot_size, inst.tick_size, inst.min_notional) == (
        Decimal(lot),
        Decimal(tick),
        Decimal(5),
    )
    assert (inst.venue, inst.symbol, inst.base, inst.quote) == (
        "binance",
        symbol,
        symbol.split("/")[0],
        "USDT",
    )
    assert inst.round_qty(Decimal("1.234567")) <= Decimal("1.234567")


def test_overrides_replace_single_increments() -> None:
    inst = instrument_for("binance", "BTC/USDT", {"lot_size": 0.001, "min_notional": 0})
    assert (inst.lot_size, inst.tick_size, inst.min_notional) == (
        Decimal("0.001"),
        Decimal("0.01"),
        Decimal(0),
    )
    with pytest.raises(ConfigError, match="Unknown instrument override"):
        instrument_for("binance", "BTC/USDT", {"lot": 1})


def test_unknown_market_names_symbol_exchange_known_markets_and_the_override() -> None:
    with pytest.raises(DrydockError) as err:
        instrument_for("binance", "DOGE/USDT")
    message = str(err.value)
    assert "No market metadata for DOGE/USDT on binance" in message
    assert "BTC/USDT, BTC/USDT:USDT, ETH/USDT, SOL/USDT" in message
    assert "--lot-size" in message and "--min-notional" in message
    with pytest.raises(DrydockError, match=r"bundled exchanges: \['binance', 'kraken'\]"):
        instrument_for("coinbase", "BTC/USD")
    full = {"lot_size": 1.0, "tick_size": 0.0001, "min_notional": 1.0}
    doge = instrument_for("coinbase", "DOGE/USD", full)
    assert (doge.lot_size, doge.quote) == (Decimal(1), "USD")


def _write(folder: Path, mode: str) -> Path:
    markets = json.loads(CCXT_STATIC.read_text(encoding="utf-8"))
    doc = {"exchange": "binance", "precisionMode": mode, "markets": markets}
    (folder / "binance.json").write_text(json.dumps(doc), encoding="utf-8")
    return folder


def test_ccxt_static_file_reads_as_decimal_places_and_agrees_with_the_bundle(
    tmp_path: Path,
) -> None:
    """ccxt's static binance.json writes precision as decimals (amount 5), not tick sizes."""
    folder = _write(tmp_path, "DECIMAL_PLACES")
    for symbol in ("BTC/USDT", "ETH/USDT"):
        assert instrument_for("binance", symbol, folder=folder) == instrument_for("binance", symbol)
    assert load_markets("binance", folder)[0] == "DECIMAL_PLACES"


def test_wrong_precision_mode_is_caught_by_the_raw_filters(tmp_path: Path) -> None:
    """Read as TICK_SIZE, ccxt's static file would make BTC's lot 5 BTC: the LOT_SIZE filter says no."""
    folder = _write(tmp_path, "TICK_SIZE")
    with pytest.raises(ConfigError, match=r"lot size 5 disagrees with the raw exchange filter"):
        instrument_for("binance", "BTC/USDT", folder=folder)


def test_a_markets_file_without_precision_mode_is_refused(tmp_path: Path) -> None:
    (tmp_path / "okx.json").write_text('{"markets": {}}', encoding="utf-8")
    with pytest.raises(ConfigError, match="precisionMode"):
        instrument_for("okx", "BTC/USDT", folder=tmp_path)


def test_the_bundled_perpetual_reads_as_a_perp_with_its_own_increments() -> None:
    perp = instrument_for("binance", "BTC/USDT:USDT")
    assert perp.kind.value == "perp"
    assert (perp.lot_size, perp.tick_size, perp.min_notional) == (
        Decimal("0.001"), Decimal("0.1"), Decimal("100"),
    )  # fmt: skip
