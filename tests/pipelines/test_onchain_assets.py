"""The on-chain assets end to end with Dagster ``materialize`` into a tmp lake: the in-process EVM
(py-evm, vyper token) gives classified whale transfers, the bundled Helius delivery gives the
watched wallets' swaps, their tokens get safety scores, and the DuckDB views serve all three;
a rerun reads no block twice and ingests nothing twice."""

from __future__ import annotations

import pytest
from dagster import materialize

from drydock.settings import Settings
from pipelines.onchain import ONCHAIN_ASSETS, ONCHAIN_CHECKS, DexSource, EvmSource, SwapInbox

pytestmark = pytest.mark.integration  # Dagster, vyper, py-evm


def test_onchain_assets_materialize_and_rerun(settings: Settings) -> None:
    from drydock import warehouse

    resources = {
        "evm": EvmSource(mode="sample"),
        "swap_inbox": SwapInbox(),
        "dex": DexSource(mode="sample"),
    }
    result = materialize([*ONCHAIN_ASSETS, *ONCHAIN_CHECKS], resources=resources)
    assert result.success
    meta = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }  # type: ignore[union-attr]
    assert (
        meta["whale_transfers"]["whales"].value == 5
    )  # mint + 4 moves >= $100k; the $90 one is not
    assert meta["whale_transfers"]["solana"].data["whales"] == 0  # the Helius sample moves < $100k
    assert meta["wallet_swaps"]["swaps"].value == 7 and meta["wallet_swaps"]["evm_swaps"].value == 1
    assert meta["token_safety"]["tokens"].value == 4  # 3 Solana tokens and the EVM WETH
    assert all(c.passed for c in result.get_asset_check_evaluations())
    with warehouse.connect(settings) as con:
        kinds = dict(
            con.execute("SELECT kind, count(*) FROM whale_transfers GROUP BY 1").fetchall()
        )
        swaps = con.execute(
            "SELECT count(*) FROM wallet_swaps WHERE source = 'JUPITER'"
        ).fetchone()[0]  # type: ignore[index]
        scores = con.execute("SELECT min(score), max(score) FROM token_safety").fetchone()
    assert kinds == {
        "mint": 1,
        "exchange_inflow": 1,
        "exchange_internal": 1,
        "exchange_outflow": 1,
        "whale_transfer": 1,
    }
    assert swaps == 6 and scores == (1.0, 1.0)  # the sample DEX client answers every token alike
    again = materialize([ONCHAIN_ASSETS[2]], resources=resources)
    meta2 = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in again.get_asset_materialization_events()
    }  # type: ignore[union-attr]
    assert (
        meta2["wallet_swaps"]["files"].value == 0
    )  # processed deliveries are not reseeded or reread


def test_whales_and_wallets_commands_list_the_rows(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from drydock.cli import main

    resources = {
        "evm": EvmSource(mode="sample"),
        "swap_inbox": SwapInbox(),
        "dex": DexSource(mode="sample"),
    }
    assert materialize([*ONCHAIN_ASSETS], resources=resources).success
    monkeypatch.setenv("COLUMNS", "200")
    for argv, expected in (
        (["whales", "--kind", "exchange_outflow"], "Demo Exchange"),
        (["wallets"], "jupiter-trader"),
    ):
        monkeypatch.setattr(sys, "argv", ["drydock", *argv])
        with pytest.raises(SystemExit) as done:
            main()
        out = capsys.readouterr().out
        assert done.value.code in (0, None) and expected in out, out
