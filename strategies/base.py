"""The strategy contract (see docs/strategy-contract.md).

A strategy declares its parameters (with sweep ranges), warm-up and required data, and gives:
- ``signals(frame, params)``: vectorized over history; adds a float ``target`` column (+1 long,
  0 flat, -1 short) where the value at bar t uses only data up to t's close;
- ``init_state(params)`` / ``step(state, bar, params)``: the incremental form for live trading,
  returning the same target at each bar as the vectorized form;
- optionally ``event_kinds`` and ``on_event(state, event, params)``: events beside bars (wallet
  swaps, sentiment, whale transfers, funding, operator signals; ``drydock.events``) delivered
  between bar closes; only the declared kinds ever reach the strategy.
:class:`IncrementalRunner` turns target changes into :class:`OrderIntent` objects.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from drydock.errors import ConfigError

if TYPE_CHECKING:  # polars and the domain types load on first use: listing strategies stays fast
    from datetime import datetime
    from pathlib import Path

    import numpy as np
    import polars as pl

    from drydock.events import Event
    from drydock.series import SeriesKey
    from drydock.types import Bar, OrderIntent

Params = dict[str, float]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One tunable parameter: default, inclusive sweep range and step, and whether it is an int."""

    name: str
    default: float
    low: float
    high: float
    step: float = 1.0
    integer: bool = True
    doc: str = ""

    def parse(self, raw: str | float) -> float:
        """Validate one raw value against type and range; errors name the parameter and range."""
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(
                f"Parameter {self.name}={raw!r} is not a number; give e.g. {self.name}={self.default:g}."
            ) from None
        if not math.isfinite(value):
            raise ConfigError(
                f"Parameter {self.name}={raw!r} is not finite (NaN or infinity); give e.g. "
                f"{self.name}={self.default:g}."
            )
        if self.integer and value != int(value):
            raise ConfigError(f"Parameter {self.name}={raw!r} must be a whole number.")
        if not self.low <= value <= self.high:
            raise ConfigError(
                f"Parameter {self.name}={raw!r} is out of range; allowed {self.low:g}..{self.high:g}."
            )
        return value


@dataclass(frozen=True, slots=True)
class FusedKernel:
    """A numba sweep kernel a strategy supplies: ``entry`` is ``"module:function"``, called as
    ``function(open, close, params, costs, out)`` with one row of ``params`` per parameter set in
    the order of ``params`` (see research/sweep/kernel.py for ``costs`` and ``out``).
    ``stop_entry`` (optional) is the stop-loss variant, called as ``function(open, low, close,
    params, costs, out)`` with the stop fraction as the last column of ``params``."""

    entry: str
    params: tuple[str, ...]
    stop_entry: str | None = None


class Parameterized:
    """Declared parameters, resolved from defaults and overrides and validated (every strategy)."""

    id: ClassVar[str]
    params: ClassVar[tuple[ParamSpec, ...]]

    def resolve_params(self, overrides: Mapping[str, str | float] | None = None) -> Params:
        """Defaults updated with ``overrides``, each validated; unknown names are rejected."""
        specs = {p.name: p for p in self.params}
        resolved: Params = {p.name: p.default for p in self.params}
        for name, raw in (overrides or {}).items():
            if name not in specs:
                raise ConfigError(
                    f"Unknown parameter {name!r} for strategy {self.id!r}. "
                    f"Valid parameters: {', '.join(sorted(specs))}."
                )
            resolved[name] = specs[name].parse(raw)
        resolved = {n: int(v) if specs[n].integer else float(v) for n, v in resolved.items()}
        self.check_params(resolved)
        return resolved

    def check_params(self, params: Params) -> None:  # optional hook
        """Cross-parameter constraints; raise :class:`ConfigError` when violated."""


