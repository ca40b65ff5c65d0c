"""CLI option parsers and shared option declarations, the same for every command group.

Kept light (standard library, typer, :mod:`drydock.errors`, :mod:`drydock.symbols`) so that
``drydock --help`` starts fast. Shared options: ``-e/--exchange``, ``-s/--symbol``,
``-t/--timeframe``, ``-p/--param`` (repeatable), ``--start`` and ``--end`` (ISO date or datetime,
naive = UTC, end exclusive). Declare them with ``Annotated``, the default after ``=``:
``symbol: Annotated[str, symbol_option()] = DEFAULT_SYMBOL``.

Market and cost options come as groups: a command declares ``series: SeriesOptions`` and/or
``costs: CostOptions`` and is wrapped by :func:`option_groups`, which puts the group's options in
its signature (``-e/-s/-t/--start/--end``; ``--cash/--fee/--slippage-bps/--fill/--lot-size/
--tick-size/--min-notional``) with the defaults of :class:`~drydock.execution.ExecutionModel`'s
fields, and hands the command the filled group.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel, FillTiming
from drydock.symbols import canonical_exchange, canonical_symbol
from drydock.timeframes import canonical_timeframe_option

__all__ = [
    "DEFAULT_CASH",
    "DEFAULT_EXCHANGE",
    "DEFAULT_FEE",
    "DEFAULT_FILL",
    "DEFAULT_SLIPPAGE_BPS",
    "DEFAULT_SYMBOL",
    "DEFAULT_TIMEFRAME",
    "AsJson",
    "CostOptions",
    "SeriesOptions",
    "cash_option",
    "end_option",
    "exchange_option",
    "execution_model",
    "fee_option",
    "increment_option",
    "option_groups",
    "param_option",
    "parse_param_options",
    "parse_when",
    "print_json",
    "slippage_option",
    "start_option",
    "symbol_option",
    "timeframe_option",
    "when_parser",
]

DEFAULT_EXCHANGE = "binance"
DEFAULT_SYMBOL = "BTC/USDT"
DEFAULT_TIMEFRAME = "1h"
#: The cost defaults of every command: ExecutionModel's own field defaults, declared once there.
_MODEL_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(ExecutionModel)}
DEFAULT_CASH: float = _MODEL_DEFAULTS["init_cash"]
DEFAULT_FEE: float = _MODEL_DEFAULTS["taker_fee"]
DEFAULT_SLIPPAGE_BPS: float = _MODEL_DEFAULTS["slippage_bps"]
DEFAULT_FILL: FillTiming = _MODEL_DEFAULTS["fill"]


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


#: ``--json`` of a list or status command: machine-readable output instead of the table.
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]


def print_json(value: Any) -> None:
    """``value`` as JSON on stdout (datetimes as ISO strings, keys in a stable order)."""
    import json

    def default(obj: Any) -> Any:
        return obj.isoformat() if isinstance(obj, datetime) else str(obj)

    typer.echo(json.dumps(value, sort_keys=True, default=default))


def fill_option() -> Any:
    """``--fill``: when an order decided at a bar's close fills."""
    return typer.Option(
        "--fill",
        case_sensitive=False,
        help="Fill timing: next_open (bar t+1's open, realistic) or close (bar t's close).",
    )


@dataclass(frozen=True)
class SeriesOptions:
    """``-e/--exchange``, ``-s/--symbol``, ``-t/--timeframe``, ``--start``, ``--end``."""

    exchange: Annotated[str, exchange_option()] = DEFAULT_EXCHANGE
    symbol: Annotated[str, symbol_option()] = DEFAULT_SYMBOL
    timeframe: Annotated[str, timeframe_option()] = DEFAULT_TIMEFRAME
    start: Annotated[datetime | None, start_option()] = None
    end: Annotated[datetime | None, end_option()] = None

    @property
    def key(self) -> Any:
        """The :class:`~drydock.series.SeriesKey` of the series (timeframe validated)."""
        from drydock.series import SeriesKey
        from drydock.timeframes import timeframe_seconds

        timeframe_seconds(self.timeframe)
        return SeriesKey(self.exchange, self.symbol, self.timeframe)


@dataclass(frozen=True)
class CostOptions:
    """``--cash``, ``--fee``, ``--slippage-bps``, ``--fill``, ``--lot-size``, ``--tick-size``,
    ``--min-notional``: the :class:`~drydock.execution.ExecutionModel` of a run."""

    cash: Annotated[float, cash_option()] = DEFAULT_CASH
    fee: Annotated[float, fee_option()] = DEFAULT_FEE
    slippage_bps: Annotated[float, slippage_option()] = DEFAULT_SLIPPAGE_BPS
    fill: Annotated[FillTiming, fill_option()] = DEFAULT_FILL
    lot_size: Annotated[float | None, increment_option("lot_size", "lot size")] = None
    tick_size: Annotated[float | None, increment_option("tick_size", "tick size")] = None
    min_notional: Annotated[
        float | None, increment_option("min_notional", "minimum order notional")
    ] = None

    def execution(self) -> ExecutionModel:
        """The execution model these options describe (validated: a bad value is one line)."""
        return execution_model(
            self.cash, self.fee, self.slippage_bps, self.fill,
            lot_size=self.lot_size, tick_size=self.tick_size, min_notional=self.min_notional,
        )  # fmt: skip


def parse_weights(raw: str | None) -> list[float] | None:
    """``--weights 0.6,0.4`` as numbers (None when not given); one line naming the option when
    they are not numbers."""
    if not raw:
        return None
    try:
        return [float(x) for x in raw.split(",")]
    except ValueError:
        raise ConfigError(
            f"--weights {raw!r} must be numbers separated by commas, e.g. 0.6,0.4."
        ) from None


