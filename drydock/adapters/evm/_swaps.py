"""Watched wallets' swaps on EVM chains from Uniswap V2 and V3 ``Swap`` events.

V2: ``Swap(sender, amount0In, amount1In, amount0Out, amount1Out, to)``; V3: ``Swap(sender,
recipient, amount0, amount1, sqrtPriceX96, liquidity, tick)`` where a positive amount went into the
pool. The wallet is the recipient (``to``), the pool's ``token0()``/``token1()`` are read once per
pool and amounts scaled by each token's ``decimals()`` (read once; unknown decimals: skipped with
the reason). Rows go to ``wallet_swaps`` keyed by (chain, tx hash, log index).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drydock.adapters.evm._erc20 import DecimalsCache, _hex
from drydock.onchain import Wallet

V2_SWAP = "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
V3_SWAP = "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67"
TOKEN0, TOKEN1 = "0x0dfe1681", "0xd21220a7"


def _words(data: str) -> list[int]:
    body = data[2:]
    return [int(body[i : i + 64], 16) for i in range(0, len(body), 64)]


def _signed(word: int) -> int:
    return word - (1 << 256) if word >= 1 << 255 else word


class PoolTokens:
    """token0/token1 of each pool, read once."""

    def __init__(self, w3: Any):
        self.w3 = w3
        self.known: dict[str, tuple[str, str] | None] = {}

    def get(self, pool: str) -> tuple[str, str] | None:
        if pool not in self.known:
            try:
                to = self.w3.to_checksum_address(pool)
                pair = tuple(
                    "0x" + _hex(self.w3.eth.call({"to": to, "data": sel}))[-40:]
                    for sel in (TOKEN0, TOKEN1)
                )
                self.known[pool] = (pair[0].lower(), pair[1].lower())
            except Exception:
                self.known[pool] = None
        return self.known[pool]


def decode_swaps(logs: Sequence[Any], w3: Any, watch: Sequence[Wallet], chain: str = "ethereum",
                 decimals: DecimalsCache | None = None, pools: PoolTokens | None = None,
                 times: dict[int, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:  # fmt: skip
    """(rows for wallet_swaps, counts of skipped logs by reason) for the watched wallets."""
    from datetime import UTC, datetime

    decimals = decimals or DecimalsCache(w3)
    pools = pools or PoolTokens(w3)
    times = times if times is not None else {}
    watched = {w.address: w for w in watch if w.enabled and w.chain == chain}
    rows: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for log in logs:
        topics = [_hex(t).lower() for t in log.get("topics", [])]
        if not topics or topics[0] not in (V2_SWAP, V3_SWAP) or len(topics) != 3:
            skip("not a Uniswap swap")
            continue
        words = _words(_hex(log.get("data", "0x")))
        recipient = "0x" + topics[2][26:]
        wallet = watched.get(recipient)
        if wallet is None:
            skip("unwatched")
            continue
        if topics[0] == V2_SWAP and len(words) == 4:
            a0in, a1in, a0out, a1out = words
            token_in_is_0 = a0in > 0
            raw_in, raw_out = (a0in, a1out) if token_in_is_0 else (a1in, a0out)
        elif topics[0] == V3_SWAP and len(words) == 5:
            a0, a1 = _signed(words[0]), _signed(words[1])
            token_in_is_0 = a0 > 0
            raw_in, raw_out = (a0, -a1) if token_in_is_0 else (a1, -a0)
        else:
            skip("malformed swap data")
            continue
        pool = _hex(log["address"]).lower()
        pair = pools.get(pool)
        if pair is None:
            skip("pool without token0/token1")
            continue
        token_in, token_out = (pair[0], pair[1]) if token_in_is_0 else (pair[1], pair[0])
        d_in, d_out = decimals.get(token_in), decimals.get(token_out)
        if d_in is None or d_out is None:
            skip("unknown_decimals")
            continue
        block = int(log["blockNumber"])
        if block not in times:
            times[block] = datetime.fromtimestamp(int(w3.eth.get_block(block)["timestamp"]), UTC)
        rows.append({
            "chain": chain, "tx_id": _hex(log["transactionHash"]).lower(), "index": int(log["logIndex"]),
            "ts": times[block], "wallet": recipient, "label": wallet.label, "mode": wallet.mode,
            "source": "UNISWAP_V2" if topics[0] == V2_SWAP else "UNISWAP_V3",
            "token_in": token_in, "amount_in": raw_in / 10**d_in, "token_out": token_out,
            "amount_out": raw_out / 10**d_out, "description": f"pool {pool}",
        })  # fmt: skip
    return rows, skipped


def scan_swaps(w3: Any, watch: Sequence[Wallet], lake_dir: Any, *, chain: str = "ethereum",
               start_block: int = 0, confirmations: int = 12) -> dict[str, Any]:  # fmt: skip
    """Read V2/V3 Swap logs from the cursor to the confirmed head, write the watched wallets'
    swaps to ``wallet_swaps``, advance the cursor range by range (as the whale scan does)."""
    from drydock.adapters.evm._logs import AdaptiveLogReader, Cursor, load_cursor, save_cursor
    from drydock.onchain import write_swaps

    topics: list[Any] = [[V2_SWAP, V3_SWAP]]
    reader = AdaptiveLogReader(w3, topics=topics, confirmations=confirmations)
    cursor_path = lake_dir / "onchain" / "cursors" / f"{chain}-swaps.json"
    first, head = reader.start_block(load_cursor(cursor_path), start_block), reader.safe_head()
    decimals, pools = DecimalsCache(w3), PoolTokens(w3)
    times: dict[int, Any] = {}
    found = 0
    skipped: dict[str, int] = {}
    for _start, end, logs in reader.read(first, head) if first <= head else ():
        rows, skips = decode_swaps(logs, w3, watch, chain, decimals, pools, times)
        write_swaps(rows, lake_dir)
        found += len(rows)
        for k, v in skips.items():
            skipped[k] = skipped.get(k, 0) + v
        save_cursor(cursor_path, Cursor(end, _hex(w3.eth.get_block(end)["hash"])))
    return {"swaps": found, "skipped": skipped}
