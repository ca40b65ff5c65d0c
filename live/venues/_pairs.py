"""The pairs a chain venue trades: an order symbol (the series', e.g. ``ETH/USDC``) mapped to the
two tokens it swaps (e.g. ``WETH`` and ``USDC``), checked once when the venue is configured."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Any

from drydock.errors import ConfigError
from drydock.symbols import canonical_symbol


def resolve_pairs(
    pairs: Mapping[str, Sequence[str]] | Sequence[str], tokens: Mapping[str, Any]
) -> dict[str, tuple[str, str]]:
    """``{symbol: (base token, quote token)}``; a bare ``BASE/QUOTE`` names its own tokens."""
    given = pairs.items() if isinstance(pairs, Mapping) else ((p, p.split("/")) for p in pairs)
    out: dict[str, tuple[str, str]] = {}
    for symbol, sides in given:
        sides = tuple(sides)
        base, quote = sides if len(sides) == 2 else ("", "")
        missing = [s for s in (base, quote) if s not in tokens]
        if canonical_symbol(symbol, strict=True) != symbol or ":" in symbol or missing or not base:
            raise ConfigError(
                f"Pair {symbol!r} -> {list(sides)} needs a spot symbol BASE/QUOTE and two of the "
                f"configured tokens ({', '.join(sorted(tokens)) or 'none'}); "
                f"missing: {', '.join(missing) or '-'}."
            )
        out[symbol] = (base, quote)
    return out


def sides(symbol: str) -> tuple[str, str]:
    """The symbol's own base and quote names (what the journal and reconciliation use)."""
    base, _, quote = symbol.partition("/")
    return base, quote


def to_raw(amount: Decimal, decimals: int) -> int:
    """Whole units to raw token units, rounded down (never spend or promise more)."""
    return int((amount * (Decimal(10) ** decimals)).to_integral_value(ROUND_DOWN))


def from_raw(raw: int, decimals: int) -> Decimal:
    """Raw token units to whole units."""
    return Decimal(raw).scaleb(-decimals)


def shown(raw: int, decimals: int) -> str:
    """Raw token units as a plain decimal for messages."""
    return f"{from_raw(raw, decimals).normalize():f}"
