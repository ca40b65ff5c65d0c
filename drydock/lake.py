"""The Parquet lake: hive-partitioned datasets written atomically, one file per partition.

A partition is written to a temp file in its own folder, fsynced, then renamed over the old file,
so an interrupted write leaves the previous partition intact and readers never see half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from drydock.settings import get_settings

PART_FILE = "part-0.parquet"


def encode_key(value: str) -> str:
    """Make a partition value path-safe: 'BTC/USDT:USDT' -> 'BTC_USDT-USDT'."""
    return value.replace("/", "_").replace(":", "-")


def decode_symbol(value: str) -> str:
    """Inverse of :func:`encode_key` for symbols."""
    return value.replace("-", ":").replace("_", "/")


def partition_dir(dataset: str, keys: Mapping[str, str], lake_dir: Path | None = None) -> Path:
    """Folder of one partition: ``<lake>/<dataset>/k1=v1/k2=v2/...``."""
    root = lake_dir if lake_dir is not None else get_settings().lake_dir
    path = root / dataset
    for key, value in keys.items():
        path = path / f"{key}={encode_key(str(value))}"
    return path


def atomic_write_parquet(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` via temp file + fsync + rename; the old file survives failures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            frame.write_parquet(handle, compression="zstd", statistics=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_partition(
    dataset: str, keys: Mapping[str, str], frame: pl.DataFrame, lake_dir: Path | None = None
) -> Path:
    """Atomically replace one partition of ``dataset`` with ``frame``."""
    return atomic_write_parquet(frame, partition_dir(dataset, keys, lake_dir) / PART_FILE)


def partition_files(
    dataset: str, pattern: Mapping[str, str], lake_dir: Path | None = None
) -> list[Path]:
    """Partition files matching ``pattern`` (missing keys match anything), sorted by path."""
    root = lake_dir if lake_dir is not None else get_settings().lake_dir
    if not (root / dataset).exists():
        return []
    glob = "/".join(f"{k}={encode_key(v) if v != '*' else '*'}" for k, v in pattern.items())
    return sorted((root / dataset).glob(f"{glob}/**/{PART_FILE}" if glob else f"**/{PART_FILE}"))


def partition_values(path: Path) -> dict[str, str]:
    """Hive key/values encoded in a partition file's path."""
    return dict(part.split("=", 1) for part in path.parent.parts if "=" in part)
