"""Helius webhook deliveries (JSON arrays of enhanced transactions) dropped in an inbox folder,
parsed into the watched wallets' swaps and upserted into ``wallet_swaps``. Each file is moved to
``processed/`` once its rows are written, or to ``quarantine/`` when it is not JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drydock.adapters.solana._helius import parse_swap
from drydock.onchain import SwapReport, Wallet, write_swaps

__all__ = ["ingest_transactions", "process_inbox"]


def ingest_transactions(
    txs: Sequence[Any], watch: Sequence[Wallet], lake_dir: Path, report: SwapReport
) -> None:
    """Parse ``txs``, keep the watched wallets' swaps, upsert them."""
    watched = {(w.chain, w.address): w for w in watch if w.enabled}
    rows = []
    for tx in txs:
        parsed = parse_swap(tx) if isinstance(tx, dict) else "not an object"
        if isinstance(parsed, str):
            key = parsed.split(" (")[0]
            report.skipped[key] = report.skipped.get(key, 0) + 1
            continue
        wallet = watched.get((parsed["chain"], parsed["wallet"]))
        if wallet is None:
            report.unwatched += 1
            continue
        rows.append(parsed | {"label": wallet.label, "mode": wallet.mode})
    write_swaps(rows, lake_dir)
    report.swaps += len(rows)


def process_inbox(inbox: Path, watch: Sequence[Wallet], lake_dir: Path) -> SwapReport:
    """Ingest every ``*.json`` delivery in ``inbox``, oldest name first, then move it aside."""
    report = SwapReport()
    for sub in ("processed", "quarantine"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    for path in sorted(inbox.glob("*.json")):
        report.files += 1
        try:
            payload = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError):
            report.bad_files += 1
            os.replace(path, inbox / "quarantine" / path.name)
            continue
        txs = payload if isinstance(payload, list) else [payload]
        ingest_transactions(txs, watch, lake_dir, report)
        os.replace(path, inbox / "processed" / path.name)
    return report
