"""Parameter spaces of a sweep: value lists per parameter from a strategy's ``ParamSpec`` ranges,
the full grid over them, or a seeded random sample of it; invalid combinations are dropped."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from drydock.errors import ConfigError
from strategies.base import Params, ParamSpec, Strategy

#: Above this many grid points the random search samples indices instead of listing the grid.
_MAX_LISTED = 5_000_000


def parse_grid_options(options: Sequence[str] | None) -> dict[str, tuple[str, str, str]]:
    """``["fast=5:50:5"]`` -> ``{"fast": ("5", "50", "5")}``; the step may be omitted (spec step)."""
    parsed: dict[str, tuple[str, str, str]] = {}
    for item in options or []:
        name, sep, rest = item.partition("=")
        parts = rest.split(":")
        if (
            not sep
            or not name.strip()
            or len(parts) not in (2, 3)
            or not all(p.strip() for p in parts)
        ):
            raise ConfigError(
                f"Malformed --grid {item!r}: write it as name=low:high[:step], e.g. --grid fast=5:50:5."
            )
        name = name.strip()
        if name in parsed:
            raise ConfigError(f"--grid {name} is given twice; give each parameter one range.")
        parsed[name] = (
            parts[0].strip(),
            parts[1].strip(),
            parts[2].strip() if len(parts) == 3 else "",
        )
    return parsed


def _steps(spec: ParamSpec, low: float, high: float, step: float) -> list[float]:
    """Inclusive ``low..high`` every ``step`` (whole numbers for integer parameters)."""
    count = math.floor((high - low) / step + 1e-9) + 1
    values = [low + i * step for i in range(count)]
    return [float(round(v)) if spec.integer else round(v, 12) for v in values]


def _range_values(spec: ParamSpec, raw: tuple[str, str, str]) -> list[float]:
    """Validated values of one ``--grid`` range."""
    low, high = spec.parse(raw[0]), spec.parse(raw[1])
    step = spec.step
    if raw[2]:
        try:
            step = float(raw[2])
        except ValueError:
            step = math.nan
        if not math.isfinite(step) or step <= 0 or (spec.integer and step != int(step)):
            raise ConfigError(
                f"--grid {spec.name} step {raw[2]!r} must be a positive "
                f"{'whole ' if spec.integer else ''}number, e.g. {spec.name}={raw[0]}:{raw[1]}:{spec.step:g}."
            )
    if high < low:
        raise ConfigError(
            f"--grid {spec.name}={raw[0]}:{raw[1]} runs backwards; write the low end first, "
            f"e.g. {spec.name}={raw[1]}:{raw[0]}."
        )
    return _steps(spec, low, high, step)


def axes(
    strategy: Strategy,
    grid: Mapping[str, tuple[str, str, str]] | None = None,
    fixed: Mapping[str, str | float] | None = None,
) -> dict[str, list[float]]:
    """Values per parameter: ``grid`` ranges, ``fixed`` single values, else the declared range."""
    specs = {p.name: p for p in strategy.params}
    for name in [*(grid or {}), *(fixed or {})]:
        if name not in specs:
            raise ConfigError(
                f"Unknown parameter {name!r} for strategy {strategy.id!r}. "
                f"Valid parameters: {', '.join(sorted(specs))}."
            )
    both = set(grid or {}) & set(fixed or {})
    if both:
        raise ConfigError(
            f"Parameter {sorted(both)[0]!r} is both swept (--grid) and fixed (--param); pick one."
        )
    out: dict[str, list[float]] = {}
    for name, spec in specs.items():
        if grid and name in grid:
            out[name] = _range_values(spec, grid[name])
        elif fixed and name in fixed:
            out[name] = [spec.parse(fixed[name])]
        else:
            out[name] = _steps(spec, spec.low, spec.high, spec.step)
    return out


def _valid(strategy: Strategy, params: Params) -> bool:
    try:
        strategy.check_params(params)
    except ConfigError:
        return False
    return True


def _typed(strategy: Strategy, names: Sequence[str], row: Sequence[float]) -> Params:
    specs = {p.name: p for p in strategy.params}
    return {n: int(v) if specs[n].integer else float(v) for n, v in zip(names, row, strict=True)}


def grid_sets(strategy: Strategy, values: Mapping[str, Sequence[float]]) -> list[Params]:
    """Every valid combination of ``values`` (the strategy's ``check_params`` decides validity)."""
    names = list(values)
    mesh = np.meshgrid(*[np.asarray(values[n], dtype=np.float64) for n in names], indexing="ij")
    rows = np.column_stack([m.ravel() for m in mesh]) if names else np.empty((1, 0))
    sets = (_typed(strategy, names, row) for row in rows.tolist())
    return [p for p in sets if _valid(strategy, p)]


def random_sets(
    strategy: Strategy, values: Mapping[str, Sequence[float]], count: int, seed: int
) -> list[Params]:
    """``count`` distinct valid combinations drawn uniformly from the grid of ``values`` (all of
    them when the grid has fewer), in draw order; the same seed gives the same sets."""
    if count < 1:
        raise ConfigError(f"--random {count} must be at least 1, e.g. --random 200.")
    names = list(values)
    sizes = [len(values[n]) for n in names]
    total = math.prod(sizes)
    rng = np.random.default_rng(seed)
    if total <= _MAX_LISTED:
        every = grid_sets(strategy, values)
        if len(every) <= count:
            return every
        picked = rng.choice(len(every), size=count, replace=False)
        return [every[i] for i in picked.tolist()]
    seen: set[tuple[float, ...]] = set()
    out: list[Params] = []
    for _ in range(100):
        draws = np.column_stack([rng.integers(0, s, size=2 * count) for s in sizes])
        for index in draws.tolist():
            row = tuple(values[n][i] for n, i in zip(names, index, strict=True))
            params = _typed(strategy, names, row)
            if row not in seen and _valid(strategy, params):
                seen.add(row)
                out.append(params)
                if len(out) == count:
                    return out
    return out
