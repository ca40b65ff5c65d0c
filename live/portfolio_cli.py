"""``drydock live portfolio``: several instruments with one cash balance, every leg through the
policy engine and the paper venue (the live core's portfolio run, live/portfolio_run.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from drydock import cli_options as opt
from drydock.errors import ConfigError

#: Weight rules: the rebalancer's schemes and the funding carry.
SCHEMES = ("equal", "fixed", "inverse_vol", "carry")

if TYPE_CHECKING:
    import numpy.typing as npt
    import polars as pl


@opt.option_groups(fill=False)  # the paper venue fills at the next open only
def portfolio_command(
    symbol: Annotated[
        list[str],
        typer.Option(
            "--symbol", "-s", help="An asset (repeat), e.g. -s BTC/USDT -s BTC/USDT:USDT."
        ),
    ],
    exchange: Annotated[str, opt.exchange_option()] = opt.DEFAULT_EXCHANGE,
    timeframe: Annotated[str, opt.timeframe_option()] = opt.DEFAULT_TIMEFRAME,
    scheme: Annotated[
        str,
        typer.Option(
            help="equal, fixed, inverse_vol or carry (spot, perp: long/short by funding)."
        ),
    ] = "equal",
    weights: Annotated[str | None, typer.Option(help="Fixed weights, e.g. 0.6,0.4.")] = None,
    every: Annotated[int, typer.Option(help="Bars between rebalances (0: on changes only).")] = 24,
    gross: Annotated[float, typer.Option(help="Gross exposure the scheme targets.")] = 1.0,
    entry_apy: Annotated[
        float, typer.Option(help="carry: enter at this annualized funding.")
    ] = 0.15,
    exit_apy: Annotated[
        float, typer.Option(help="carry: exit below this annualized funding.")
    ] = 0.05,
    band: Annotated[float, typer.Option(help="Skip trades worth less than this (quote).")] = 0.0,
    leverage: Annotated[float, typer.Option(help="Cap on gross exposure (1 = spot).")] = 1.0,
    allow_short: Annotated[bool, typer.Option(help="Allow negative weights (carry: on).")] = False,
    start: Annotated[datetime | None, opt.start_option()] = None,
    end: Annotated[datetime | None, opt.end_option()] = None,
    costs: opt.CostOptions = opt.CostOptions(),
    policy: Annotated[
        Path | None, typer.Option(help="Policy TOML (default policies/default.toml).")
    ] = None,
    run_id: Annotated[str | None, typer.Option(help="Resume or name a run.")] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="replay (history, then stop), or paper / dry-run: the scheduled "
            "runner from --start until --until, one step per closed bar."
        ),
    ] = "replay",
    until: Annotated[
        datetime | None,
        typer.Option(
            "--until",
            parser=opt.when_parser("--until"),
            metavar="DATE|DATETIME",
            help="paper / dry-run: stop at this time (naive = UTC).",
        ),
    ] = None,
) -> None:
    """Trade a portfolio of SYMBOLs with one cash balance, every leg through the policy engine:
    a replay of lake history, or the scheduled paper / dry-run runner."""
    import numpy as np

    from drydock.fills import PortfolioConfig
    from drydock.markets import instrument_for
    from drydock.symbols import canonical_symbol
    from drydock.timeframes import timeframe_seconds
    from live.cli import summary_table
    from live.portfolio_feed import aligned_bars
    from live.portfolio_run import replay_portfolio

    if mode not in ("replay", "paper", "dry-run"):
        raise ConfigError(f"--mode {mode!r} is not one of replay, paper, dry-run.")
    if mode != "replay" and until is None:
        raise ConfigError(f"--mode {mode} runs on a clock: give --until (when it stops).")
    if scheme not in SCHEMES:
        raise ConfigError(f"--scheme {scheme!r} is not one of {', '.join(SCHEMES)}.")
    seconds = timeframe_seconds(timeframe)
    symbols = [canonical_symbol(s) for s in symbol]
    execution = costs.execution()
    instruments = [instrument_for(exchange, s, execution.overrides()) for s in symbols]
    carry = scheme == "carry"
    if carry and (len(symbols) != 2 or ":" not in symbols[1] or ":" in symbols[0]):
        raise ConfigError(
            "--scheme carry takes two symbols, the spot then its perpetual, e.g. -s BTC/USDT "
            "-s BTC/USDT:USDT."
        )
    config = PortfolioConfig(
        execution=execution,
        lot_size=tuple(float(i.lot_size) for i in instruments),
        min_notional=tuple(float(i.min_notional) for i in instruments),
        leverage=leverage, allow_short=allow_short or carry, min_trade_value=band,
        rebalance_every=every or None,
    )  # fmt: skip

    fixed = opt.parse_weights(weights)  # a bad --weights fails before any bar is read

    def rule(frames: Mapping[str, pl.DataFrame]) -> npt.NDArray[np.float64]:
        """The weights of every bar seen (causal: each row reads only what came before)."""
        if carry:
            from drydock.funding import read_funding
            from strategies.funding_carry import CarryRule, carry_weights

            funding = read_funding(exchange, symbols[1], start, None)
            rule_ = CarryRule(entry_apy, exit_apy, gross)
            return carry_weights(frames[symbols[0]]["ts"], seconds, funding, rule_)
        from strategies.rebalance import scheme_weights

        closes = np.column_stack([frames[s]["close"].to_numpy() for s in symbols])
        return scheme_weights(scheme, closes, weights=fixed, every=every or 24, gross=gross)

    strategy_id = "funding_carry" if carry else "rebalance"
    if mode == "replay":
        frames = aligned_bars(symbols, exchange, timeframe, start, end)
        result = replay_portfolio(
            symbols, rule(frames), config, exchange, timeframe, start, end,
            strategy_id=strategy_id, policy_path=policy, run_id=run_id, frames=frames,
        )  # fmt: skip
        Console().print(summary_table(result))
        return
    from datetime import UTC, timedelta

    from drydock import ohlcv
    from drydock.settings import get_settings
    from live.portfolio_feed import PortfolioFeed
    from live.portfolio_run import named
    from live.runner import Mode, run_strategy

    first = start or datetime.now(UTC) - timedelta(days=30)
    feed = PortfolioFeed(tuple(symbols), exchange, timeframe, config, rule, start=first)
    summary = run_strategy(
        named(strategy_id), {}, ohlcv.SeriesKey(exchange, symbols[0], timeframe), first,
        policy or get_settings().policy_dir / "default.toml", execution, Mode(mode),
        feed=feed, portfolio=(tuple(symbols), config), run_id=run_id, until=until,
    )  # fmt: skip
    Console().print(summary_table(summary.result))
    Console().print(f"mode {summary.mode.value}, state {summary.state}, last bar "
                    f"{summary.last_bar}", soft_wrap=True)  # fmt: skip
