"""The address_labels asset through Dagster's materialize into a tmp lake, queried in DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import materialize

from drydock.settings import Settings

pytestmark = pytest.mark.integration  # Dagster materialize


def test_materialize_labels_with_an_overlay(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.onchain as onchain
    from drydock.warehouse import connect

    overlay = tmp_path / "address_labels.toml"
    overlay.write_text(
        "[[labels]]\nchain = 'ethereum'\naddress = '0x" + "ab" * 20 + "'\nentity = 'Jump'\n"
        "type = 'fund'\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(onchain, "OVERLAY", overlay)
    result = materialize([onchain.address_labels, onchain.address_labels_unique])
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["duplicates"].value == 0
    meta = result.asset_materializations_for_node("address_labels")[0].metadata
    assert meta["labels"].value == 374 and meta["quarantined"].value == 0
    with connect(settings) as con:
        rows = con.sql(
            "SELECT type, count(*) FROM address_labels GROUP BY type ORDER BY type"
        ).fetchall()
        jump = con.sql("SELECT entity FROM address_labels WHERE type = 'fund'").fetchall()
    assert dict(rows) == {"exchange": 351, "exchange_cold": 11, "exchange_deposit": 1,
                          "exchange_hot": 10, "fund": 1}  # fmt: skip
    assert jump == [("Jump",)]
    again = materialize([onchain.address_labels])  # a rerun rewrites the same table
    assert (
        again.asset_materializations_for_node("address_labels")[0].metadata["labels"].value == 374
    )