class Strategy(Parameterized, ABC):
    """Base class of every library strategy."""

    id: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[ParamSpec, ...]]
    requires: ClassVar[tuple[str, ...]] = ("ohlcv",)
    #: The event kinds the strategy reads (``drydock.events.EVENT_KINDS``); no other kind
    #: reaches :meth:`on_event`, and the runner loads only these from the lake.
    event_kinds: ClassVar[tuple[str, ...]] = ()

    def on_event(self, state: Any, event: Event, params: Params) -> float | None:
        """An event of a declared kind, stamped after the previous bar's close and at or before
        the next one's, seen before that bar's :meth:`step`: return the new target (an intent as
        a bar's target change makes, filled at the next open) or None to leave it unchanged.
        Keep the target in ``state`` so the following :meth:`step` returns it too."""
        return None

    def fused_kernel(self) -> FusedKernel | None:
        """The strategy's fused numba sweep kernel, or None: sweeps then simulate its signals()."""
        return None

    def targets_with_events(
        self, frame: pl.DataFrame, events_by_bar: Mapping[int, Sequence[Event]], params: Params
    ) -> np.ndarray:
        """The research form of a strategy that reads events: the target after each bar, with
        the events of each bar (stamped after the previous close, at or before its own; e.g.
        ``live.events.assign``) handed to :meth:`on_event` in time order before its
        :meth:`step`, exactly as the runner's loop does; undeclared kinds never reach it."""
        import numpy as np

        kinds = frozenset(self.event_kinds)
        state = self.init_state(params)
        out = np.empty(frame.height, dtype=np.float64)
        for i, bar in enumerate(iter_bars(frame)):
            for event in sorted(events_by_bar.get(i, ()), key=lambda e: e.ts):
                if event.kind in kinds:
                    self.on_event(state, event, params)
            out[i] = self.step(state, bar, params)
        return out

    def step_many(self, state: Any, close: np.ndarray, params: Params) -> np.ndarray | None:
        """Optional: :meth:`step` over many bars at once, for the runner to skip the bars on
        which nothing can happen.

        Returns the target after each bar and leaves ``state`` exactly (bit for bit) as calling
        :meth:`step` on each bar would. Only strategies whose step reads the close alone can offer
        it; None (the default) means the runner steps bar by bar.
        """
        return None

    @abstractmethod
    def warmup(self, params: Params) -> int:
        """Bars needed before the first non-flat target."""

    def require_history(
        self,
        frame: pl.DataFrame,
        key: SeriesKey,
        params: Params,
        start: datetime | None,
        end: datetime | None,
        lake_dir: Path | None = None,
    ) -> None:
        """The one window check of backtest and replay: warm-up + 1 bars (and a signal bar and a
        bar to fill at), else the same one-line error in both; a warning below 2 x warm-up."""
        from drydock import ohlcv
        from drydock.logs import get_logger

        warmup = self.warmup(params)
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ConfigError(
                f"Strategy {self.id!r}: warmup() returned {warmup!r}; it must return a whole "
                "number of bars >= 0."
            )
        ohlcv.require_bars(
            frame, key, start, end, max(warmup + 1, 2),
            f"{self.id} (warm-up {warmup} + 1 bar to act)", lake_dir,
        )  # fmt: skip
        if frame.height < 2 * warmup:
            get_logger(__name__).warning(
                "strategy.short_window", strategy=self.id, series=str(key), bars=frame.height,
                warmup=warmup, note=f"fewer than 2 x warm-up ({2 * warmup}) bars: expect few or 0 trades",
            )  # fmt: skip

    @abstractmethod
    def signals(self, frame: pl.DataFrame, params: Params) -> pl.DataFrame:
        """Return ``frame`` with a float ``target`` column (0 during warm-up)."""

    @abstractmethod
    def init_state(self, params: Params) -> Any:
        """Fresh incremental state."""

    @abstractmethod
    def step(self, state: Any, bar: Bar, params: Params) -> float:
        """Consume one closed bar, update ``state`` in place, return the target at that bar."""


class IncrementalRunner:
    """Feeds bars to a strategy's incremental form and emits intents when the target changes."""

    def __init__(
        self, strategy: Strategy, params: Params, symbol: str, strategy_id: str | None = None
    ):
        self.strategy = strategy
        self.params = params
        self.symbol = symbol
        self.strategy_id = strategy_id or strategy.id
        self.state = strategy.init_state(params)
        self.target = 0.0
        self.kinds = frozenset(strategy.event_kinds)
        if self.kinds:
            from drydock.events import check_kinds

            check_kinds(self.kinds, f"Strategy {strategy.id!r}")

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        """Process one closed bar; return an intent if the desired exposure changed."""
        return self.emit(bar, self.strategy.step(self.state, bar, self.params))

    def on_event(self, event: Event) -> list[OrderIntent]:
        """Hand one event to the strategy if it declared its kind; an intent (stamped at the
        event) if the target it returns changes exposure. Undeclared kinds never reach it."""
        if event.kind not in self.kinds:
            return []
        target = self.strategy.on_event(self.state, event, self.params)
        return [] if target is None else self.emit_at(event.ts, target)

    def emit(self, bar: Bar, new_target: float) -> list[OrderIntent]:
        """An intent if ``new_target`` (the strategy's target after ``bar``) changes exposure."""
        return self.emit_at(bar.ts, new_target)

    def emit_at(self, ts: datetime, new_target: float) -> list[OrderIntent]:
        """An intent stamped ``ts`` if ``new_target`` changes exposure."""
        from drydock.types import OrderIntent, Side

        if new_target == self.target:
            return []
        side = Side.BUY if new_target > self.target else Side.SELL
        self.target = new_target
        return [
            OrderIntent(
                self.strategy_id, self.symbol, ts, side, new_target, reason=self.strategy.id
            )
        ]


def iter_bars(frame: pl.DataFrame) -> list[Bar]:
    """Rows of a bar frame as :class:`Bar` objects (for the incremental form)."""
    from drydock.types import Bar

    return [
        Bar(*row)
        for row in frame.select("ts", "open", "high", "low", "close", "volume").iter_rows()
    ]
