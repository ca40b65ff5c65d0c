"""Per-symbol market metadata from ccxt ``markets`` fixtures: lot size, tick size, min notional.

Bundled exchanges live in ``data/sample/markets/<exchange>.json`` (see its PROVENANCE.md). A
market becomes an :class:`~drydock.types.Instrument`: lot from ``precision.amount`` (falling back
to ``limits.amount.min``), tick from ``precision.price``, min notional from ``limits.cost.min``,
read according to the file's ccxt ``precisionMode`` (TICK_SIZE or DECIMAL_PLACES).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from drydock.errors import ConfigError, DrydockError
from drydock.settings import get_settings
from drydock.types import Instrument, InstrumentKind

__all__ = [
    "OVERRIDE_FLAGS",
    "PRECISION_MODES",
    "instrument_for",
    "known_exchanges",
    "load_markets",
    "market_to_instrument",
    "markets_dir",
]

PRECISION_MODES = ("TICK_SIZE", "DECIMAL_PLACES")
OVERRIDE_FLAGS = "--lot-size, --tick-size and --min-notional"


def markets_dir() -> Path:
    """Folder of the bundled ccxt markets files."""
    return get_settings().sample_dir / "markets"


@cache
def _load(path: Path) -> tuple[str, dict[str, Any]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    mode = doc.get("precisionMode")
    if mode not in PRECISION_MODES or not isinstance(doc.get("markets"), dict):
        raise ConfigError(
            f"Markets file {path} needs 'precisionMode' (one of {', '.join(PRECISION_MODES)}) and "
            "a 'markets' object keyed by ccxt symbol; see data/sample/markets/PROVENANCE.md."
        )
    return mode, doc["markets"]


def load_markets(exchange: str, folder: Path | None = None) -> tuple[str, dict[str, Any]]:
    """(precisionMode, markets) of ``exchange`` from its bundled file ({} if there is none)."""
    path = (folder or markets_dir()) / f"{exchange}.json"
    if not path.exists():
        return "TICK_SIZE", {}
    return _load(path)


def known_exchanges(folder: Path | None = None) -> list[str]:
    """Exchanges with a bundled markets file."""
    return sorted(p.stem for p in (folder or markets_dir()).glob("*.json"))


def _step(value: Any, mode: str) -> Decimal | None:
    """A ccxt precision value as a step size (10**-value in DECIMAL_PLACES mode)."""
    if value is None:
        return None
    if mode == "DECIMAL_PLACES":
        return Decimal(1).scaleb(-int(value))
    return Decimal(str(value))


def _filter(market: Mapping[str, Any], kind: str, field: str) -> Decimal | None:
    for f in market.get("info", {}).get("filters", []) or []:
        if f.get("filterType") == kind and f.get(field) is not None:
            return Decimal(str(f[field]))
    return None


def market_to_instrument(exchange: str, market: Mapping[str, Any], mode: str) -> Instrument:
    """One ccxt market as an Instrument, cross-checked against Binance-style raw filters."""
    precision = market.get("precision", {}) or {}
    limits = market.get("limits", {}) or {}
    lot = _step(precision.get("amount"), mode) or _step((limits.get("amount") or {}).get("min"), "")
    tick = _step(precision.get("price"), mode)
    cost_min = (limits.get("cost") or {}).get("min")
    symbol = str(market["symbol"])
    if lot is None or tick is None or lot <= 0 or tick <= 0:
        raise ConfigError(
            f"Market {symbol} of {exchange} has no usable precision.amount/precision.price "
            f"({precision!r}); pass {OVERRIDE_FLAGS} to trade it."
        )
    for name, unified, raw in (
        ("lot size", lot, _filter(market, "LOT_SIZE", "stepSize")),
        ("tick size", tick, _filter(market, "PRICE_FILTER", "tickSize")),
    ):
        if raw is not None and raw > 0 and raw != unified:
            raise ConfigError(
                f"Market {symbol} of {exchange}: unified {name} {unified} disagrees with the raw "
                f"exchange filter {raw} (precisionMode {mode} wrong in the markets file?)."
            )
    kind = InstrumentKind.PERP if market.get("swap") else InstrumentKind.SPOT
    return Instrument(
        venue=exchange,
        symbol=symbol,
        base=str(market.get("base", symbol.split("/")[0])),
        quote=str(market.get("quote", "")),
        kind=kind,
        tick_size=tick,
        lot_size=lot,
        min_notional=Decimal(str(cost_min)) if cost_min is not None else Decimal(0),
    )


def _apply(instrument: Instrument, overrides: Mapping[str, float]) -> Instrument:
    """``instrument`` with the given increments replaced."""

    def pick(name: str) -> Decimal:
        value = overrides.get(name)
        return Decimal(str(value)) if value is not None else Decimal(getattr(instrument, name))

    return replace(
        instrument,
        tick_size=pick("tick_size"),
        lot_size=pick("lot_size"),
        min_notional=pick("min_notional"),
    )


def instrument_for(
    exchange: str,
    symbol: str,
    overrides: Mapping[str, float] | None = None,
    folder: Path | None = None,
) -> Instrument:
    """The Instrument of ``symbol`` on ``exchange``, with ``lot_size``/``tick_size``/``min_notional``
    overrides applied; a clear error when the market is unknown and not fully overridden."""
    overrides = dict(overrides or {})
    unknown_keys = set(overrides) - {"lot_size", "tick_size", "min_notional"}
    if unknown_keys:
        raise ConfigError(
            f"Unknown instrument override(s) {sorted(unknown_keys)}; use lot_size, tick_size, "
            "min_notional."
        )
    mode, markets = load_markets(exchange, folder)
    market = markets.get(symbol)
    if market is not None:
        return _apply(market_to_instrument(exchange, market, mode), overrides)
    if {"lot_size", "tick_size", "min_notional"} <= set(overrides):
        base, _, quote = symbol.partition("/")
        return _apply(Instrument(exchange, symbol, base, quote.split(":")[0]), overrides)
    known = ", ".join(sorted(markets)) or f"none (bundled exchanges: {known_exchanges(folder)})"
    raise DrydockError(
        f"No market metadata for {symbol} on {exchange}: known markets are {known}. Give the "
        f"increments yourself with {OVERRIDE_FLAGS} (e.g. --lot-size 0.001 --tick-size 0.01 "
        f"--min-notional 5), or add the ccxt market to {markets_dir() / (exchange + '.json')}."
    )