def parse_ladder(raw: str | None) -> tuple[tuple[float, float], ...]:
    """``"1.0:0.5,2.0:0.25"`` -> ((1.0, 0.5), (2.0, 0.25)): gain:fraction pairs."""
    if not raw:
        return ()
    out = []
    for part in raw.split(","):
        gain, sep, share = part.partition(":")
        try:
            out.append((float(gain), float(share)))
        except ValueError:
            raise ConfigError(
                f"--scale-out {raw!r}: {part!r} is not gain:fraction, e.g. --scale-out "
                "1.0:0.5,2.0:0.25 (50% at +100%, 25% at +200%)."
            ) from None
        if not sep:
            raise ConfigError(
                f"--scale-out {raw!r}: {part!r} needs a ':' between gain and fraction."
            )
    return tuple(out)


@dataclass(frozen=True)
class EngineOptions:
    """The execution model's rules beyond costs (:class:`drydock.fills.EngineConfig`): shorts,
    leverage, exits managed by the core, margin, end rule. One option set for ``drydock
    simulate``, ``drydock live replay`` and ``drydock live run``."""

    option_group = True

    leverage: Annotated[float, typer.Option(help="Cap on |target| (1 = spot).")] = 1.0
    allow_short: Annotated[bool, typer.Option(help="Let a spot (leverage 1) run go short.")] = False
    stop_loss: Annotated[
        float | None, typer.Option(help="Stop loss, fraction of entry, e.g. 0.05.")
    ] = None
    trailing_stop: Annotated[
        float | None, typer.Option(help="Trailing stop fraction, e.g. 0.03.")
    ] = None
    trailing_activation: Annotated[float, typer.Option(help="Gain before the trail arms.")] = 0.0
    take_profit: Annotated[float | None, typer.Option(help="Take profit, fraction, e.g. 0.1.")] = (
        None
    )
    scale_out: Annotated[
        str | None, typer.Option(help="Ladder gain:fraction,... e.g. 1.0:0.5,2.0:0.25")
    ] = None
    maintenance_margin: Annotated[
        float | None, typer.Option(help="Liquidation check, e.g. 0.005.")
    ] = None
    impact: Annotated[float, typer.Option(help="Volume-aware slippage coefficient.")] = 0.0
    close_at_end: Annotated[
        bool, typer.Option(help="Close an open position at the last bar's close.")
    ] = False
    end_rule: Annotated[
        str | None,
        typer.Option(
            help="End of run: mark (keep open, marked at the last close), close (at the last "
            "close) or open (at the last bar's open, as backtesting.py)."
        ),
    ] = None
    liquidation_fee: Annotated[
        float, typer.Option(help="Liquidation fee, fraction of the liquidated notional.")
    ] = 0.0

    def used(self) -> list[str]:
        """The options set away from their defaults, as the user typed them."""
        return [
            "--" + f.name.replace("_", "-")
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        ]

    def config(self, execution: ExecutionModel, lot_size: float, min_notional: float) -> Any:
        """The :class:`~drydock.fills.EngineConfig` over ``execution`` and the market's
        increments (validated: a bad value is one line naming the option)."""
        from drydock.fills import EngineConfig

        return EngineConfig(
            execution=execution, lot_size=lot_size, min_notional=min_notional,
            leverage=self.leverage, allow_short=self.allow_short, stop_loss=self.stop_loss,
            trailing_stop=self.trailing_stop, trailing_activation=self.trailing_activation,
            take_profit=self.take_profit, scale_out=parse_ladder(self.scale_out),
            maintenance_margin=self.maintenance_margin, impact=self.impact,
            close_at_end=self.close_at_end, end=self.end_rule,
            liquidation_fee=self.liquidation_fee,
        )  # fmt: skip


_GROUPS: tuple[type, ...] = (SeriesOptions, CostOptions)
F = TypeVar("F", bound=Callable[..., Any])


def _is_group(annotation: Any) -> bool:
    """An option group: SeriesOptions, CostOptions or a dataclass marked ``option_group = True``
    whose fields are Annotated typer options with defaults."""
    return annotation in _GROUPS or (
        isinstance(annotation, type)
        and dataclasses.is_dataclass(annotation)
        and getattr(annotation, "option_group", False) is True
    )


def option_groups(*, fill: bool = True) -> Callable[[F], F]:
    """Decorate a command: each parameter annotated with an option group is replaced, in the
    command's signature, by the group's options (``fill=False`` leaves ``--fill`` out: the
    command then gets the default fill timing), and the command receives the filled group."""

    def wrap(func: F) -> F:
        signature = inspect.signature(func, eval_str=True)
        params: list[inspect.Parameter] = []
        groups: dict[str, tuple[type, list[str]]] = {}
        for param in signature.parameters.values():
            group = param.annotation if _is_group(param.annotation) else None
            if group is None:
                params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY))
                continue
            hints = inspect.get_annotations(group, eval_str=True)
            names = [f.name for f in dataclasses.fields(group) if fill or f.name != "fill"]
            groups[param.name] = (group, names)
            kind = inspect.Parameter.KEYWORD_ONLY
            params += [
                inspect.Parameter(n, kind, annotation=hints[n], default=getattr(group, n))
                for n in names
            ]
        clash = {p.name for p in params if sum(q.name == p.name for q in params) > 1}
        if clash:
            raise TypeError(f"{func.__name__}: options {sorted(clash)} are declared twice")

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            for name, (group, names) in groups.items():
                kwargs[name] = group(**{n: kwargs.pop(n) for n in names})
            return func(**kwargs)

        command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params} | {
            "return": signature.return_annotation
        }
        return command  # type: ignore[return-value]

    return wrap
