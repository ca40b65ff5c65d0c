"""``drydock live run --venue``: the spec goes through the venue factory; paper mode fills only on
paper, live mode needs a real venue and its environment (no fallback to paper), ``exchange``
stays the series' exchange (or ``--exchange``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drydock.errors import ConfigError
from drydock.ohlcv import SeriesKey
from live.run_cli import build_venue
from live.runner import Mode


def config() -> Any:
    return SimpleNamespace(key=SeriesKey("kraken", "BTC/USDT", "1h"),
                           strategy=SimpleNamespace(id="ema_cross"),
                           policy_file=Path("policies/research.toml"))  # fmt: skip


def test_paper_is_the_default_and_the_only_venue_of_paper_mode() -> None:
    assert build_venue(None, Mode.PAPER, config(), env={}) is None
    assert build_venue("paper", Mode.DRY_RUN, config(), env={}) is None
    for spec in ("exchange", "binance", "evm:base", "solana"):
        with pytest.raises(
            ConfigError, match=f"--mode paper fills on the simulated paper venue; --venue '{spec}'"
        ):
            build_venue(spec, Mode.PAPER, config(), env={})


def test_exchange_is_the_series_exchange_as_before() -> None:
    venue = build_venue("exchange", Mode.DRY_RUN, config(), env={})
    assert venue.name == "kraken"
    assert (
        build_venue("exchange", Mode.DRY_RUN, config(), exchange="binance", env={}).name
        == "binance"
    )
    assert build_venue("okx", Mode.DRY_RUN, config(), env={}).name == "okx"
    with pytest.raises(ConfigError, match="--exchange picks the exchange of --venue exchange"):
        build_venue("evm:base", Mode.DRY_RUN, config(), exchange="binance", env={})


def test_live_refuses_to_start_without_what_it_needs(home: Path) -> None:
    with pytest.raises(ConfigError, match="never falls back to paper"):
        build_venue("paper", Mode.LIVE, config(), env={})
    with pytest.raises(ConfigError, match="DRYDOCK_KRAKEN_API_KEY"):  # the default: exchange
        build_venue(None, Mode.LIVE, config(), env={})
    with pytest.raises(ConfigError, match="needs DRYDOCK_EVM_BASE_RPC_URL"):
        build_venue("evm:base", Mode.LIVE, config(), env={})
    with pytest.raises(ConfigError, match=r"no \[solana\] settlement pool"):
        build_venue("solana", Mode.LIVE, config(), env={})
    assert not (home / "live").exists()  # refused before any journal or store was opened


def test_dry_run_on_a_chain_reads_its_configured_instruments_only() -> None:
    venue = build_venue("evm:base", Mode.DRY_RUN, config(), env={})
    assert venue.name == "base" and venue.instrument("ETH/USDC").quote == "USDC"


def test_a_look_alike_venue_is_refused_by_the_command_before_anything_loads() -> None:
    import typer
    from typer.testing import CliRunner

    from live.cli import register

    root = typer.Typer()
    root.command("noop")(lambda: None)
    register(root)
    result = CliRunner().invoke(root, ["live", "run", "not_promoted", "--venue", "EVM:base",
                                       "--until", "2024-01-02"])  # fmt: skip
    assert isinstance(result.exception, ConfigError)  # not the unpromoted strategy's error
    assert "Venue 'EVM:base' is not lower-case" in str(result.exception)
    assert "Did you mean 'evm:base'?" in str(result.exception)
