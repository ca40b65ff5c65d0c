"""Address labels and transfer classification on the bundled Etherscan labels and 291 real
mainnet ERC-20 transfers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from drydock.errors import ConfigError
from drydock.labels import CLASS_WEIGHT, classify, load_labels, significance

TRANSFERS = Path(__file__).parents[1] / "fixtures" / "onchain" / "erc20_transfers_blocks_17173049_17173050.jsonl"  # fmt: skip
BINANCE_14 = "0x28c6c06298d514db089934071355e5743bf21d60"  # Etherscan: "Binance 14"


def test_bundled_labels_load_canonical_and_complete() -> None:
    book = load_labels()
    assert len(book.labels) == 373 and book.quarantined == []
    label = book.of("ethereum", "0x28C6c06298d514Db089934071355E5743bf21d60")  # EIP-55 spelling
    assert label is not None and (label.entity, label.type) == ("Binance", "exchange")
    assert Counter(lb.type for lb in book.labels.values())["exchange_hot"] == 10
    assert book.of("ethereum", "0xnot-an-address") is None


def test_overlay_adds_and_overrides_and_bad_overlays_fail(tmp_path: Path) -> None:
    overlay = tmp_path / "labels.toml"
    overlay.write_text(
        "[[labels]]\nchain = 'ethereum'\naddress = '" + BINANCE_14 + "'\nentity = 'Binance'\n"
        "type = 'exchange_hot'\n\n[[labels]]\nchain = 'ethereum'\n"
        "address = '0x" + "ab" * 20 + "'\nentity = 'Jump'\ntype = 'fund'\n",
        encoding="utf-8",
    )
    book = load_labels(overlay=overlay)
    assert book.of("ethereum", BINANCE_14).type == "exchange_hot"  # type: ignore[union-attr]
    assert book.of("ethereum", "0x" + "ab" * 20).entity == "Jump"  # type: ignore[union-attr]
    overlay.write_text(
        "[[labels]]\nchain = 'ethereum'\naddress = '0x12'\nentity = 'X'\ntype = 'fund'\n"
    )
    with pytest.raises(ConfigError, match=r"entry 0.*40 hex digits"):
        load_labels(overlay=overlay)
    overlay.write_text("[[labels]]\nchain = 'ethereum'\naddress = '" + BINANCE_14 + "'\n")
    with pytest.raises(ConfigError, match="entry 0, field 'entity': Field required; add it"):
        load_labels(overlay=overlay)


@pytest.mark.parametrize(
    ("sender", "receiver", "expected"),
    [
        ("0x" + "0" * 40, BINANCE_14, "mint"),
        (BINANCE_14, "0x" + "0" * 40, "burn"),
        ("0x" + "11" * 20, BINANCE_14, "exchange_inflow"),
        (BINANCE_14, "0x" + "11" * 20, "exchange_outflow"),
        (BINANCE_14, "0x3f5ce5fbfe3e9af3971dd833d26ba9b5c936f0be", "exchange_internal"),
        ("0x71660c4005ba85c37ccec55d0c4493e66fe775d3", BINANCE_14, "exchange_inflow"),  # Coinbase
        ("0x" + "11" * 20, "0x" + "22" * 20, "whale_transfer"),
    ],
)
def test_classification(sender: str, receiver: str, expected: str) -> None:
    assert classify(load_labels(), "ethereum", sender, receiver) == expected


def test_real_mainnet_transfers_are_classified() -> None:
    book = load_labels()
    rows = [json.loads(line) for line in TRANSFERS.read_text(encoding="utf-8").splitlines()]
    kinds = Counter(classify(book, "ethereum", r["from_address"], r["to_address"]) for r in rows)
    assert kinds == {"whale_transfer": 255, "mint": 12, "exchange_outflow": 11,
                     "exchange_inflow": 10, "burn": 3}  # fmt: skip


def test_significance_formula() -> None:
    assert significance(1e6, 1e6, "exchange_inflow") == pytest.approx(1.0)
    assert significance(1e5, 1e6, "exchange_inflow") == pytest.approx(2.0043 / 3, rel=1e-4)
    assert significance(9e3, 1e6, "whale_transfer") == pytest.approx(0.7 / 3)
    assert significance(5e9, 1e6, "exchange_internal") == CLASS_WEIGHT["exchange_internal"]
    assert significance(float("nan"), 1e6, "mint") == 0.0
    assert significance(1e6, 0.0, "burn") == CLASS_WEIGHT["burn"]
    with pytest.raises(ValueError, match="unknown transfer class"):
        significance(1.0, 1.0, "gift")
