"""Address labels (exchanges' hot, cold and deposit wallets, funds, bridges) and the
classification of a transfer by who sent and who received it.

Labels come from the bundled ``data/sample/address_labels.csv`` (Etherscan name tags, see its
PROVENANCE) plus a user overlay TOML (``[[labels]] chain, address, entity, type``) whose entries
win. Addresses are canonical (:func:`drydock.symbols.canonical_address`), so a checksummed and a
lower-case spelling are one key; a row that does not canonicalize is quarantined with its reason,
never dropped silently.

A transfer is ``mint`` (from the zero address), ``burn`` (to it), ``exchange_internal`` (between
two addresses of one exchange), ``exchange_inflow`` (to an exchange from outside it),
``exchange_outflow`` (from an exchange to outside it) or ``whale_transfer`` (neither side an
exchange). Its significance in [0, 1] is documented at :func:`significance`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from drydock.config_files import read_toml, validated
from drydock.errors import ConfigError, DrydockError
from drydock.settings import REPO_ROOT
from drydock.symbols import canonical_address

__all__ = [
    "CLASS_WEIGHT",
    "EXCHANGE_TYPES",
    "LABELS_FILE",
    "LAKE_PATH",
    "TYPES",
    "ZERO",
    "Label",
    "LabelBook",
    "classify",
    "labels_frame",
    "load_labels",
    "significance",
    "write_labels",
]

LABELS_FILE = REPO_ROOT / "data" / "sample" / "address_labels.csv"
ZERO = "0x" + "0" * 40
TYPES = frozenset(
    {"exchange", "exchange_hot", "exchange_cold", "exchange_deposit", "fund", "bridge", "whale",
     "protocol"}
)  # fmt: skip
EXCHANGE_TYPES = frozenset({"exchange", "exchange_hot", "exchange_cold", "exchange_deposit"})


@dataclass(frozen=True, slots=True)
class Label:
    chain: str
    address: str
    entity: str
    type: str


@dataclass(frozen=True)
class LabelBook:
    """Labels keyed by (chain, canonical address), and the rows that were quarantined."""

    labels: dict[tuple[str, str], Label]
    quarantined: list[tuple[str, str]]  # (raw row text, reason)

    def of(self, chain: str, address: str) -> Label | None:
        try:
            key = (chain, canonical_address(address))
        except DrydockError:
            return None
        return self.labels.get(key)


def _label(chain: str, address: str, entity: str, kind: str) -> Label:
    if kind not in TYPES:
        raise ConfigError(f"type {kind!r} is not one of {', '.join(sorted(TYPES))}")
    if not entity.strip():
        raise ConfigError("entity is empty")
    return Label(chain.strip().lower(), canonical_address(address), entity.strip(), kind)


class _OverlayEntry(BaseModel):
    """One ``[[labels]]`` table of the overlay as written (values checked by :func:`_label`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    chain: str
    address: str
    entity: str
    type: str


def load_labels(path: Path = LABELS_FILE, overlay: Path | None = None) -> LabelBook:
    """The bundled CSV plus the overlay TOML (overlay entries replace bundled ones)."""
    labels: dict[tuple[str, str], Label] = {}
    bad: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                label = _label(row["chain"], row["address"], row["entity"], row["type"])
            except DrydockError as exc:
                bad.append((",".join(row.values()), str(exc)))
                continue
            labels.setdefault((label.chain, label.address), label)
    if overlay is not None:
        data = read_toml(overlay, "Label overlay")
        for i, raw in enumerate(data.get("labels", [])):
            where = f"Label overlay {overlay}: [[labels]] entry {i}"
            entry = validated(_OverlayEntry, raw, where)
            try:
                label = _label(entry.chain, entry.address, entry.entity, entry.type)
            except DrydockError as exc:
                raise ConfigError(f"{where}: {exc}.") from None
            labels[(label.chain, label.address)] = label
    return LabelBook(labels, bad)


#: Lake file of the labels table (one file: a few thousand rows at most).
LAKE_PATH = ("onchain", "address_labels.parquet")


def labels_frame(book: LabelBook) -> Any:
    """The labels as a polars frame (chain, address, entity, type), sorted for stable files."""
    import polars as pl

    rows = [(lb.chain, lb.address, lb.entity, lb.type) for lb in book.labels.values()]
    frame = pl.DataFrame(rows, schema=["chain", "address", "entity", "type"], orient="row")
    return frame.sort("chain", "address")


def write_labels(book: LabelBook, lake_dir: Path) -> Path:
    """Write the labels table into the lake atomically; returns its path."""
    from drydock.lake import atomic_write_parquet

    return atomic_write_parquet(labels_frame(book), lake_dir.joinpath(*LAKE_PATH))


def classify(book: LabelBook, chain: str, sender: str, receiver: str) -> str:
    """The transfer's class from the two sides' labels (see the module docs)."""
    if sender.lower() == ZERO:
        return "mint"
    if receiver.lower() == ZERO:
        return "burn"
    a, b = book.of(chain, sender), book.of(chain, receiver)
    a_ex = a is not None and a.type in EXCHANGE_TYPES
    b_ex = b is not None and b.type in EXCHANGE_TYPES
    if a_ex and b_ex:
        # Between two exchanges: an inflow to the receiving one (its supply grows).
        return "exchange_internal" if a.entity == b.entity else "exchange_inflow"  # type: ignore[union-attr]
    if b_ex:
        return "exchange_inflow"
    if a_ex:
        return "exchange_outflow"
    return "whale_transfer"


#: Weight of each class in the significance score (flows that move supply onto or off
#: exchanges matter most; transfers inside one exchange least).
CLASS_WEIGHT = {
    "exchange_inflow": 1.0,
    "exchange_outflow": 0.9,
    "whale_transfer": 0.7,
    "mint": 0.6,
    "burn": 0.6,
    "exchange_internal": 0.2,
}


def significance(usd: float, daily_volume_usd: float, kind: str) -> float:
    """Score in [0, 1]: ``weight(kind) x min(1, log10(1 + 1000 x usd / volume) / 3)``.

    The size term grows with the transfer's share of the asset's daily volume on a log scale:
    0.33 at 0.9%, 0.67 at 10%, 1.0 at the whole day's volume (and above). ``weight`` is
    :data:`CLASS_WEIGHT`. A NaN or non-positive amount scores 0 (an unpriced transfer is flagged
    upstream, not ranked); with no volume known the size term is taken as 1.
    """
    weight = CLASS_WEIGHT.get(kind)
    if weight is None:
        raise ValueError(f"unknown transfer class {kind!r}")
    if not (math.isfinite(usd) and math.isfinite(daily_volume_usd)) or usd <= 0:
        return 0.0
    if daily_volume_usd <= 0:
        return weight
    share = usd / daily_volume_usd
    return weight * min(1.0, math.log10(1 + 1000 * share) / 3)
