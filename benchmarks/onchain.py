"""On-chain figures: decoding + classifying Transfer logs, and parsing Helius swaps.

``whale_scan_logs_per_s``: synthetic Transfer logs (real topic layout, labelled senders and
receivers from the bundled Etherscan labels) through ``decode_transfer``, ``classify`` and
``significance``; baseline: eth_abi decoding alone of the same logs (ratio = ours / baseline).
``wallet_swaps_decode_per_s``: the bundled Helius enhanced transactions, repeated, through
``parse_swap``; baseline: ``json.loads`` of the same payloads (ratio = ours / baseline).
"""

from __future__ import annotations

import json
import random

from benchmarks.harness import Figure, median_time

LOGS = 100_000


def _logs(n: int) -> list[dict[str, object]]:
    from drydock.adapters.evm import TRANSFER_TOPIC
    from drydock.labels import load_labels

    book = load_labels()
    labelled = [addr for (_, addr) in list(book.labels)[:200]]
    rng = random.Random(7)
    out = []
    for i in range(n):
        a = (
            labelled[rng.randrange(len(labelled))]
            if rng.random() < 0.5
            else "0x" + f"{rng.getrandbits(160):040x}"
        )
        b = (
            labelled[rng.randrange(len(labelled))]
            if rng.random() < 0.5
            else "0x" + f"{rng.getrandbits(160):040x}"
        )
        out.append({
            "address": "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
            "topics": [TRANSFER_TOPIC, "0x" + "0" * 24 + a[2:], "0x" + "0" * 24 + b[2:]],
            "data": "0x" + f"{rng.getrandbits(80):064x}", "transactionHash": f"0x{i:064x}",
            "logIndex": i % 50, "blockNumber": 17_000_000 + i // 50,
        })  # fmt: skip
    return out


def whale_scan_logs_per_s(n: int = LOGS) -> Figure:
    from eth_abi.abi import decode

    from drydock.adapters.evm import decode_transfer
    from drydock.labels import classify, load_labels, significance

    logs = _logs(n)
    book = load_labels()

    def ours() -> None:
        for log in logs:
            t = decode_transfer(log)
            if not isinstance(t, str):
                kind = classify(book, "ethereum", t.sender, t.receiver)
                significance(t.value / 1e6, 5e9, kind)

    def peer() -> None:
        for log in logs:
            topics: list[str] = log["topics"]  # type: ignore[assignment]
            blob = topics[1][2:] + topics[2][2:] + str(log["data"])[2:]
            decode(["address", "address", "uint256"], bytes.fromhex(blob))

    ours_s, peer_s = median_time(ours, 3), median_time(peer, 3)
    return Figure(
        "whale_scan_logs_per_s",
        round(n / ours_s),
        "logs/s",
        round(n / peer_s),
        round(peer_s / ours_s, 2),
        n,
    )


def wallet_swaps_decode_per_s(repeat: int = 1_000) -> Figure:
    from drydock.adapters.solana import parse_swap
    from drydock.settings import REPO_ROOT

    raw = (REPO_ROOT / "data" / "sample" / "helius" / "enhanced_transactions.json").read_text()
    txs = json.loads(raw) * repeat
    texts = [raw] * repeat

    def ours() -> None:
        for tx in txs:
            parse_swap(tx)

    def peer() -> None:
        for text in texts:
            json.loads(text)

    ours_s, peer_s = median_time(ours, 3), median_time(peer, 3)
    n = len(txs)
    return Figure(
        "wallet_swaps_decode_per_s",
        round(n / ours_s),
        "txs/s",
        round(n / peer_s),
        round(peer_s / ours_s, 2),
        n,
    )
