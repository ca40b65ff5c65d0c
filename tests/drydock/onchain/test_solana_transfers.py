"""Large SOL and SPL transfers from real Helius enhanced transactions into whale_transfers."""

from __future__ import annotations

import json
from pathlib import Path

from drydock.adapters.solana import scan_helius_transfers
from drydock.labels import Label, LabelBook
from drydock.onchain import Prices, read_whales
from drydock.tokens import load_tokens

SAMPLE = Path(__file__).parents[3] / "data" / "sample" / "helius" / "enhanced_transactions.json"
WALLET = "FCHTRYx6npkQCogtpZtEFLJeevAFGbDHhJyvqvT6F4kX"


def test_transfers_are_priced_thresholded_classified_and_idempotent(tmp_path: Path) -> None:
    txs = json.loads(SAMPLE.read_text())
    labels = LabelBook(
        {("solana", WALLET): Label("solana", WALLET, "Sample Desk", "exchange_hot")}, []
    )
    prices = Prices(tmp_path, fixed={"SOL": 150.0})  # no SOL bars for 2024-09 in the test lake
    counts = scan_helius_transfers(
        txs, labels, load_tokens(), tmp_path, threshold_usd=150.0, prices=prices
    )
    frame = read_whales(tmp_path)
    assert (
        counts["whales"] == frame.height > 0 and counts["unpriced"] > 0
    )  # the Raydium token has no price
    assert set(frame["chain"]) == {"solana"} and set(frame["symbol"]) <= {"SOL", "USDC"}
    assert (frame["usd"] >= 150).all()
    usdc = frame.filter((frame["symbol"] == "USDC") & (frame["amount"] == 161.0))
    assert (
        usdc.height == 1
        and usdc["kind"][0] == "exchange_outflow"
        and usdc["sender_entity"][0] == "Sample Desk"
    )
    before = {p: p.read_bytes() for p in tmp_path.glob("whale_transfers/**/*.parquet")}
    scan_helius_transfers(txs, labels, load_tokens(), tmp_path, threshold_usd=150.0, prices=prices)
    assert {p: p.read_bytes() for p in before} == before


def test_payloads_missing_fields_are_counted_not_stored(tmp_path: Path) -> None:
    counts = scan_helius_transfers([{"type": "TRANSFER"}, "junk", {"signature": "x", "timestamp": "soon"}],
                                   LabelBook({}, []), load_tokens(), tmp_path)  # fmt: skip
    assert counts == {"whales": 0, "below_threshold": 0, "unpriced": 0, "malformed": 3}
    assert read_whales(tmp_path).height == 0
