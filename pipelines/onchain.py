"""On-chain assets: address labels, whale transfers, watched-wallet swaps and token safety.

``address_labels`` loads the bundled Etherscan labels plus the user overlay
``config/address_labels.toml`` (if present; its entries win), writes
``lake/onchain/address_labels.parquet`` atomically and refreshes the warehouse views, so DuckDB's
``address_labels`` view serves the whale-transfer classification.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetSelection,
    ConfigurableResource,
    DefaultSensorStatus,
    MaterializeResult,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    asset,
    asset_check,
    define_asset_job,
    sensor,
)

from drydock.settings import REPO_ROOT, get_settings

OVERLAY = REPO_ROOT / "config" / "address_labels.toml"


@asset(group_name="onchain", description="Exchange, fund and bridge address labels (lake + view).")
def address_labels() -> MaterializeResult[None]:
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


# --- whale transfers, watched-wallet swaps, token safety ---------------------------------------


class EvmSource(ConfigurableResource):  # type: ignore[type-arg]
    """``sample``: the in-process demo chain (py-evm, vyper token); ``rpc``: ``DRYDOCK_EVM_RPC_URL``."""

    mode: str = "sample"
    start_block: int = 0

    def connect(self) -> tuple[Any, dict[str, str], Any]:
        import os

        from drydock.labels import load_labels

        if self.mode == "sample":
            from drydock.adapters.evm import demo_chain

            return demo_chain()
        if self.mode == "rpc":
            from drydock.adapters.evm import web3_from_url

            url = os.environ.get("DRYDOCK_EVM_RPC_URL", "")
            if not url:
                raise ValueError(
                    "Set DRYDOCK_EVM_RPC_URL to an Ethereum JSON-RPC endpoint for mode 'rpc'."
                )
            return (
                web3_from_url(url),
                {},
                load_labels(overlay=OVERLAY if OVERLAY.exists() else None),
            )
        raise ValueError(f"EVM source mode {self.mode!r} is not 'sample' or 'rpc'")


class SwapInbox(ConfigurableResource):  # type: ignore[type-arg]
    """The Helius webhook inbox folder (default ``$DRYDOCK_HOME/inbox/helius``); ``seed_sample``
    drops the bundled delivery into it when it is empty (demo)."""

    folder: str = ""
    seed_sample: bool = True

    def path(self) -> Path:
        return Path(self.folder) if self.folder else get_settings().home / "inbox" / "helius"


class DexSource(ConfigurableResource):  # type: ignore[type-arg]
    """``sample``: recorded DEX payloads; ``http``: DexScreener and RugCheck."""

    mode: str = "sample"

    def client(self) -> Any:
        from drydock.adapters.token_safety import dex_client, http_client

        return dex_client() if self.mode == "sample" else http_client()


@asset(
    group_name="onchain",
    deps=[address_labels],
    description="ERC-20 transfers above $100k, classified (lake: whale_transfers).",
)
def whale_transfers(evm: EvmSource) -> MaterializeResult[None]:
    from drydock.adapters.evm import scan_whales as scan
    from drydock.tokens import load_tokens
    from drydock.warehouse import refresh_views

    w3, symbols, labels = evm.connect()
    settings = get_settings()
    report = scan(w3, "ethereum", labels, load_tokens(), settings.lake_dir, start_block=evm.start_block,
                  symbols=symbols)  # fmt: skip
    solana: dict[str, int] = {}
    if evm.mode == "sample":  # the bundled Helius delivery stands in for a Helius webhook/poll
        import json

        from drydock.adapters.solana import scan_helius_transfers
        from drydock.labels import load_labels

        sample = REPO_ROOT / "data" / "sample" / "helius" / "enhanced_transactions.json"
        solana = scan_helius_transfers(
            json.loads(sample.read_text()), load_labels(), load_tokens(), settings.lake_dir
        )
    refresh_views(settings)
    return MaterializeResult(metadata={
        "solana": solana,
        "blocks": f"{report.first_block}-{report.last_block}", "logs": report.logs, "whales": report.whales,
        "below_threshold": report.below_threshold, "quarantined": report.quarantined, "range_shrinks": report.shrinks,
    })  # fmt: skip


@asset(
    group_name="onchain",
    description="Swaps of watched wallets from Helius deliveries (lake: wallet_swaps).",
)
def wallet_swaps(swap_inbox: SwapInbox, evm: EvmSource) -> MaterializeResult[None]:
    import shutil

    from drydock.adapters.solana import process_inbox
    from drydock.onchain import load_watchlist
    from drydock.warehouse import refresh_views

    inbox = swap_inbox.path()
    inbox.mkdir(parents=True, exist_ok=True)
    sample = REPO_ROOT / "data" / "sample" / "helius" / "enhanced_transactions.json"
    if (
        swap_inbox.seed_sample
        and not any(inbox.glob("*.json"))
        and not any((inbox / "processed").glob("*.json"))
    ):
        shutil.copy(sample, inbox / "sample-delivery.json")
    watch = load_watchlist()
    report = process_inbox(inbox, watch, get_settings().lake_dir)
    from drydock.adapters.evm import scan_swaps

    w3, _, _ = evm.connect()
    evm_swaps = scan_swaps(w3, watch, get_settings().lake_dir, start_block=evm.start_block)
    refresh_views()
    return MaterializeResult(metadata={"files": report.files, "swaps": report.swaps, "unwatched": report.unwatched,
                                       "skipped": report.skipped, "bad_files": report.bad_files,
                                       "evm_swaps": evm_swaps["swaps"]})  # fmt: skip


@asset(
    group_name="onchain",
    deps=[wallet_swaps],
    description="Safety score of every token the watched wallets bought (lake: token_safety).",
)
def token_safety(dex: DexSource) -> MaterializeResult[None]:
    import polars as pl

    from drydock import lake
    from drydock.adapters.token_safety import SafetyCache
    from drydock.onchain import read_wallet_swaps
    from drydock.warehouse import refresh_views

    settings = get_settings()
    mints = sorted(set(read_wallet_swaps(settings.lake_dir)["token_out"].to_list()))
    cache = SafetyCache(settings.home / "onchain" / "token_safety.sqlite")
    rows = []
    with dex.client() as client:
        for mint in mints:
            s, _ = cache.get_or_assess(mint, client)
            rows.append({"mint": mint, "checked_at": s.checked_at, "score": s.score, "liquidity_usd": s.liquidity_usd,
                         "pair_age_hours": s.pair_age_hours, "top10_share": s.top10_share,
                         "mint_authority": s.mint_authority, "freeze_authority": s.freeze_authority,
                         "checks": ",".join(k for k, ok in s.checks.items() if ok),
                         "problems": "; ".join(s.problems)})  # fmt: skip
    frame = pl.DataFrame(rows, schema={"mint": pl.String, "checked_at": pl.Datetime("us", "UTC"), "score": pl.Float64,
                                       "liquidity_usd": pl.Float64, "pair_age_hours": pl.Float64, "top10_share": pl.Float64,
                                       "mint_authority": pl.String, "freeze_authority": pl.String, "checks": pl.String,
                                       "problems": pl.String})  # fmt: skip
    lake.atomic_write_parquet(frame, settings.lake_dir / "onchain" / "token_safety.parquet")
    refresh_views(settings)
    return MaterializeResult(metadata={"tokens": len(rows), "mean_score": _mean(frame["score"])})


@asset_check(
    asset=whale_transfers,
    description="One row per (chain, tx, log index); USD above the threshold.",
)
def whale_transfers_sane() -> AssetCheckResult:
    from drydock.onchain import read_whales

    frame = read_whales(get_settings().lake_dir)
    dupes = frame.height - frame.select("chain", "tx_hash", "log_index").unique().height
    low = frame.filter(frame["usd"] < 100_000).height
    return AssetCheckResult(passed=dupes == 0 and low == 0, severity=AssetCheckSeverity.ERROR,
                            metadata={"rows": frame.height, "duplicates": dupes, "below_threshold": low})  # fmt: skip


onchain_swaps_job = define_asset_job(
    "wallet_swaps_job", selection=AssetSelection.assets(wallet_swaps)
)
token_safety_job = define_asset_job(
    "token_safety_job", selection=AssetSelection.assets(token_safety)
)


@sensor(
    job=onchain_swaps_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED
)
def helius_inbox_sensor(context: SensorEvaluationContext) -> Any:
    """A run when deliveries wait in the inbox (keyed by their names: a file is run once)."""
    inbox = get_settings().home / "inbox" / "helius"
    files = sorted(p.name for p in inbox.glob("*.json")) if inbox.exists() else []
    if not files:
        return SkipReason(f"no deliveries in {inbox}")
    return RunRequest(run_key="|".join(files))


@sensor(
    job=token_safety_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED
)
def new_token_sensor(context: SensorEvaluationContext) -> Any:
    """A token-safety run the first time a token appears in wallet_swaps."""
    from drydock.onchain import read_wallet_swaps

    mints = sorted(set(read_wallet_swaps(get_settings().lake_dir)["token_out"].to_list()))
    seen = set((context.cursor or "").split(",")) - {""}
    new = [m for m in mints if m not in seen]
    if not new:
        return SkipReason("no new tokens")
    context.update_cursor(",".join(sorted(seen | set(new))))
    return RunRequest(run_key=",".join(new))


ONCHAIN_ASSETS = [address_labels, whale_transfers, wallet_swaps, token_safety]
ONCHAIN_CHECKS = [address_labels_unique, whale_transfers_sane]
ONCHAIN_SENSORS = [helius_inbox_sensor, new_token_sensor]
ONCHAIN_JOBS = [onchain_swaps_job, token_safety_job]


def _mean(column: Any) -> float:
    """The mean of a numeric column (0.0 when empty or all null)."""
    value = column.mean()
    return float(value) if isinstance(value, int | float) else 0.0
