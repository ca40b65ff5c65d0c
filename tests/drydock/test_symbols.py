"""Symbols and exchange ids are validated and canonicalized before they reach paths or venues."""

from __future__ import annotations

import pytest

from drydock.errors import ConfigError
from drydock.symbols import canonical_chain, canonical_exchange, canonical_symbol, canonical_token


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("BTC/USDT", "BTC/USDT"),
        (" btc/usdt ", "BTC/USDT"),
        ("1000PEPE/USDT", "1000PEPE/USDT"),
        ("1000_PEPE/USDT", "1000_PEPE/USDT"),
        ("BTC/USDT:USDT", "BTC/USDT:USDT"),
        ("BTC/USDT:USDT-240628", "BTC/USDT:USDT-240628"),
        ("BTC/USD:BTC-240628-60000-C", "BTC/USD:BTC-240628-60000-C"),
        ("ETH/USD:ETH-240628-3500.5-P", "ETH/USD:ETH-240628-3500.5-P"),
        ("\uff22\uff34\uff23\uff0f\uff35\uff33\uff24\uff34", "BTC/USDT"),  # fullwidth, NFKC
    ],
)
def test_valid_symbols_are_canonical(raw: str, expected: str) -> None:
    assert canonical_symbol(raw) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("BTC/US*", "glob character '*'"),
        ("BTC/US?T", "glob character '?'"),
        ("BTC/[EU]SDT", "glob character '['"),
        ("BTC/USDT]", "glob character ']'"),
        ("BTC\\USDT", "backslash"),
        ("BTC/USDT\u200b", "U+200B"),
        ("BTC/\x00USDT", "U+0000"),
        ("BTC /USDT", "whitespace"),
        ("../USDT", "'..'"),
        ("BTCUSDT", "ccxt unified form"),
        ("BTC/USDT/ETH", "ccxt unified form"),
        ("BTC/USDT-240628", "ccxt unified form"),
        ("BTC/USD:BTC-240628-60000-X", "ccxt unified form"),
        ("BTC/US$T", "ccxt unified form"),
    ],
)
def test_invalid_symbols_name_input_problem_and_example(raw: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        canonical_symbol(raw)
    text = str(err.value)
    assert repr(raw) in text
    assert problem in text
    assert "Example: BTC/USDT" in text


def test_exchange_ids() -> None:
    assert canonical_exchange(" Binance ") == "binance"
    assert canonical_exchange("gate_io2") == "gate_io2"
    for bad in ("", "bin ance", "binance*", "bin-ance", "okx\u200d", "../x"):
        with pytest.raises(ConfigError, match="Invalid exchange"):
            canonical_exchange(bad)


@pytest.mark.parametrize(
    "raw",
    [
        "B\u0422C/USDT",  # Cyrillic TE looks like T
        "b\u0131tcoin/USDT",  # dotless i upper-cases to a Latin I
        "\u0392TC/USDT",  # Greek BETA
    ],
)
def test_non_ascii_look_alikes_are_rejected(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"non-ASCII character"):
        canonical_symbol(raw)


def test_strict_mode_allows_only_a_case_change() -> None:
    assert canonical_symbol("eth/usdt", strict=True) == "ETH/USDT"
    assert canonical_exchange("Binance", strict=True) == "binance"
    for raw in ("BTC/USDT ", " BTC/USDT", "\uff22\uff34\uff23/USDT"):
        with pytest.raises(ConfigError, match=r"padded or not in plain form.*Pass 'BTC/USDT'"):
            canonical_symbol(raw, strict=True)
    with pytest.raises(ConfigError, match="padded"):
        canonical_exchange(" binance", strict=True)


def test_tokens() -> None:
    assert canonical_token(" usdc ") == "USDC"
    assert canonical_token("wstETH") == "WSTETH"
    address = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
    assert canonical_token(address) == address.lower()
    for bad, problem in [("0xdead", "40 hex digits"), ("US DC", "whitespace"), ("USD$", "A-Z")]:
        with pytest.raises(ConfigError, match=problem):
            canonical_token(bad)


def test_chains() -> None:
    assert canonical_chain("Base") == "base"
    assert canonical_chain("8453") == "8453"
    assert canonical_chain("arbitrum-one") == "arbitrum-one"
    for bad in ("", "ba se", "base\u200b", "ba/se"):
        with pytest.raises(ConfigError, match="Invalid chain"):
            canonical_chain(bad)
