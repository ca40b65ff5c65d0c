"""``drydock sweep``: grid, random or TPE search of a strategy's parameters on lake bars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer
from rich.console import Console
from rich.table import Table

from drydock import cli_options as opt
from drydock.errors import ConfigError
from drydock.execution import ExecutionModel
from drydock.series import SeriesKey

if TYPE_CHECKING:
    import polars as pl

    from research.sweep.engine import SweepResult
    from research.sweep.objectives import Constraints
    from strategies.base import Params, Strategy

console = Console()
SHOWN = ("total_return", "sharpe", "sortino", "calmar", "max_drawdown", "trade_count", "exposure")


def top_table(title: str, frame: pl.DataFrame, params: tuple[str, ...], objective: str) -> Table:
    """Rich table of the best rows: rank, params, objective and headline metrics."""
    from drydock.metrics import format_metric

    table = Table(title=title)
    for name in ("#", *params, f"{objective} (objective)", *(m for m in SHOWN if m != objective)):
        table.add_column(name, justify="right")
    for rank, row in enumerate(frame.iter_rows(named=True), start=1):
        cells = [str(rank), *(f"{row[p]:g}" for p in params)]
        cells.append(format_metric(objective, float(row["objective"])))
        cells += [format_metric(m, float(row[m])) for m in SHOWN if m != objective]
        table.add_row(*cells)
    return table


def parse_stops(raw: str | None) -> list[float]:
    """``"0.01,0.02"`` or ``"0.01:0.05:0.01"`` -> stop fractions (validated by the sweep)."""
    if not raw:
        return []
    try:
        if ":" in raw:
            low, high, step = (float(x) for x in raw.split(":"))
            if not step > 0:
                raise ValueError
            count = int((high - low) / step + 1e-9) + 1
            return [round(low + i * step, 12) for i in range(count)]
        return [float(x) for x in raw.split(",")]
    except ValueError:
        raise ConfigError(
            f"--stop-loss {raw!r}: give fractions like 0.01,0.02 or a range low:high:step like "
            "0.01:0.05:0.01."
        ) from None


@dataclass(frozen=True)
class SearchOptions:
    """Which parameter sets a sweep runs: the grid, fixed params, random or TPE sampling, stops."""

    option_group: ClassVar[bool] = True
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            "-g",
            help="Sweep range name=low:high[:step], inclusive; repeatable. Parameters without "
            "--grid or --param sweep their declared range.",
        ),
    ] = None
    param: Annotated[list[str] | None, opt.param_option()] = None
    random: Annotated[
        int | None,
        typer.Option("--random", help="Sample N distinct sets of the grid instead of all of it."),
    ] = None
    tpe: Annotated[
        int | None,
        typer.Option(
            "--tpe",
            help="Search N trials with Optuna's TPE sampler (for grids too large to sweep); "
            "the sets it proposes are then swept into the results table.",
        ),
    ] = None
    seed: Annotated[int, typer.Option(help="Seed of --random and --tpe.")] = 0
    stop_loss: Annotated[
        str | None,
        typer.Option(
            help="Also sweep the research engine's stop loss: fractions 0.01,0.02 or a range "
            "0.01:0.05:0.01 (each set runs once per stop)."
        ),
    ] = None
    generic: Annotated[
        bool, typer.Option(help="Simulate signals() even when the strategy has a fused kernel.")
    ] = False


@dataclass(frozen=True)
class RankOptions:
    """How the sweep ranks its sets and how many it prints."""

    option_group: ClassVar[bool] = True
    objective: Annotated[
        str,
        typer.Option(help="Rank by: sharpe, sortino, calmar, return_over_drawdown, total_return."),
    ] = "sharpe"
    min_trades: Annotated[
        int, typer.Option(help="Constraint: at least N closed trades to rank.")
    ] = 0
    max_drawdown: Annotated[
        float | None,
        typer.Option(help="Constraint: drawdown no deeper than this fraction, e.g. 0.3 (-30%)."),
    ] = None
    top: Annotated[int, typer.Option(help="Rows of the best sets to print.")] = 10


@opt.option_groups()
def sweep_command(
    strategy: Annotated[
        str, typer.Argument(help="Strategy id (see `drydock strategies`), e.g. ema_cross.")
    ],
    search: SearchOptions = SearchOptions(),
    rank: RankOptions = RankOptions(),
    max_memory: Annotated[
        str | None,
        typer.Option(help="Memory budget, e.g. 2GB (default: half of the available memory)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Results Parquet path (default: $DRYDOCK_HOME/sweeps/<id>.parquet)."),
    ] = None,
    series: opt.SeriesOptions = opt.SeriesOptions(),
    costs: opt.CostOptions = opt.CostOptions(),
    track: Annotated[
        bool,
        typer.Option(
            help="Log to MLflow: a parent run with the table and a heatmap, the best "
            "sets as child backtests (--no-track to skip)."
        ),
    ] = True,
    children: Annotated[int, typer.Option(help="Best sets logged as child runs.")] = 3,
) -> None:
    """Sweep STRATEGY's parameters on lake bars; print the best sets and the results Parquet."""
    from research.sweep import memory
    from research.sweep.objectives import Constraints, check_objective
    from strategies.registry import get_strategy

    key = series.key
    strat = get_strategy(strategy)
    check_objective(rank.objective)
    budget = memory.parse_size(max_memory) if max_memory else None
    values, sets, stops = _planned_sets(strat, search)
    execution = costs.execution()
    constraints = Constraints(rank.min_trades, rank.max_drawdown)
    if search.tpe is not None:
        sets = _tpe_sets(strat, key, execution, values, search.tpe, search.seed, rank.objective,
                         constraints, _progress_columns(), series.start, series.end)  # fmt: skip
    result = _run(strat, key, sets, execution, series, rank.objective, constraints, out, budget,
                  not search.generic, stops)  # fmt: skip
    _print_best(result, strategy, key, rank)
    if track and stops and children:
        console.print(
            "note: child runs are full backtests, which have no stop rule; none are logged. "
            f"Reproduce a row with `drydock simulate {strategy} --stop-loss S -p ...`.",
            soft_wrap=True,
        )
        children = 0
    if track:
        _log(result, key, execution, series, children)
    console.print(
        f"query: duckdb -c \"SELECT * FROM '{result.path}' WHERE feasible ORDER BY objective DESC "
        'LIMIT 10"',
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


def _planned_sets(
    strat: Strategy, search: SearchOptions
) -> tuple[dict[str, list[float]], list[Params], list[float]]:
    """(the axes, the sets to run unless TPE proposes them, the stop fractions)."""
    from research.sweep import space

    values = space.axes(
        strat, space.parse_grid_options(search.grid), opt.parse_param_options(search.param)
    )
    if search.random is not None and search.tpe is not None:
        raise ConfigError("--random and --tpe are two search methods; pass one of them.")
    stops = parse_stops(search.stop_loss)
    if stops and search.tpe is not None:
        raise ConfigError(
            "--stop-loss sweeps a grid of stops; use it with --grid or --random, not --tpe."
        )
    sets: list[Params] = []
    if search.random is not None:
        sets = space.random_sets(strat, values, search.random, search.seed)
    elif search.tpe is None:
        sets = space.grid_sets(strat, values)
    return values, sets, stops


def _progress_columns() -> tuple[Any, ...]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )


