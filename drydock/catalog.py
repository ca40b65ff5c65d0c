"""The series catalog: which markets Drydock keeps in its lake, read from a TOML file.

Each ``[[series]]`` entry names an exchange, a ccxt unified symbol (spot ``BTC/USDT`` or perp
``BTC/USDT:USDT``), its timeframes, the first UTC day to load (``start``, a bare TOML date),
optionally the last one (``end``, inclusive), an ``enabled`` flag and, for perpetuals only, whether
to load ``funding`` and ``mark_prices`` (both default to true for perps). The file is validated at
load: any problem is one :class:`~drydock.errors.ConfigError` line naming the file, the entry, the
field and the fix, so a bad catalog never reaches a run. Dagster builds its series partitions from
the enabled entries, so adding an entry makes it appear in the UI after a code-location reload.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from drydock.config_files import validated
from drydock.errors import ConfigError, DrydockError
from drydock.series import SeriesKey
from drydock.settings import get_settings
from drydock.symbols import canonical_exchange, canonical_symbol
from drydock.timeframes import canonical_timeframe

__all__ = ["Catalog", "CatalogEntry", "is_perp", "load_catalog", "parse_catalog"]

_EXAMPLE = (
    '[[series]] exchange = "binance", symbol = "BTC/USDT:USDT", timeframes = ["1h"], '
    "start = 2024-01-01"
)
#: Fixes for the pydantic errors particular to the catalog (the rest: drydock.config_files).
_FIXES = {
    "literal_error": 'write calendar = "24/7" (crypto) or calendar = "sessions" (weekdays only)',
    "bool_type": "write true or false without quotes",
    "list_type": 'write a list, e.g. timeframes = ["1h"]',
    "too_short": 'list at least one timeframe, e.g. timeframes = ["1h"]',
}


def is_perp(symbol: str) -> bool:
    """True for a perpetual swap symbol (``BASE/QUOTE:SETTLE`` with no expiry)."""
    return ":" in symbol and "-" not in symbol.split(":", 1)[1]


class CatalogEntry(BaseModel):
    """One market of the catalog: a symbol on an exchange with one or more timeframes."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    exchange: str
    symbol: str
    timeframes: list[str] = Field(min_length=1)
    start: date
    end: date | None = None
    enabled: bool = True
    funding: bool | None = None
    mark_prices: bool | None = None
    #: "24/7" (crypto) or "sessions" (weekday venues): which bars the gap check expects.
    calendar: Literal["24/7", "sessions"] = "24/7"

    @field_validator("exchange")
    @classmethod
    def _exchange(cls, value: str) -> str:
        try:
            return canonical_exchange(value)
        except DrydockError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        try:
            return canonical_symbol(value)
        except DrydockError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("timeframes")
    @classmethod
    def _timeframes(cls, value: list[str]) -> list[str]:
        try:
            value = [canonical_timeframe(timeframe) for timeframe in value]
        except DrydockError as exc:
            raise ValueError(str(exc)) from None
        if len(set(value)) != len(value):
            raise ValueError(f"{value} lists a timeframe twice; list each once")
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start")
        if value is not None and start is not None and start > value:
            raise ValueError(
                f"start {start} is after end {value}; swap them or remove end "
                "(end is the last UTC day to load, inclusive)"
            )
        return value

    @field_validator("funding", "mark_prices")
    @classmethod
    def _perp_only(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        symbol = info.data.get("symbol")
        if value and symbol is not None and not is_perp(symbol):
            raise ValueError(
                f"{info.field_name} = true is only for perpetuals such as BTC/USDT:USDT, and "
                f"{symbol} is not one; remove {info.field_name} from this entry"
            )
        return value

    @property
    def perp(self) -> bool:
        """Whether the symbol is a perpetual swap (funding and mark prices apply)."""
        return is_perp(self.symbol)

    @property
    def wants_funding(self) -> bool:
        """Load funding rates: perps only, on unless ``funding = false``."""
        return self.perp and self.funding is not False

    @property
    def wants_mark_prices(self) -> bool:
        """Load mark-price bars: perps only, on unless ``mark_prices = false``."""
        return self.perp and self.mark_prices is not False

    def series_keys(self) -> list[SeriesKey]:
        """One series per timeframe."""
        return [SeriesKey(self.exchange, self.symbol, tf) for tf in self.timeframes]

    def covers(self, day: date) -> bool:
        """Whether ``day`` lies within ``start`` .. ``end`` (inclusive)."""
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class Catalog:
    """The validated catalog file: its entries in file order."""

    path: Path
    entries: tuple[CatalogEntry, ...]

    def series(self, enabled_only: bool = True) -> list[SeriesKey]:
        """Every series (one per entry and timeframe), in file order."""
        return [k for e in self.entries if e.enabled or not enabled_only for k in e.series_keys()]

    def perps(self, enabled_only: bool = True) -> list[CatalogEntry]:
        """Entries of perpetual swaps."""
        return [e for e in self.entries if e.perp and (e.enabled or not enabled_only)]

    def entry(self, key: SeriesKey) -> CatalogEntry | None:
        """The entry listing ``key`` (exchange, symbol and timeframe), or None."""
        for entry in self.entries:
            if (entry.exchange, entry.symbol) == (key.exchange, key.symbol):
                return entry if key.timeframe in entry.timeframes else None
        return None


def _where(path: Path, index: int, raw: Any) -> str:
    symbol = raw.get("symbol") if isinstance(raw, dict) else None
    label = f" ({symbol})" if isinstance(symbol, str) else ""
    return f"Series catalog {path}: entry {index + 1}{label}"


def _entry(path: Path, index: int, raw: Any) -> CatalogEntry:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{_where(path, index, raw)} is not a table; write each series as a [[series]] table, "
            f"e.g. {_EXAMPLE}."
        )
    return validated(CatalogEntry, raw, _where(path, index, raw), _FIXES)


