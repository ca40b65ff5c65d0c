"""Canonical market symbols and exchange ids, validated before they reach paths, globs or venues.

Only the standard library and :mod:`drydock.errors` are imported: the CLI imports this module and
must start fast.

Assumption: the ccxt unified symbols of the venues Drydock supports are upper case, so symbols are
upper-cased after validation. A venue whose unified symbols contain lower-case letters is out of
scope until the market-data work adds per-exchange case handling.
"""

from __future__ import annotations

import re
import unicodedata

from drydock.errors import ConfigError

SYMBOL_EXAMPLES = "BTC/USDT, BTC/USDT:USDT, BTC/USDT:USDT-240628 or BTC/USD:BTC-240628-60000-C"
EXCHANGE_EXAMPLES = "binance, okx or gateio"

_PART = r"[A-Z0-9._]+"
_SYMBOL_RE = re.compile(
    rf"(?P<base>{_PART})/(?P<quote>{_PART})"
    rf"(?::(?P<settle>{_PART})"
    rf"(?:-(?P<expiry>{_PART})(?:-(?P<strike>{_PART})-(?P<right>[CP]))?)?)?"
)
_EXCHANGE_RE = re.compile(r"[a-z0-9_]+")
_FORBIDDEN = {"*": "a glob character", "?": "a glob character", "[": "a glob character"}
_FORBIDDEN |= {"]": "a glob character", "\\": "a backslash"}


def _clean(raw: str, kind: str, examples: str) -> str:
    """NFKC-normalize and strip ``raw``, rejecting empty, control, format and unsafe characters."""
    if not isinstance(raw, str):
        raise ConfigError(f"Invalid {kind} {raw!r}: expected text. Example: {examples}.")
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise ConfigError(f"Invalid {kind} {raw!r}: it is empty. Example: {examples}.")
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Co", "Cs", "Cn"):
            problem = f"it contains the invisible or control character U+{ord(char):04X}"
        elif char.isspace():
            problem = "it contains whitespace"
        elif char in _FORBIDDEN:
            problem = f"it contains {_FORBIDDEN[char]} {char!r}"
        else:
            continue
        raise ConfigError(f"Invalid {kind} {raw!r}: {problem}. Example: {examples}.")
    if ".." in text:
        raise ConfigError(f"Invalid {kind} {raw!r}: it contains '..'. Example: {examples}.")
    return text


def canonical_symbol(raw: str) -> str:
    """Validate a ccxt unified symbol and return it upper-cased, e.g. ' btc/usdt ' -> 'BTC/USDT'."""
    symbol = _clean(raw, "symbol", SYMBOL_EXAMPLES).upper()
    if _SYMBOL_RE.fullmatch(symbol) is None:
        raise ConfigError(
            f"Invalid symbol {raw!r}: expected the ccxt unified form BASE/QUOTE with optional "
            f":SETTLE, -EXPIRY and -STRIKE-C|P, parts made of A-Z, 0-9, '.' and '_'. "
            f"Example: {SYMBOL_EXAMPLES}."
        )
    return symbol


def canonical_exchange(raw: str) -> str:
    """Validate a ccxt exchange id and return it lower-cased, e.g. 'Binance' -> 'binance'."""
    exchange = _clean(raw, "exchange", EXCHANGE_EXAMPLES).lower()
    if _EXCHANGE_RE.fullmatch(exchange) is None:
        raise ConfigError(
            f"Invalid exchange {raw!r}: expected a ccxt exchange id made of a-z, 0-9 and '_'. "
            f"Example: {EXCHANGE_EXAMPLES}."
        )
    return exchange
