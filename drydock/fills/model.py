"""The engine's configuration, validated once: costs, sizing limits, exits, margin, end rule.

Every number is checked at construction (one ConfigError line naming the field, the value and an
example); the kernel reads the packed float64 vector of :meth:`EngineConfig.vector`, where NaN
switches an optional rule off.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import IntEnum, StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from drydock.errors import ConfigError
from drydock.execution import ExecutionModel, FillTiming

__all__ = [
    "END_CODES",
    "LOT_ABS_SLACK",
    "LOT_REL_SLACK",
    "N_PARAMS",
    "P_CASH",
    "P_CLOSE_END",
    "P_FEE",
    "P_FIXED",
    "P_IMPACT",
    "P_LEVERAGE",
    "P_LIQ_FEE",
    "P_LOT",
    "P_MAX_PART",
    "P_MIN_NOTIONAL",
    "P_MM",
    "P_NEXT_OPEN",
    "P_SL",
    "P_SLIP",
    "P_TP",
    "P_TSL",
    "P_TSL_ACT",
    "EndRule",
    "EngineConfig",
    "Reason",
    "check_exposures",
    "floor_lots",
]


class Reason(IntEnum):
    """Why an order was sent (the order record's ``reason`` column)."""

    SIGNAL = 0
    STOP_LOSS = 1
    TRAILING_STOP = 2
    TAKE_PROFIT = 3
    SCALE_OUT = 4
    LIQUIDATION = 5
    END_CLOSE = 6
    LIMIT = 7  # a resting limit order (order-level strategies)
    STOP = 8  # a resting stop order (order-level strategies)


class EndRule(StrEnum):
    """What happens to a position still open after the last bar."""

    MARK = "mark"  # kept open, marked at the last close and reported (default)
    CLOSE = "close"  # closed at the last bar's close (``close_at_end=True``)
    OPEN = "open"  # closed at the last bar's open (backtesting.py's ``finalize_trades=True``)


#: The kernel's codes of :class:`EndRule` (P_CLOSE_END).
END_CODES = {EndRule.MARK: 0.0, EndRule.CLOSE: 1.0, EndRule.OPEN: 2.0}

#: Positions in the packed parameter vector the kernel reads.
P_CASH, P_FEE, P_FIXED, P_SLIP, P_IMPACT, P_LOT, P_MIN_NOTIONAL, P_LEVERAGE = range(8)
P_SL, P_TSL, P_TSL_ACT, P_TP, P_MM, P_NEXT_OPEN, P_CLOSE_END, P_MAX_PART = range(8, 16)
P_LIQ_FEE = 16
N_PARAMS = 17

#: Lot flooring slack: relative (5.1 - 5 = 0.09999999999999964 is 0.1 in lots of 1e-8, not
#: 0.09999999) plus an absolute 1e-9 lot. One rule for every engine (kernels mirror it).
LOT_REL_SLACK, LOT_ABS_SLACK = 1e-12, 1e-9


def floor_lots(qty: float, lot: float) -> float:
    """``qty`` (>= 0) rounded down to whole lots, with the shared float slack."""
    return math.floor(qty / lot * (1 + LOT_REL_SLACK) + LOT_ABS_SLACK) * lot


def _fraction(name: str, value: float | None, low: float, high: float, example: str) -> float:
    if value is None:
        return math.nan
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low < value <= high:
        raise ConfigError(
            f"Engine {name}={value!r} must be a finite number in ({low:g}, {high:g}], e.g. "
            f"{example}; leave it unset to switch the rule off."
        )
    return float(value)


@dataclass(frozen=True)
class EngineConfig:
    """One backtest's execution model beyond the shared costs of :class:`ExecutionModel`.

    ``leverage`` caps |target| (1 = spot: a long never borrows cash, a short is not allowed
    unless ``allow_short``); stops are fractions of the entry price (``stop_loss=0.05`` exits a
    long 5% below its average entry); ``trailing_stop`` trails the best price since entry once it
    is ``trailing_activation`` above the entry; ``scale_out`` is ``[(gain, fraction of the entry
    quantity), ...]``; ``maintenance_margin`` enables the liquidation check; ``impact`` is the
    volume-aware slippage coefficient (``impact * sqrt(qty / bar volume)`` added to the fixed
    slippage, with participation capped at ``max_participation`` of the bar's volume on every
    fill but a liquidation and the end-of-run close; the unfilled rest is worked at the next
    bars' opens). ``liquidation_fee`` is the venue's liquidation clearance fee, a fraction of the
    liquidated notional charged on top of the taker fee (default 0: the trader keeps the
    maintenance margin minus the taker fee and slippage; set it to the maintenance margin for a
    venue whose insurance fund takes the remaining margin). ``end`` is the end-of-run rule
    (:class:`EndRule`, default ``mark``; ``close_at_end=True`` is ``end="close"``). ``lot_size`` and
    ``min_notional`` given in ``execution`` override the defaults here (as ``drydock simulate``
    applies them); given in both places with different values is an error.
    """

    execution: ExecutionModel = field(default_factory=ExecutionModel)
    lot_size: float = 1e-8
    min_notional: float = 0.0
    leverage: float = 1.0
    allow_short: bool = False
    stop_loss: float | None = None
    trailing_stop: float | None = None
    trailing_activation: float = 0.0
    take_profit: float | None = None
    scale_out: Sequence[tuple[float, float]] = ()
    maintenance_margin: float | None = None
    impact: float = 0.0
    max_participation: float | None = None
    close_at_end: bool = False
    liquidation_fee: float = 0.0
    end: EndRule | str | None = None

    def __post_init__(self) -> None:
        self._resolve_increments()
        if self.end is not None:
            try:
                end = EndRule(self.end)
            except ValueError:
                choices = ", ".join(repr(r.value) for r in EndRule)
                raise ConfigError(
                    f"Engine end={self.end!r} is not an end-of-run rule; use one of {choices}, "
                    "e.g. 'mark'."
                ) from None
            if self.close_at_end and end is not EndRule.CLOSE:
                raise ConfigError(
                    f"Engine close_at_end=True and end={end.value!r} disagree; pass only end "
                    "('mark', 'close' or 'open')."
                )
            object.__setattr__(self, "end", end)
        if not (math.isfinite(self.liquidation_fee) and 0 <= self.liquidation_fee < 1):
            raise ConfigError(
                f"Engine liquidation_fee={self.liquidation_fee!r} must be in [0, 1), e.g. 0.005 "
                "(a fraction of the liquidated notional); 0 charges only the taker fee."
            )
        _fraction("leverage", self.leverage, 0.0, 100.0, "1 for spot or 3")
        _fraction("lot_size", self.lot_size, 0.0, 1e9, "0.00001")
        if not (math.isfinite(self.min_notional) and self.min_notional >= 0):
            raise ConfigError(f"Engine min_notional={self.min_notional!r} must be >= 0, e.g. 5.")
        _fraction("stop_loss", self.stop_loss, 0.0, 1.0, "0.05 for 5%")
        _fraction("trailing_stop", self.trailing_stop, 0.0, 1.0, "0.03 for 3%")
        _fraction("take_profit", self.take_profit, 0.0, 100.0, "0.1 for +10%")
        _fraction("maintenance_margin", self.maintenance_margin, 0.0, 1.0, "0.005")
        _fraction("max_participation", self.max_participation, 0.0, 1.0, "0.1 for 10%")
        if not (math.isfinite(self.trailing_activation) and self.trailing_activation >= 0):
            raise ConfigError(
                f"Engine trailing_activation={self.trailing_activation!r} must be >= 0, e.g. 0.02."
            )
        if not (math.isfinite(self.impact) and self.impact >= 0):
            raise ConfigError(f"Engine impact={self.impact!r} must be >= 0, e.g. 0.1.")
        total = 0.0
        last = 0.0
        for gain, share in self.scale_out:
            _fraction("scale_out gain", gain, 0.0, 100.0, "1.0 for +100%")
            _fraction("scale_out fraction", share, 0.0, 1.0, "0.5")
            if gain <= last:
                raise ConfigError(
                    f"Engine scale_out gains must increase; {gain:g} follows {last:g}, e.g. "
                    "[(1.0, 0.5), (2.0, 0.25)]."
                )
            last, total = gain, total + share
        if total > 1 + 1e-12:
            raise ConfigError(
                f"Engine scale_out fractions sum to {total:g} > 1 of the entry quantity; lower them."
            )

    def _resolve_increments(self) -> None:
        """Take ``lot_size``/``min_notional`` from ``execution`` when given there (the CLI's
        rule); refuse the two places disagreeing."""
        for name, default in (("lot_size", 1e-8), ("min_notional", 0.0)):
            given = getattr(self.execution, name)
            if given is None:
                continue
            mine = getattr(self, name)
            if mine not in (default, given):
                raise ConfigError(
                    f"Engine {name}={mine!r} and execution {name}={given!r} disagree; set it in "
                    "one place (the execution model's value is the instrument override)."
                )
            object.__setattr__(self, name, float(given))

    @classmethod
    def from_params(
        cls, params: Mapping[str, object], execution: ExecutionModel
    ) -> EngineConfig | None:
        """The config of flat ``engine.<field>`` params as MLflow keeps them (strings), over
        ``execution``; None when they set no rule beyond the spot defaults (a plain backtest)."""
        import ast

        raw = {k.removeprefix("engine."): v for k, v in params.items() if k.startswith("engine.")}
        values: dict[str, object] = {}
        for f in fields(cls):
            text = raw.get(f.name)
            if f.name == "execution" or text in (None, "None"):
                continue
            if f.name in ("allow_short", "close_at_end"):
                values[f.name] = str(text).strip().lower() == "true"
            elif f.name == "scale_out":
                values[f.name] = tuple(tuple(map(float, p)) for p in ast.literal_eval(str(text)))
            elif f.name == "end":
                values[f.name] = str(text).removeprefix("EndRule.").lower()
            else:
                values[f.name] = float(str(text))
        config = cls(execution=execution, **values)  # type: ignore[arg-type]
        plain = cls(execution=execution, lot_size=config.lot_size,
                    min_notional=config.min_notional)  # fmt: skip
        same = all(
            getattr(config, f.name) == getattr(plain, f.name)
            for f in fields(cls)
            if f.name not in ("execution", "end")
        )
        return None if same and config.end_rule is EndRule.MARK else config

    @property
    def end_rule(self) -> EndRule:
        """The end-of-run rule in force (``end``, else ``close_at_end``)."""
        if self.end is not None:
            return EndRule(self.end)
        return EndRule.CLOSE if self.close_at_end else EndRule.MARK

    @property
    def short_allowed(self) -> bool:
        return self.allow_short or self.leverage > 1

    def vector(self) -> npt.NDArray[np.float64]:
        """The packed float64 parameters the kernel reads (NaN: rule off)."""
        e = self.execution
        out = np.full(N_PARAMS, np.nan)
        out[P_CASH], out[P_FEE], out[P_FIXED], out[P_SLIP] = (
            e.init_cash, e.taker_fee, e.fixed_fee, e.slippage,
        )  # fmt: skip
        out[P_IMPACT], out[P_LOT], out[P_MIN_NOTIONAL] = (
            self.impact,
            self.lot_size,
            self.min_notional,
        )
        out[P_LEVERAGE] = self.leverage
        out[P_SL] = math.nan if self.stop_loss is None else self.stop_loss
        out[P_TSL] = math.nan if self.trailing_stop is None else self.trailing_stop
        out[P_TSL_ACT] = self.trailing_activation
        out[P_TP] = math.nan if self.take_profit is None else self.take_profit
        out[P_MM] = math.nan if self.maintenance_margin is None else self.maintenance_margin
        out[P_NEXT_OPEN] = 1.0 if e.fill == FillTiming.NEXT_OPEN else 0.0
        out[P_CLOSE_END] = END_CODES[self.end_rule]
        out[P_LIQ_FEE] = self.liquidation_fee
        out[P_MAX_PART] = math.nan if self.max_participation is None else self.max_participation
        return out

    def ladder(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        gains = np.array([g for g, _ in self.scale_out], dtype=np.float64)
        shares = np.array([s for _, s in self.scale_out], dtype=np.float64)
        return gains, shares


def check_exposures(target: npt.NDArray[np.float64], config: EngineConfig, ts: Any) -> None:
    """Refuse NaN/inf targets, targets beyond the leverage cap, and shorts a spot run cannot take,
    naming the first offending bar (the same rule for the vectorized path and the replay)."""
    if target.size:  # two vectorized reductions clear the common case (NaN propagates in both)
        low, high = float(np.min(target)), float(np.max(target))
        ok = math.isfinite(low) and math.isfinite(high)
        ok = ok and max(high, -low) <= config.leverage + 1e-12
        if ok and (config.short_allowed or low >= 0):
            return
    bad = ~np.isfinite(target)
    if bad.any():
        i = int(np.argmax(bad))
        raise ConfigError(
            f"Target {target[i]!r} at {ts[i]} is not a finite number; a strategy must emit an "
            "exposure in [-L, L] on every bar (use 0 for flat)."
        )
    over = np.abs(target) > config.leverage + 1e-12
    if over.any():
        i = int(np.argmax(over))
        raise ConfigError(
            f"Target {target[i]:g} at {ts[i]} exceeds the leverage cap {config.leverage:g}; "
            "scale the strategy's targets or raise leverage."
        )
    if not config.short_allowed and (target < 0).any():
        i = int(np.argmax(target < 0))
        raise ConfigError(
            f"Target {target[i]:g} at {ts[i]} is a short, but this run is spot without "
            "allow_short; set allow_short=True (or leverage > 1) to backtest shorts."
        )