def parse_catalog(data: dict[str, Any], path: Path) -> Catalog:
    """Validate the parsed TOML of a catalog (``path`` only names it in errors)."""
    unknown = sorted(set(data) - {"series"})
    if unknown:
        raise ConfigError(
            f"Series catalog {path}: unknown top-level key(s) {', '.join(unknown)}; the file "
            f"holds only [[series]] tables, e.g. {_EXAMPLE}."
        )
    raw_entries = data.get("series", [])
    if not isinstance(raw_entries, list):
        raise ConfigError(
            f"Series catalog {path}: 'series' must be an array of tables; write each as "
            f"[[series]], e.g. {_EXAMPLE}."
        )
    entries: list[CatalogEntry] = []
    seen: dict[tuple[str, str], int] = {}
    for index, raw in enumerate(raw_entries):
        entry = _entry(path, index, raw)
        pair = (entry.exchange, entry.symbol)
        if pair in seen:
            raise ConfigError(
                f"{_where(path, index, raw)}, field 'symbol': {entry.exchange} {entry.symbol} is "
                f"already listed by entry {seen[pair] + 1}; list each market once and put all its "
                "timeframes in that entry's timeframes."
            )
        seen[pair] = index
        entries.append(entry)
    return Catalog(path, tuple(entries))


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate the catalog (default: the settings' ``DRYDOCK_SERIES_CATALOG``)."""
    path = path if path is not None else get_settings().series_catalog
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"Series catalog {path} does not exist. Create it (see config/series.toml in the "
            "repository) or point DRYDOCK_SERIES_CATALOG at an existing file."
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Series catalog {path} cannot be read ({exc.strerror}); point DRYDOCK_SERIES_CATALOG "
            "at a readable TOML file."
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Series catalog {path} is not valid TOML: {exc}. Fix the syntax there."
        ) from None
    return parse_catalog(data, path)
