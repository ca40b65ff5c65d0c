"""On-chain assets: the address labels table (more arrive with the on-chain issue).

``address_labels`` loads the bundled Etherscan labels plus the user overlay
``config/address_labels.toml`` (if present; its entries win), writes
``lake/onchain/address_labels.parquet`` atomically and refreshes the warehouse views, so DuckDB's
``address_labels`` view serves the whale-transfer classification.
"""

from __future__ import annotations

from collections import Counter

from dagster import AssetCheckResult, AssetCheckSeverity, MaterializeResult, asset, asset_check

from drydock.settings import REPO_ROOT, get_settings

OVERLAY = REPO_ROOT / "config" / "address_labels.toml"


@asset(group_name="onchain", description="Exchange, fund and bridge address labels (lake + view).")
def address_labels() -> MaterializeResult:
    from drydock.labels import load_labels, write_labels
    from drydock.warehouse import refresh_views

    settings = get_settings()
    book = load_labels(overlay=OVERLAY if OVERLAY.exists() else None)
    path = write_labels(book, settings.lake_dir)
    refresh_views(settings)
    by_type = Counter(label.type for label in book.labels.values())
    return MaterializeResult(
        metadata={
            "labels": len(book.labels),
            "quarantined": len(book.quarantined),
            "by_type": dict(sorted(by_type.items())),
            "path": str(path),
        }
    )


@asset_check(asset=address_labels, description="Every (chain, address) is labelled once.")
def address_labels_unique() -> AssetCheckResult:
    import polars as pl

    from drydock.labels import LAKE_PATH

    frame = pl.read_parquet(get_settings().lake_dir.joinpath(*LAKE_PATH))
    dupes = frame.height - frame.select("chain", "address").unique().height
    return AssetCheckResult(
        passed=dupes == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={"rows": frame.height, "duplicates": dupes},
    )
