"""``drydock simulate``: a strategy through the complete execution model (research.engine).

Shorts and leverage, stops and targets intrabar, scale-out ladders, funding for perps and
liquidation, from the CLI; ``drydock backtest`` runs the same engine on the strategy's targets
alone (no exit rules) with the backtest's MLflow report.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from drydock import cli_options as opt
from drydock.errors import ConfigError
from drydock.execution import ExecutionModel
from drydock.series import SeriesKey


@opt.option_groups()
def simulate_command(
    strategy: Annotated[str, typer.Argument(help="Strategy id, see `drydock strategies`.")],
    series: opt.SeriesOptions = opt.SeriesOptions(),
    param: Annotated[list[str] | None, opt.param_option()] = None,
    costs: opt.CostOptions = opt.CostOptions(),
    rules: opt.EngineOptions = opt.EngineOptions(),
    funding: Annotated[bool, typer.Option(help="Charge funding from the lake (perps).")] = True,
    track: Annotated[bool, typer.Option(help="Log the run to MLflow (--no-track to skip).")] = True,
) -> None:
    """Run STRATEGY's targets through the complete execution model on lake bars; an
    order-level strategy (grid, dca) runs its resting orders through the order book."""
    from strategies.order_based import order_strategies

    exchange, symbol, timeframe = series.exchange, series.symbol, series.timeframe
    start, end = series.start, series.end
    if strategy in order_strategies():
        used = rules.used()
        if used:
            raise ConfigError(
                f"{strategy} is an order-level strategy (spot, long-only): its exits are its own "
                f"orders; drop {', '.join(used)} (see `drydock strategies` for its parameters)."
            )
        _simulate_orders(strategy, exchange, symbol, timeframe, param, start, end,
                         costs.execution(), track)  # fmt: skip
        return
    from drydock import ohlcv
    from drydock.markets import instrument_for
    from drydock.timeframes import periods_per_year, timeframe_seconds
    from research.cli import metrics_table
    from research.engine import run_backtest
    from strategies.registry import get_strategy

    timeframe_seconds(timeframe)
    strat = get_strategy(strategy)
    params = strat.resolve_params(opt.parse_param_options(param))
    execution = costs.execution()
    key = SeriesKey(exchange, symbol, timeframe)
    instrument = instrument_for(exchange, symbol, execution.overrides())
    config = rules.config(execution, float(instrument.lot_size), float(instrument.min_notional))
    bars = ohlcv.read(key, start, end)
    strat.require_history(bars, key, params, start, end)
    rates = None
    if funding and ":" in symbol:
        from drydock.funding import read_funding

        rates = read_funding(exchange, symbol, start, end)
    target = strat.signals(bars, params)["target"].to_numpy()
    result = run_backtest(bars, target, config, funding=rates,
                          periods_per_year=periods_per_year(timeframe))  # fmt: skip
    console = Console()
    title = f"{strategy} {key} ({bars.height} bars, research engine)"
    console.print(metrics_table(title, {"engine": result.metrics}))
    reasons = result.orders["reason"].value_counts().sort("reason").rows() if result.orders.height else []  # fmt: skip
    console.print(
        f"final equity {result.final_equity:,.2f}; orders by reason: "
        + (", ".join(f"{r} {n}" for r, n in reasons) or "none")
        + f"; rejected below min notional {result.rejected_min_notional}; liquidations "
        f"{result.liquidations}; funding paid {result.funding_paid:,.2f}",
        soft_wrap=True,
    )
    for note in result.notes:
        console.print(f"note: {note}", soft_wrap=True)
    if track:
        from drydock.settings import get_settings
        from research.engine.tracking import log_simulation

        run_id = log_simulation(result, bars, key, config, strat.id, dict(params))
        console.print(
            f"MLflow run {run_id} in {get_settings().mlflow_tracking_uri}", soft_wrap=True
        )


def _simulate_orders(
    strategy_id: str, exchange: str, symbol: str, timeframe: str, param: list[str] | None,
    start: datetime | None, end: datetime | None, execution: ExecutionModel, track: bool,
) -> None:  # fmt: skip
    """``drydock simulate grid|dca``: the order book with the market's increments, logged alike."""
    from drydock import ohlcv
    from drydock.markets import instrument_for
    from drydock.timeframes import periods_per_year, timeframe_seconds
    from research.cli import metrics_table
    from research.engine.orders import run_orders
    from strategies.order_based import get_order_strategy

    timeframe_seconds(timeframe)
    strat = get_order_strategy(strategy_id)
    params = strat.resolve_params(opt.parse_param_options(param))
    instrument = instrument_for(exchange, symbol, execution.overrides())
    key = SeriesKey(exchange, symbol, timeframe)
    bars = ohlcv.read(key, start, end)
    ohlcv.require_bars(bars, key, start, end, 2, f"{strategy_id} (1 bar to place, 1 to fill)")
    result = run_orders(bars, strat, params, execution, lot_size=float(instrument.lot_size),
                        min_notional=float(instrument.min_notional),
                        periods_per_year=periods_per_year(timeframe))  # fmt: skip
    console = Console()
    title = f"{strategy_id} {key} ({bars.height} bars, order book)"
    console.print(metrics_table(title, {"engine": result.metrics}))
    reasons = result.orders["reason"].value_counts().sort("reason").rows() if result.orders.height else []  # fmt: skip
    console.print(
        f"final equity {result.final_equity:,.2f}; fills by order type: "
        + (", ".join(f"{r} {n}" for r, n in reasons) or "none")
        + f"; rejected (cash, position or min notional) {result.rejected_min_notional}",
        soft_wrap=True,
    )
    for note in result.notes:
        console.print(f"note: {note}", soft_wrap=True)
    if track:
        from drydock.fills.model import EngineConfig
        from drydock.settings import get_settings
        from research.engine.tracking import log_simulation

        config = EngineConfig(execution=execution, lot_size=float(instrument.lot_size),
                              min_notional=float(instrument.min_notional))  # fmt: skip
        run_id = log_simulation(
            result, bars, key, config, strategy_id, dict(params), strategy=strat
        )
        console.print(
            f"MLflow run {run_id} in {get_settings().mlflow_tracking_uri}", soft_wrap=True
        )


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
