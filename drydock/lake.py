"""The Parquet lake: hive-partitioned datasets written atomically, one file per partition.

A partition is written to a temp file in its own folder, fsynced, then renamed over the old file,
so an interrupted write leaves the previous partition intact and readers never see half a file.

Hive values are percent-encoded in exactly one place, :func:`encode_value` / :func:`decode_value`:
every character except ``A-Z a-z 0-9 _ -`` becomes ``%XX`` per UTF-8 byte (``%`` and ``.``
included), so the encoding is reversible and injective, never yields ``.``/``..`` or a glob
character, and ``BTC/USDT`` (``BTC%2FUSDT``) cannot collide with ``BTC_USDT``. It is the escaping
DuckDB's and polars' ``hive_partitioning`` undo when reading, so views see the raw symbol. Folders
written with the earlier lossy encoding (``BTC_USDT``, ``:`` as ``-``) are not read: there are no
users of it yet, so no migration exists.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob as globlib
import hashlib
import os
import string
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final
from urllib.parse import unquote

import polars as pl

from drydock.errors import CorruptDataError, DrydockError
from drydock.settings import get_settings

__all__ = [
    "COMPRESSION",
    "LOCKS",
    "PART_FILE",
    "atomic_write_parquet",
    "decode_value",
    "encode_value",
    "merge_partition",
    "partition_dir",
    "partition_files",
    "partition_lock",
    "partition_values",
    "read_partition_file",
    "remove_partition",
    "write_partition",
]

PART_FILE = "part-0.parquet"
#: Parquet codec of lake files. lz4 over zstd: on a month of real 1m bars files are 52% bigger
#: (1.2 vs 0.8 MB) but read 2.5x faster (1.8 vs 4.6 ms) and write 2-4x faster, and the lake is
#: read far more often than written; an object-store lake billed by bytes would pick zstd.
COMPRESSION: Final = "lz4"
LOCKS = ".locks"


_SAFE = frozenset(string.ascii_letters + string.digits + "_-")


def encode_value(value: str) -> str:
    """Percent-encode a hive value reversibly: 'BTC/USDT:USDT' -> 'BTC%2FUSDT%3AUSDT'."""
    if not value:
        raise DrydockError("A lake partition value is empty; pass a non-empty symbol, date, ...")
    return "".join(
        char if char in _SAFE else "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
        for char in value
    )


def decode_value(text: str) -> str:
    """Inverse of :func:`encode_value`: 'BTC%2FUSDT' -> 'BTC/USDT'."""
    return unquote(text, errors="strict")


def _root(lake_dir: Path | None) -> Path:
    return lake_dir if lake_dir is not None else get_settings().lake_dir


def partition_dir(dataset: str, keys: Mapping[str, str], lake_dir: Path | None = None) -> Path:
    """Folder of one partition: ``<lake>/<dataset>/k1=v1/k2=v2/...`` with encoded values."""
    path = _root(lake_dir) / dataset
    for key, value in keys.items():
        path = path / f"{key}={encode_value(str(value))}"
    return path


def atomic_write_parquet(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` via temp file + fsync + rename; the old file survives failures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            frame.write_parquet(handle, compression=COMPRESSION, statistics=True)
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


def remove_partition(dataset: str, keys: Mapping[str, str], lake_dir: Path | None = None) -> bool:
    """Delete one partition's file (and its folder when empty); True when a file was removed."""
    folder = partition_dir(dataset, keys, lake_dir)
    path = folder / PART_FILE
    if not path.exists():
        return False
    path.unlink()
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    with contextlib.suppress(OSError):  # something else lives there (a temp file): keep it
        folder.rmdir()
    return True


def partition_files(
    dataset: str, pattern: Mapping[str, str], lake_dir: Path | None = None
) -> list[Path]:
    """Partition files whose values equal ``pattern`` exactly, sorted by path.

    ``pattern`` gives the leading hive keys in layout order; keys left out match anything. Values
    are literal (encoded, then glob-escaped): no value, not even '*', acts as a wildcard.
    """
    base = _root(lake_dir) / dataset
    if not base.exists():
        return []
    prefix = "/".join(f"{k}={globlib.escape(encode_value(str(v)))}" for k, v in pattern.items())
    files = base.glob(f"{prefix}/**/{PART_FILE}" if prefix else f"**/{PART_FILE}")
    wanted = {k: str(v) for k, v in pattern.items()}
    return sorted(
        f for f in files if all(partition_values(f).get(k) == v for k, v in wanted.items())
    )


def partition_values(path: Path) -> dict[str, str]:
    """Decoded hive key/values of a partition file's path."""
    return {
        key: decode_value(value)
        for key, value in (part.split("=", 1) for part in path.parent.parts if "=" in part)
    }


@contextlib.contextmanager
def partition_lock(folder: Path, lake_dir: Path | None = None) -> Iterator[None]:
    """Hold an exclusive OS lock on one partition folder (read-modify-write across processes).

    Lock files live in ``<lake>/.locks/`` named by a hash of the folder, outside the partition
    folders (so readers' globs never see them and empty folders can go); they are never deleted,
    because deleting a lock file another process waits on would split the lock.
    """
    root = _root(lake_dir)
    locks = root / LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(str(folder.relative_to(root)).encode()).hexdigest()[:32]
    with open(locks / f"{name}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def read_partition_file(path: Path, rebuild: str) -> pl.DataFrame:
    """Read one partition file; an unreadable file raises CorruptDataError naming it and ``rebuild``."""
    try:
        return pl.read_parquet(path, hive_partitioning=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise CorruptDataError(
            f"The lake file {path} is unreadable ({type(exc).__name__}: {str(exc)[:120]}). "
            f"Rebuild it with `{rebuild}` (the writer replaces an unreadable file), or delete it."
        ) from exc


def merge_partition(
    dataset: str,
    keys: Mapping[str, str],
    new: pl.DataFrame,
    keep: pl.Expr | None,
    rebuild: str,
    lake_dir: Path | None = None,
    sort_by: str = "ts",
) -> Path | None:
    """Replace part of one partition under its lock: existing rows where ``keep`` holds + ``new``.

    ``keep=None`` keeps every existing row. The result is sorted by ``sort_by`` (stable) and
    written atomically, only when it differs from the file (so re-writing the same data leaves the
    file byte-identical and untouched); an empty result removes the file. An unreadable existing
    file is renamed aside (``part-0.parquet.corrupt``) and replaced: the caller is rebuilding.
    Returns the partition file, or None when the partition is now empty.
    """
    folder = partition_dir(dataset, keys, lake_dir)
    path = folder / PART_FILE
    with partition_lock(folder, lake_dir):
        existing: pl.DataFrame | None = None
        if path.exists():
            try:
                existing = read_partition_file(path, rebuild)
            except CorruptDataError:
                os.replace(path, path.with_name(PART_FILE + ".corrupt"))
        kept = existing if existing is None or keep is None else existing.filter(keep)
        parts = [frame for frame in (kept, new) if frame is not None and frame.height]
        if not parts:
            remove_partition(dataset, keys, lake_dir)
            return None
        merged = pl.concat(parts, how="vertical_relaxed") if len(parts) > 1 else parts[0]
        merged = merged.sort(sort_by, maintain_order=True)
        if existing is not None and existing.equals(merged):
            return path
        return atomic_write_parquet(merged, path)
