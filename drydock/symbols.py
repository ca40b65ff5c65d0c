"""Canonical symbols, exchange ids, tokens and chains, validated before paths, globs, venues or rules.

Only the standard library and :mod:`drydock.errors` are imported: the CLI imports this module and
must start fast.

Every function takes ``strict``: by default text is NFKC-normalized and stripped (for what people
type: config files, CLI options); with ``strict=True`` (for what code builds: policy actions) only
the case may change, so a padded or fullwidth identifier is an error rather than silently fixed.

Assumption: the ccxt unified symbols of the venues Drydock supports are upper case, so symbols are
upper-cased after validation. A venue whose unified symbols contain lower-case letters is out of
scope until the market-data work adds per-exchange case handling.
"""

from __future__ import annotations

import re
import unicodedata

from drydock.errors import ConfigError

__all__ = [
    "ADDRESS_EXAMPLES",
    "CHAIN_EXAMPLES",
    "EXCHANGE_EXAMPLES",
    "SYMBOL_EXAMPLES",
    "TOKEN_EXAMPLES",
    "canonical_address",
    "canonical_chain",
    "canonical_exchange",
    "canonical_symbol",
    "canonical_token",
]

SYMBOL_EXAMPLES = "BTC/USDT, BTC/USDT:USDT, BTC/USDT:USDT-240628 or BTC/USD:BTC-240628-60000-C"
EXCHANGE_EXAMPLES = "binance, okx or gateio"
TOKEN_EXAMPLES = "USDC, WETH or 0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"
CHAIN_EXAMPLES = "ethereum, base, solana or 8453"

_PART = r"[A-Z0-9._]+"
_SYMBOL_RE = re.compile(
    rf"(?P<base>{_PART})/(?P<quote>{_PART})"
    rf"(?::(?P<settle>{_PART})"
    rf"(?:-(?P<expiry>{_PART})(?:-(?P<strike>{_PART})-(?P<right>[CP]))?)?)?"
)
_EXCHANGE_RE = re.compile(r"[a-z0-9_]+")
_TOKEN_RE = re.compile(r"[A-Z0-9._]+")
_ADDRESS_RE = re.compile(r"0x[0-9a-f]{40}")
_CHAIN_RE = re.compile(r"[a-z0-9_-]+")
_FORBIDDEN = {"*": "a glob character", "?": "a glob character", "[": "a glob character"}
_FORBIDDEN |= {"]": "a glob character", "\\": "a backslash"}


def _clean(raw: str, kind: str, examples: str, strict: bool = False) -> str:
    """NFKC-normalize and strip ``raw``, rejecting empty, control, format, non-ASCII (look-alikes
    such as Cyrillic U+0410 'A' or the dotless U+0131 that upper-cases to 'I') and unsafe characters."""
    if not isinstance(raw, str):
        raise ConfigError(f"Invalid {kind} {raw!r}: expected text. Example: {examples}.")
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise ConfigError(f"Invalid {kind} {raw!r}: it is empty. Example: {examples}.")
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Co", "Cs", "Cn"):
            problem = f"it contains the invisible or control character U+{ord(char):04X}"
        elif not char.isascii():
            problem = f"it contains the non-ASCII character {char!r} (U+{ord(char):04X})"
        elif char.isspace():
            problem = "it contains whitespace"
        elif char in _FORBIDDEN:
            problem = f"it contains {_FORBIDDEN[char]} {char!r}"
        else:
            continue
        raise ConfigError(f"Invalid {kind} {raw!r}: {problem}. Example: {examples}.")
    if ".." in text:
        raise ConfigError(f"Invalid {kind} {raw!r}: it contains '..'. Example: {examples}.")
    if strict and text != raw:
        raise ConfigError(
            f"Invalid {kind} {raw!r}: it is padded or not in plain form (e.g. fullwidth letters); "
            f"strict mode accepts only a case change. Pass {text!r}. Example: {examples}."
        )
    return text


def canonical_symbol(raw: str, strict: bool = False) -> str:
    """Validate a ccxt unified symbol and return it upper-cased, e.g. ' btc/usdt ' -> 'BTC/USDT'."""
    if isinstance(raw, str) and _SYMBOL_RE.fullmatch(raw) and ".." not in raw:
        return raw  # already canonical: the regex admits only upper-case ASCII
    symbol = _clean(raw, "symbol", SYMBOL_EXAMPLES, strict).upper()
    if _SYMBOL_RE.fullmatch(symbol) is None:
        raise ConfigError(
            f"Invalid symbol {raw!r}: expected the ccxt unified form BASE/QUOTE with optional "
            f":SETTLE, -EXPIRY and -STRIKE-C|P, parts made of A-Z, 0-9, '.' and '_'. "
            f"Example: {SYMBOL_EXAMPLES}."
        )
    return symbol


