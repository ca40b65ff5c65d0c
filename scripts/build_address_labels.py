"""Build data/sample/address_labels.csv from the etherscan account lists in ../shared/data.

Usage: .venv/bin/python scripts/build_address_labels.py ../shared/data
Each row: chain, address (lower-case), entity (the name tag without its trailing number or
": Hot Wallet" suffix; the file's exchange when the tag is empty), type (exchange, exchange_hot,
exchange_cold, exchange_deposit), name (the original tag). An address listed twice keeps its first
row in file order (the hot/cold lists first: their type is the more specific).
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

KINDS = {"hot-wallet": "exchange_hot", "cold-wallet": "exchange_cold"}
NAMES = {"crypto-com": "Crypto.com", "gate-io": "Gate.io", "okx": "OKX", "ftx": "FTX"}


def entity(tag: str, kind: str) -> str:
    if not tag:
        base = kind.removesuffix("-deposit")
        return NAMES.get(base, base.title())
    name = re.sub(r":.*$", "", tag)  # "Bitkub: Hot Wallet 2" -> "Bitkub"
    return re.sub(r"\s+\d+$", "", name).strip()  # "Binance 10" -> "Binance"


def main(shared: Path) -> None:
    folder = shared / "ethereum" / "address_labels"
    files = sorted(
        folder.glob("etherscan_accounts_*.csv"),
        key=lambda f: (not f.stem.endswith("wallet"), f.name),
    )
    seen: set[str] = set()
    out = Path(__file__).parents[1] / "data" / "sample" / "address_labels.csv"
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["chain", "address", "entity", "type", "name"])
        for file in files:
            kind = file.stem.removeprefix("etherscan_accounts_")
            label = KINDS.get(kind, "exchange_deposit" if kind.endswith("-deposit") else "exchange")
            with file.open(encoding="utf-8") as rows:
                for row in csv.DictReader(rows):
                    address = row["Address"].strip().lower()
                    if address in seen:
                        continue
                    seen.add(address)
                    tag = row["Name Tag"].strip()
                    writer.writerow(["ethereum", address, entity(tag, kind), label, tag])
    print(f"{len(seen)} labels -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
