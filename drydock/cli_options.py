"""CLI option parsers and shared option declarations, the same for every command group.

Kept light (standard library, typer, :mod:`drydock.errors`, :mod:`drydock.symbols`) so that
``drydock --help`` starts fast. Shared options: ``-e/--exchange``, ``-s/--symbol``,
``-t/--timeframe``, ``-p/--param`` (repeatable), ``--start`` and ``--end`` (ISO date or datetime,
naive = UTC, end exclusive). Declare them with ``Annotated``, the default after ``=``:
``symbol: Annotated[str, symbol_option()] = DEFAULT_SYMBOL``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import typer

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel, FillTiming
from drydock.symbols import canonical_exchange, canonical_symbol
from drydock.timeframes import canonical_timeframe_option

__all__ = [
    "DEFAULT_EXCHANGE",
    "DEFAULT_SYMBOL",
    "DEFAULT_TIMEFRAME",
    "cash_option",
    "end_option",
    "exchange_option",
    "execution_model",
    "fee_option",
    "increment_option",
    "param_option",
    "parse_param_options",
    "parse_when",
    "slippage_option",
    "start_option",
    "symbol_option",
    "timeframe_option",
    "when_parser",
]

DEFAULT_EXCHANGE = "binance"
DEFAULT_SYMBOL = "BTC/USDT"
DEFAULT_TIMEFRAME = "1h"


def parse_param_options(options: list[str] | None) -> dict[str, str]:
    """Turn ``["fast=12", "slow=26"]`` into a dict; a malformed item is a clear error."""
    parsed: dict[str, str] = {}
    for item in options or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(
                f"Malformed --param {item!r}: write it as name=value, e.g. --param fast=12."
            )
        name, value = name.strip(), value.strip()
        if name in parsed:
            raise ConfigError(f"--param {name} is given twice ({parsed[name]!r} and {value!r}).")
        parsed[name] = value
    return parsed


def parse_when(raw: str | datetime | None, option: str) -> datetime | None:
    """An ISO date or datetime as an aware UTC datetime; naive values are taken as UTC."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        value = raw
    else:
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise ConfigError(
                f"{option} {raw!r} is not an ISO date or datetime; use e.g. 2024-01-01 or "
                "2024-01-01T12:00:00Z (naive times are UTC)."
            ) from None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ConfigError(
            f"{option} {raw!s} falls outside the calendar once converted to UTC; use a date "
            "between years 1 and 9999, e.g. 2024-01-01."
        ) from None


def when_parser(option: str) -> Callable[[str], datetime | None]:
    """A Typer ``parser=`` for ``option``: :func:`parse_when` with the option named in errors."""

    def parse(raw: str) -> datetime | None:
        return parse_when(raw, option)

    return parse


def _symbol(value: str | None) -> str | None:
    return None if value is None else canonical_symbol(value)


def _exchange(value: str | None) -> str | None:
    return None if value is None else canonical_exchange(value)


def symbol_option(doc: str = "") -> Any:
    """``-s/--symbol``: a ccxt unified symbol, validated and upper-cased by ``canonical_symbol``."""
    return typer.Option(
        "--symbol",
        "-s",
        callback=_symbol,
        help=doc or "Market symbol (ccxt unified), e.g. BTC/USDT or BTC/USDT:USDT.",
    )


def exchange_option(doc: str = "") -> Any:
    """``-e/--exchange``: a ccxt exchange id, validated and lower-cased."""
    return typer.Option(
        "--exchange",
        "-e",
        callback=_exchange,
        help=doc or "Exchange id (ccxt), e.g. binance.",
    )


def timeframe_option(doc: str = "") -> Any:
    """``-t/--timeframe``: a bar timeframe such as 1h."""
    return typer.Option(
        "--timeframe",
        "-t",
        callback=canonical_timeframe_option,
        help=doc or "Bar timeframe, e.g. 1h.",
    )


def param_option() -> Any:
    """``-p/--param name=value``, repeatable."""
    return typer.Option("--param", "-p", help="Strategy parameter override name=value; repeatable.")


def start_option(doc: str = "") -> Any:
    """``--start``: first bar, inclusive."""
    return typer.Option(
        "--start",
        parser=when_parser("--start"),
        metavar="DATE|DATETIME",
        help=doc or "First bar, inclusive: ISO date or datetime, naive = UTC, e.g. 2024-03-01.",
    )


def end_option(doc: str = "") -> Any:
    """``--end``: end of the window, exclusive."""
    return typer.Option(
        "--end",
        parser=when_parser("--end"),
        metavar="DATE|DATETIME",
        help=doc or "End, exclusive: ISO date or datetime, naive = UTC, e.g. 2024-04-01.",
    )


def cash_option() -> Any:
    """``--cash``: starting cash in the quote currency."""
    return typer.Option("--cash", help="Starting cash in the quote currency.")


def fee_option() -> Any:
    """``--fee``: taker fee rate of the market orders."""
    return typer.Option(
        "--fee", help="Taker fee as a fraction of traded notional (0.001 = 10 bps)."
    )


def slippage_option() -> Any:
    """``--slippage-bps``: adverse slippage."""
    return typer.Option("--slippage-bps", help="Adverse slippage in basis points.")


def increment_option(name: str, what: str) -> Any:
    """``--lot-size``, ``--tick-size`` or ``--min-notional``: override the market's value."""
    return typer.Option(
        f"--{name.replace('_', '-')}",
        help=f"Override the {what} (default: the market's, from the bundled ccxt markets).",
    )


def execution_model(
    cash: float,
    fee: float,
    slippage_bps: float,
    fill: FillTiming = FillTiming.NEXT_OPEN,
    *,
    lot_size: float | None = None,
    tick_size: float | None = None,
    min_notional: float | None = None,
) -> ExecutionModel:
    """The execution model the CLI options describe (``--fee`` is the taker and maker fee)."""
    return ExecutionModel(
        init_cash=cash,
        taker_fee=fee,
        maker_fee=fee,
        slippage_bps=slippage_bps,
        fill=fill,
        lot_size=lot_size,
        tick_size=tick_size,
        min_notional=min_notional,
    )