def canonical_exchange(raw: str, strict: bool = False) -> str:
    """Validate a ccxt exchange id and return it lower-cased, e.g. 'Binance' -> 'binance'."""
    if isinstance(raw, str) and _EXCHANGE_RE.fullmatch(raw):
        return raw
    exchange = _clean(raw, "exchange", EXCHANGE_EXAMPLES, strict).lower()
    if _EXCHANGE_RE.fullmatch(exchange) is None:
        raise ConfigError(
            f"Invalid exchange {raw!r}: expected a ccxt exchange id made of a-z, 0-9 and '_'. "
            f"Example: {EXCHANGE_EXAMPLES}."
        )
    return exchange


def canonical_token(raw: str, strict: bool = False) -> str:
    """Validate a token: a symbol upper-cased ('usdc' -> 'USDC') or an EVM address lower-cased.

    Addresses compare lower-case here; EIP-55 checksums are checked by the transaction rules.
    """
    token = _clean(raw, "token", TOKEN_EXAMPLES, strict)
    if token[:2].lower() == "0x":
        address = token.lower()
        if _ADDRESS_RE.fullmatch(address) is None:
            raise ConfigError(
                f"Invalid token {raw!r}: an address is 0x followed by 40 hex digits. "
                f"Example: {TOKEN_EXAMPLES}."
            )
        return address
    token = token.upper()
    if _TOKEN_RE.fullmatch(token) is None:
        raise ConfigError(
            f"Invalid token {raw!r}: expected a symbol made of A-Z, 0-9, '.' and '_', or an "
            f"address. Example: {TOKEN_EXAMPLES}."
        )
    return token


def canonical_chain(raw: str, strict: bool = False) -> str:
    """Validate a chain name or numeric id and return it lower-cased, e.g. 'Base' -> 'base'."""
    chain = _clean(raw, "chain", CHAIN_EXAMPLES, strict).lower()
    if _CHAIN_RE.fullmatch(chain) is None:
        raise ConfigError(
            f"Invalid chain {raw!r}: expected a name or id made of a-z, 0-9, '_' and '-'. "
            f"Example: {CHAIN_EXAMPLES}."
        )
    return chain


ADDRESS_EXAMPLES = (
    "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913 (EVM) or "
    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA (Solana)"
)
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_RE = re.compile(f"[{_BASE58}]{{32,44}}")
_HEX_ADDRESS_RE = re.compile(r"0[xX][0-9a-fA-F]{40}")


def _base58_length(text: str) -> int:
    """Number of bytes ``text`` decodes to in Bitcoin base58 (leading '1's are zero bytes)."""
    number = 0
    for char in text:
        number = number * 58 + _BASE58.index(char)
    zeros = len(text) - len(text.lstrip("1"))
    return zeros + (number.bit_length() + 7) // 8


def _eip55_ok(address: str) -> bool:
    """Whether a mixed-case EVM address carries a valid EIP-55 checksum."""
    from eth_utils.address import to_checksum_address  # core dependency (web3); lazy

    return bool(to_checksum_address(address.lower()) == address)


def canonical_address(raw: str, strict: bool = False) -> str:
    """Validate an EVM or Solana address: EVM lower-cased (a mixed-case one must pass EIP-55),
    Solana base58 kept as is (case-sensitive) and required to decode to 32 bytes."""
    text = _clean(raw, "address", ADDRESS_EXAMPLES, strict)
    if text[:2] in ("0x", "0X"):
        if _HEX_ADDRESS_RE.fullmatch(text) is None:
            raise ConfigError(
                f"Invalid address {raw!r}: an EVM address is 0x followed by 40 hex digits. "
                f"Example: {ADDRESS_EXAMPLES}."
            )
        body = text[2:]
        if body != body.lower() and body != body.upper() and not _eip55_ok("0x" + body):
            raise ConfigError(
                f"Invalid address {raw!r}: its mixed case is not a valid EIP-55 checksum (a typo "
                f"or a look-alike). Copy the address again. Example: {ADDRESS_EXAMPLES}."
            )
        return "0x" + body.lower()
    if _BASE58_RE.fullmatch(text) is None or _base58_length(text) != 32:
        raise ConfigError(
            f"Invalid address {raw!r}: expected 0x + 40 hex digits (EVM) or a base58 public key "
            f"of 32 bytes (Solana). Example: {ADDRESS_EXAMPLES}."
        )
    return text
