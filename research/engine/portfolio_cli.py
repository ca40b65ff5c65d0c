"""``drydock portfolio``: several assets with one cash balance through the portfolio engine.

Weights come from a scheme of :mod:`strategies.rebalance` (equal, fixed, inverse volatility);
costs and each asset's lot and min notional come from the market metadata, as in ``simulate``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from drydock import cli_options as opt
from drydock.errors import ConfigError
from drydock.symbols import canonical_symbol


@opt.option_groups()
def portfolio_command(
    symbol: Annotated[
        list[str],
        typer.Option("--symbol", "-s", help="An asset (repeat), e.g. -s BTC/USDT -s SOL/USDT."),
    ],
    exchange: Annotated[str, opt.exchange_option()] = opt.DEFAULT_EXCHANGE,
    timeframe: Annotated[str, opt.timeframe_option()] = opt.DEFAULT_TIMEFRAME,
    scheme: Annotated[str, typer.Option(help="equal, fixed or inverse_vol.")] = "equal",
    weights: Annotated[str | None, typer.Option(help="Fixed weights, e.g. 0.6,0.4.")] = None,
    lookback: Annotated[int, typer.Option(help="Bars of returns for inverse_vol.")] = 168,
    every: Annotated[int, typer.Option(help="Bars between rebalances.")] = 24,
    gross: Annotated[float, typer.Option(help="Gross exposure the scheme targets.")] = 1.0,
    band: Annotated[float, typer.Option(help="Skip trades worth less than this (quote).")] = 0.0,
    start: Annotated[datetime | None, opt.start_option()] = None,
    end: Annotated[datetime | None, opt.end_option()] = None,
    costs: opt.CostOptions = opt.CostOptions(),
    leverage: Annotated[float, typer.Option(help="Cap on gross exposure (1 = spot).")] = 1.0,
    allow_short: Annotated[bool, typer.Option(help="Allow negative weights on spot.")] = False,
    close_at_end: Annotated[
        bool, typer.Option(help="Close every position at the last bar.")
    ] = False,
    funding: Annotated[bool, typer.Option(help="Charge funding from the lake (perps).")] = True,
    track: Annotated[bool, typer.Option(help="Log the run to MLflow (--no-track to skip).")] = True,
) -> None:
    """Rebalance a portfolio of SYMBOLs to a weight scheme with one shared cash balance."""
    import numpy as np

    from drydock import ohlcv
    from drydock.fills.portfolio_model import PortfolioConfig, align_bars
    from drydock.markets import instrument_for
    from drydock.series import SeriesKey
    from drydock.timeframes import periods_per_year, timeframe_seconds
    from research.cli import metrics_table
    from research.engine.portfolio import run_portfolio
    from strategies.rebalance import scheme_weights

    timeframe_seconds(timeframe)
    symbols = [canonical_symbol(s) for s in symbol]
    if len(set(symbols)) != len(symbols) or not symbols:
        raise ConfigError(
            f"--symbol {symbols!r}: name each asset once, e.g. -s BTC/USDT -s SOL/USDT."
        )
    execution = costs.execution()
    instruments = [instrument_for(exchange, s, execution.overrides()) for s in symbols]
    config = PortfolioConfig(
        execution=execution,
        lot_size=tuple(float(i.lot_size) for i in instruments),
        min_notional=tuple(float(i.min_notional) for i in instruments),
        leverage=leverage, allow_short=allow_short, min_trade_value=band, rebalance_every=every,
        close_at_end=close_at_end,
    )  # fmt: skip
    raw = {s: ohlcv.read(SeriesKey(exchange, s, timeframe), start, end) for s in symbols}
    bars = align_bars(raw)
    n = next(iter(bars.values())).height
    if n < 2:
        spans = ", ".join(
            f"{s} {f['ts'].min()!s}..{f['ts'].max()!s}" for s, f in raw.items() if f.height
        )
        raise ConfigError(
            f"The assets share {n} bars ({spans}); pick symbols and a window they all cover."
        )
    closes = np.column_stack([bars[s]["close"].to_numpy() for s in symbols])
    spec = {"scheme": scheme, "lookback": lookback, "every": every, "gross": gross}
    w = scheme_weights(scheme, closes, weights=opt.parse_weights(weights), lookback=lookback,
                       every=every, gross=gross)  # fmt: skip
    rates = None
    if funding and any(":" in s for s in symbols):
        from drydock.funding import read_funding

        rates = {s: read_funding(exchange, s, start, end) for s in symbols if ":" in s}
    result = run_portfolio(bars, w, config, funding=rates,
                           periods_per_year=periods_per_year(timeframe))  # fmt: skip
    console = Console()
    title = f"portfolio {scheme} {' + '.join(symbols)} {timeframe} ({n} common bars)"
    console.print(metrics_table(title, {"portfolio": result.metrics}))
    per = (
        result.orders.group_by("symbol").len().sort("symbol").rows() if result.orders.height else []
    )
    console.print(
        f"final equity {result.final_equity:,.2f}; orders "
        + (", ".join(f"{s} {k}" for s, k in per) or "none")
        + f"; fees {result.fees_paid:,.2f}; turnover {result.turnover:.2f}x; skipped by band "
        f"{result.skipped_by_band}; rejected below min notional {result.rejected_min_notional}; "
        f"funding paid {result.funding_paid:,.2f}",
        soft_wrap=True,
    )
    for note in result.notes:
        console.print(f"note: {note}", soft_wrap=True)
    if track:
        from drydock.settings import get_settings
        from research.engine.tracking import log_portfolio

        run_id = log_portfolio(result, bars, exchange, timeframe, config, spec)
        console.print(
            f"MLflow run {run_id} in {get_settings().mlflow_tracking_uri}", soft_wrap=True
        )