def _run(
    strat: Strategy, key: SeriesKey, sets: list[Params], execution: ExecutionModel,
    series: opt.SeriesOptions, objective: str, constraints: Constraints, out: Path | None,
    budget: int | None, fused: bool, stops: list[float],
) -> SweepResult:  # fmt: skip
    """The sweep with a progress bar."""
    from rich.progress import Progress

    from research.sweep.api import sweep

    with Progress(*_progress_columns(), console=console, transient=False) as bar:
        total = len(sets) * max(len(stops), 1)
        task = bar.add_task(f"{strat.id} {key} ({total:,} sets)", total=total)
        return sweep(
            strat, key, sets, execution, series.start, series.end, objective=objective,
            constraints=constraints, out=out, max_memory=budget,
            progress=lambda done, _total: bar.update(task, completed=done), fused=fused,
            stop_losses=stops,
        )  # fmt: skip


def _print_best(result: SweepResult, strategy: str, key: SeriesKey, rank: RankOptions) -> None:
    """The best rows as a table, and the results path (unwrapped, to copy and paste)."""
    best = result.top(rank.top)
    title = (
        f"{strategy} {key}: top {best.height} of {result.sets:,} sets by {rank.objective} "
        f"({result.engine} kernel, {result.bars:,} bars, {result.seconds:.2f} s, "
        f"{result.bar_params_per_s / 1e6:,.1f}M bar-params/s)"
    )
    if best.height:
        console.print(top_table(title, best, result.param_names, rank.objective))
    else:
        console.print(f"No set meets the constraints among {result.sets:,} (see the table).")
    console.print(f"results: {result.path}", soft_wrap=True, markup=False, highlight=False)


def _log(
    result: SweepResult, key: SeriesKey, execution: ExecutionModel, series: opt.SeriesOptions,
    children: int,
) -> None:  # fmt: skip
    """The sweep as an MLflow parent run with its best ``children`` sets as child backtests."""
    from drydock import ohlcv
    from drydock.settings import get_settings
    from research.tracking import log_sweep

    with console.status(f"Logging to MLflow with the best {children} sets as child runs..."):
        frame = ohlcv.read(key, series.start, series.end)
        run_id = log_sweep(result, frame, key, execution, children)
    console.print(f"MLflow run [bold]{run_id}[/] in {get_settings().mlflow_tracking_uri}.")


def _tpe_sets(
    strat: Strategy,
    key: SeriesKey,
    execution: ExecutionModel,
    values: dict[str, list[float]],
    trials: int,
    seed: int,
    objective: str,
    constraints: Constraints,
    columns: tuple[Any, ...],
    start: datetime | None,
    end: datetime | None,
) -> list[Params]:
    """The distinct sets an Optuna TPE search proposes in ``trials`` trials (with a progress
    bar), then swept like any other list of sets."""
    from rich.progress import Progress

    from drydock import ohlcv
    from drydock.markets import instrument_for
    from research.sweep.space import _typed
    from research.sweep.tpe import tpe_search

    frame = ohlcv.read(key, start, end)
    widest = _typed(strat, list(values), [max(v) for v in values.values()])
    strat.require_history(frame, key, widest, start, end)  # the longest warm-up TPE may pick
    instrument = instrument_for(key.exchange, key.symbol, execution.overrides())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"TPE search ({trials:,} trials)", total=trials)
        search = tpe_search(
            strat, frame, key, execution, values, trials, seed=seed, objective=objective,
            constraints=constraints, instrument=instrument,
            progress=lambda done, _total: bar.update(task, completed=done),
        )  # fmt: skip
    if not search.sets:
        raise ConfigError(
            f"The TPE search of {strat.id!r} proposed no valid set in {trials} trials; widen the "
            "--grid ranges or raise --tpe."
        )
    return search.sets
