"""The series catalog: the shipped file, defaults, and one clear line per kind of bad entry."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from drydock.catalog import load_catalog
from drydock.errors import ConfigError
from drydock.series import SeriesKey
from drydock.settings import REPO_ROOT, get_settings

GOOD = """
[[series]]
exchange = "Binance"
symbol = "btc/usdt"
timeframes = ["1h", "1m"]
start = 2024-01-01

[[series]]
exchange = "bybit"
symbol = "ETH/USDT:USDT"
timeframes = ["1h"]
start = 2024-02-01
end = 2024-02-29
mark_prices = false

[[series]]
exchange = "okx"
symbol = "SOL/USDT:USDT"
timeframes = ["4h"]
start = 2024-03-01
enabled = false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "series.toml"
    path.write_text(text)
    return path


def test_shipped_catalog_lists_the_bundled_series_and_perp() -> None:
    catalog = load_catalog(REPO_ROOT / "config" / "series.toml")
    assert catalog.series() == [
        SeriesKey("binance", "BTC/USDT", "1h"),
        SeriesKey("binance", "ETH/USDT", "1h"),
        SeriesKey("binance", "SOL/USDT", "1h"),
        SeriesKey("binance", "BTC/USDT:USDT", "1h"),
    ]
    starts = {e.symbol: e.start for e in catalog.entries if e.enabled}
    assert starts == {
        "BTC/USDT": date(2024, 1, 1),
        "ETH/USDT": date(2021, 1, 1),
        "SOL/USDT": date(2024, 9, 19),
        "BTC/USDT:USDT": date(2024, 1, 1),
    }
    [perp] = catalog.perps()
    assert perp.wants_funding and perp.wants_mark_prices
    assert len(catalog.series(enabled_only=False)) > len(catalog.series())


def test_entries_are_canonical_with_perp_defaults(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, GOOD))
    assert catalog.series() == [
        SeriesKey("binance", "BTC/USDT", "1h"),
        SeriesKey("binance", "BTC/USDT", "1m"),
        SeriesKey("bybit", "ETH/USDT:USDT", "1h"),
    ]
    spot, perp, _disabled = catalog.entries
    assert not spot.perp and not spot.wants_funding and not spot.wants_mark_prices
    assert perp.wants_funding and not perp.wants_mark_prices
    assert perp.covers(date(2024, 2, 29)) and not perp.covers(date(2024, 3, 1))
    assert not perp.covers(date(2024, 1, 31))
    assert [e.symbol for e in catalog.perps()] == ["ETH/USDT:USDT"]
    assert [e.symbol for e in catalog.perps(enabled_only=False)] == [
        "ETH/USDT:USDT",
        "SOL/USDT:USDT",
    ]
    assert catalog.entry(SeriesKey("binance", "BTC/USDT", "1m")) is spot
    assert catalog.entry(SeriesKey("binance", "BTC/USDT", "4h")) is None
    assert catalog.entry(SeriesKey("kraken", "BTC/USDT", "1h")) is None


def test_settings_name_the_catalog(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_settings().series_catalog == REPO_ROOT / "config" / "series.toml"
    monkeypatch.setenv("DRYDOCK_SERIES_CATALOG", str(home / "mine.toml"))
    write(home, GOOD).rename(home / "mine.toml")
    assert len(load_catalog().series()) == 3
    monkeypatch.setenv("DRYDOCK_SERIES_CATALOG", "config/series.toml")
    with pytest.raises(ConfigError, match=r"DRYDOCK_SERIES_CATALOG 'config/series\.toml' is a rel"):
        get_settings()


ENTRY = '[[series]]\nexchange = "binance"\nsymbol = "BTC/USDT"\ntimeframes = ["1h"]\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            ENTRY + "start = 2024-01-01\ncolour = 'red'\n",
            r"entry 1 \(BTC/USDT\), field 'colour': Extra inputs are not permitted; remove it",
        ),
        (
            ENTRY + "start = '2024-01-01'\n",
            r"entry 1 \(BTC/USDT\), field 'start': .*bare TOML date without quotes",
        ),
        (
            ENTRY + "start = 2024-01-01T00:00:00\n",
            r"field 'start': Input should be a valid date; write a bare TOML date",
        ),
        (
            ENTRY + "start = 2024-03-01\nend = 2024-02-01\n",
            r"entry 1 \(BTC/USDT\), field 'end': start 2024-03-01 is after end 2024-02-01; swap",
        ),
        (ENTRY, r"entry 1 \(BTC/USDT\), field 'start': Field required; add it"),
        (
            ENTRY + "start = 2024-01-01\nfunding = true\n",
            r"field 'funding': funding = true is only for perpetuals .* BTC/USDT is not one; remove funding",
        ),
        (
            ENTRY.replace('["1h"]', '["1hour"]') + "start = 2024-01-01\n",
            r"field 'timeframes': Invalid timeframe '1hour'",
        ),
        (
            ENTRY.replace('["1h"]', "[]") + "start = 2024-01-01\n",
            r"field 'timeframes': .*list at least one timeframe",
        ),
        (
            ENTRY.replace("BTC/USDT", "BTC_USDT") + "start = 2024-01-01\n",
            r"entry 1 \(BTC_USDT\), field 'symbol': Invalid symbol 'BTC_USDT'",
        ),
        (
            ENTRY
            + "start = 2024-01-01\n\n"
            + ENTRY.replace("BTC/USDT", "btc/usdt ")
            + "start = 2024-05-01\n",
            r"entry 2 \(btc/usdt \), field 'symbol': binance BTC/USDT is already listed by entry 1",
        ),
        (ENTRY + "start = 2024-01-01\nenabled = 'yes'\n", r"field 'enabled': .*true or false"),
        ("[series]\nexchange = 'binance'\n", r"'series' must be an array of tables"),
        ("version = 1\n", r"unknown top-level key\(s\) version"),
        (ENTRY + "start = \n", r"is not valid TOML: .*line 5, column 9.*Fix the syntax"),
    ],
)
def test_a_bad_catalog_is_one_line_naming_file_entry_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_catalog(path)
    text = str(info.value)
    assert text.startswith(f"Series catalog {path}")
    assert "\n" not in text
    assert info.match(message)


def test_a_missing_catalog_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist. Create it .*DRYDOCK_SERIES_CATALOG"):
        load_catalog(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"cannot be read"):
        load_catalog(tmp_path)
