"""``eth_getLogs`` in block ranges that adapt to the provider, resumable and reorg-safe.

A range the provider refuses (``query returned more than 10000 results``, ``block range is too
large``, ``-32005``, a timeout) is halved and retried; after a success the next range doubles
again up to ``max_range``. A 429 is retried with backoff at the same range. Only blocks at least
``confirmations`` below the head are read. The cursor keeps the last block read and its hash; if
that block's hash changed (a reorg), reading rewinds ``confirmations`` blocks and the caller's
writes, keyed by (chain, tx hash, log index), make the re-read idempotent.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from drydock.errors import DrydockError

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_TOO_BIG = re.compile(r"range|10000|10,000|limit|too large|too many|-32005|timeout|timed out", re.I)
_RATE = re.compile(r"429|rate.?limit|too many requests", re.I)


class RangeTooLarge(DrydockError):
    """A provider refused a block range even at the minimum size."""


@dataclass(frozen=True)
class Cursor:
    """The last block read and its hash (hex)."""

    block: int
    block_hash: str


def load_cursor(path: Path) -> Cursor | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Cursor(int(data["block"]), str(data["block_hash"]))


def save_cursor(path: Path, cursor: Cursor) -> None:
    """Write atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"block": cursor.block, "block_hash": cursor.block_hash}), encoding="utf-8"
    )
    os.replace(tmp, path)


def _hex(value: Any) -> str:
    return value.hex() if hasattr(value, "hex") and not isinstance(value, str) else str(value)


@dataclass
class AdaptiveLogReader:
    """Reads logs of ``addresses`` (None: any) with ``topics`` through a web3 instance."""

    w3: Any
    topics: Sequence[str | None] = (TRANSFER_TOPIC,)
    addresses: Sequence[str] | None = None
    initial_range: int = 2_000
    max_range: int = 10_000
    confirmations: int = 12
    max_attempts: int = 6
    sleep: Callable[[float], None] = time.sleep
    shrinks: int = 0
    retries: int = 0

    def safe_head(self) -> int:
        return int(self.w3.eth.block_number) - self.confirmations

    def start_block(self, cursor: Cursor | None, default: int) -> int:
        """Where to resume: after the cursor, or ``confirmations`` earlier if its block changed."""
        if cursor is None:
            return default
        block = self.w3.eth.get_block(cursor.block)
        if _hex(block["hash"]).removeprefix("0x") != cursor.block_hash.removeprefix("0x"):
            return max(default, cursor.block - self.confirmations)
        return cursor.block + 1

    def _get(self, start: int, end: int) -> list[Any]:
        query: dict[str, Any] = {"fromBlock": start, "toBlock": end, "topics": list(self.topics)}
        if self.addresses:
            query["address"] = list(self.addresses)
        return list(self.w3.eth.get_logs(query))

    def _get_retrying(self, start: int, end: int) -> list[Any]:
        """``_get`` with a rate-limited answer retried, 1 s doubling up to 30 s (tenacity)."""

        def counted(state: RetryCallState) -> None:
            self.retries += 1

        retrying = Retrying(
            retry=retry_if_exception(lambda exc: bool(_RATE.search(f"{type(exc).__name__} {exc}"))),
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=1, max=30),
            sleep=self.sleep,
            before_sleep=counted,
            reraise=True,
        )
        return retrying(self._get, start, end)

    def read(self, start: int, end: int) -> Iterator[tuple[int, int, list[Any]]]:
        """(first block, last block, logs) chunks covering ``[start, end]`` in order."""
        size = self.initial_range
        block = start
        while block <= end:
            last = min(end, block + size - 1)
            while True:
                try:
                    logs = self._get_retrying(block, last)
                    break
                except Exception as exc:  # providers raise ValueError, HTTPError, TimeoutError...
                    text = f"{type(exc).__name__} {exc}"
                    if _TOO_BIG.search(text) and last > block:
                        self.shrinks += 1
                        size = max(1, (last - block + 1) // 2)
                        last = block + size - 1
                        continue
                    raise RangeTooLarge(
                        f"Provider refused blocks {block}-{last} ({text[:160]}); lower "
                        "initial_range or use another RPC endpoint."
                    ) from exc
            yield block, last, logs
            block = last + 1
            size = min(self.max_range, size * 2)
