"""Whale transfers from a real in-process EVM (web3 + py-evm, vyper-compiled tokens): decoding,
decimals read once, the USD threshold, classification by labels, adaptive block ranges against
a provider that refuses large ranges, the cursor, confirmation depth and idempotent reruns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drydock.adapters.evm import (
    TRANSFER_TOPIC,
    AdaptiveLogReader,
    DecimalsCache,
    RangeTooLarge,
    decode_transfer,
)
from drydock.adapters.evm import scan_whales as scan
from drydock.labels import Label, LabelBook
from drydock.onchain import read_whales
from drydock.tokens import load_tokens
from tests.evm_contracts import deploy as deploy_contract

pytestmark = pytest.mark.integration  # vyper compiles and py-evm (~5 s)

CONTRACTS = Path(__file__).parents[2] / "fixtures" / "contracts"
USDC = 10**6


class Chain:
    """A py-evm chain with a 6-decimal stablecoin, a token whose decimals() reverts, and labelled
    accounts: 1 is a Binance hot wallet, 2 a Kraken deposit address."""

    def __init__(self) -> None:
        from web3 import EthereumTesterProvider, Web3

        self.w3 = w3 = Web3(EthereumTesterProvider())
        self.accounts = [a.lower() for a in w3.eth.accounts]
        w3.eth.default_account = w3.eth.accounts[0]

        def deploy(name: str, *args: Any) -> Any:
            return deploy_contract(w3, name, *args)

        self.usdc = deploy("erc20", "USD Coin", "USDC", 6, 10_000_000 * USDC)
        self.odd = deploy("no_decimals", 1_000_000)
        self.labels = LabelBook(
            {("ethereum", self.accounts[1]): Label("ethereum", self.accounts[1], "Binance", "exchange_hot"),
             ("ethereum", self.accounts[2]): Label("ethereum", self.accounts[2], "Kraken", "exchange_deposit")},
            [],
        )  # fmt: skip

    def send(self, token: Any, sender: int, to: int, amount: int) -> None:
        tx = token.functions.transfer(self.w3.eth.accounts[to], amount).transact(
            {"from": self.w3.eth.accounts[sender]}
        )
        self.w3.eth.wait_for_transaction_receipt(tx)


@pytest.fixture
def chain() -> Chain:
    c = Chain()
    c.send(c.usdc, 0, 1, 500_000 * USDC)  # into Binance: exchange_inflow
    c.send(c.usdc, 1, 3, 300_000 * USDC)  # out of Binance: exchange_outflow
    c.send(c.usdc, 3, 4, 50 * USDC)  # below the threshold
    c.send(c.usdc, 3, 2, 150_000 * USDC)  # into Kraken: exchange_inflow
    c.send(c.odd, 0, 5, 10)  # decimals() reverts
    c.w3.testing.mine(3)
    return c


def _scan(chain: Chain, lake: Path, reader: AdaptiveLogReader | None = None) -> Any:
    return scan(chain.w3, "ethereum", chain.labels, load_tokens(), lake, threshold_usd=100_000,
                symbols={chain.usdc.address: "USDC"}, reader=reader or AdaptiveLogReader(chain.w3, confirmations=2))  # fmt: skip


def test_whales_are_classified_priced_and_quarantined(chain: Chain, tmp_path: Path) -> None:
    report = _scan(chain, tmp_path)
    frame = read_whales(tmp_path)
    kinds = [(r["kind"], r["amount"]) for r in frame.iter_rows(named=True)]
    assert kinds == [("mint", 10_000_000.0), ("exchange_inflow", 500_000.0), ("exchange_outflow", 300_000.0),
                     ("exchange_inflow", 150_000.0)]  # fmt: skip
    assert frame["usd"].to_list() == frame["amount"].to_list()  # a stablecoin at 1 USD
    assert frame.filter(frame["kind"] == "exchange_outflow")["sender_entity"].to_list() == [
        "Binance"
    ]
    assert (frame["significance"] > 0).all() and (frame["significance"] <= 1).all()
    assert report.below_threshold == 1 and report.quarantined == {"unknown_decimals": 2}


def test_a_rerun_reads_nothing_new_and_changes_no_file(chain: Chain, tmp_path: Path) -> None:
    _scan(chain, tmp_path)
    files = {p: p.read_bytes() for p in tmp_path.glob("whale_transfers/**/*.parquet")}
    again = _scan(chain, tmp_path)
    assert again.logs == 0 and {p: p.read_bytes() for p in files} == files
    chain.send(chain.usdc, 0, 1, 200_000 * USDC)
    chain.w3.testing.mine(3)
    more = _scan(chain, tmp_path)
    assert more.whales == 1 and read_whales(tmp_path).height == 5


class Refusing:
    """web3's eth with get_logs refusing ranges over ``limit`` blocks and timing out once."""

    def __init__(self, w3: Any, limit: int) -> None:
        self._w3, self.limit, self.timed_out, self.calls = w3, limit, False, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._w3.eth, name)

    def get_logs(self, query: dict[str, Any]) -> Any:
        self.calls += 1
        if not self.timed_out:
            self.timed_out = True
            raise TimeoutError("request timed out")
        if query["toBlock"] - query["fromBlock"] + 1 > self.limit:
            raise ValueError({"code": -32005, "message": "query returned more than 10000 results"})
        return self._w3.eth.get_logs(query)


def test_ranges_shrink_on_refusals_and_the_result_is_the_same(chain: Chain, tmp_path: Path) -> None:
    class W3:
        def __init__(self, w3: Any) -> None:
            self.eth = Refusing(w3, limit=2)
            self.to_checksum_address = w3.to_checksum_address

    proxy = W3(chain.w3)
    reader = AdaptiveLogReader(proxy, confirmations=2, initial_range=64)
    report = scan(proxy, "ethereum", chain.labels, load_tokens(), tmp_path / "a", threshold_usd=100_000,
                  symbols={chain.usdc.address: "USDC"}, reader=reader, decimals=DecimalsCache(chain.w3))  # fmt: skip
    plain = _scan(chain, tmp_path / "b")
    assert report.shrinks >= 3 and report.whales == plain.whales == 4
    assert read_whales(tmp_path / "a").equals(read_whales(tmp_path / "b"))

    class Never(Refusing):
        def get_logs(self, query: dict[str, Any]) -> Any:
            raise ValueError("block range is too large")

    stubborn = AdaptiveLogReader(type("W", (), {"eth": Never(chain.w3, 0)})(), confirmations=0)
    with pytest.raises(RangeTooLarge, match="lower initial_range or use another RPC"):
        list(stubborn.read(0, 5))


def test_blocks_inside_the_confirmation_depth_are_not_read_and_a_reorg_there_costs_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    _scan(chain, tmp_path)
    snapshot = chain.w3.testing.snapshot()
    chain.send(chain.usdc, 0, 1, 400_000 * USDC)  # only 1 confirmation: not read yet
    assert _scan(chain, tmp_path).whales == 0
    chain.w3.testing.revert(snapshot)  # the block is dropped; another history is mined
    chain.send(chain.usdc, 0, 2, 250_000 * USDC)
    chain.w3.testing.mine(3)
    assert _scan(chain, tmp_path).whales == 1
    amounts = sorted(read_whales(tmp_path)["amount"].to_list())
    assert 250_000.0 in amounts and 400_000.0 not in amounts


def test_decimals_are_read_once_per_token(chain: Chain) -> None:
    cache = DecimalsCache(chain.w3)
    assert [cache.get(chain.usdc.address) for _ in range(3)] == [6, 6, 6] and cache.calls == 1
    assert cache.get(chain.odd.address) is None and cache.get(chain.accounts[7]) is None


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        ({"topics": ["0x" + "11" * 32]}, "not a Transfer event"),
        (
            {
                "topics": [
                    TRANSFER_TOPIC,
                    "0x" + "00" * 12 + "aa" * 20,
                    "0x" + "00" * 12 + "bb" * 20,
                    "0x" + "00" * 31 + "01",
                ],
                "data": "0x",
            },
            "4 topics",
        ),
        (
            {
                "topics": [TRANSFER_TOPIC, "0x" + "ff" * 32, "0x" + "00" * 12 + "bb" * 20],
                "data": "0x" + "00" * 32,
            },
            "malformed address topic",
        ),
        (
            {
                "topics": [
                    TRANSFER_TOPIC,
                    "0x" + "00" * 12 + "aa" * 20,
                    "0x" + "00" * 12 + "bb" * 20,
                ],
                "data": "0x01",
            },
            "data of 1 bytes",
        ),
    ],
)
def test_malformed_logs_get_a_reason(log: dict[str, Any], reason: str) -> None:
    result = decode_transfer(log)
    assert isinstance(result, str) and reason in result


def test_price_impact_view_reads_the_bars_after_a_transfer(btc_lake: Any, settings: Any) -> None:
    from datetime import UTC, datetime

    import polars as pl

    from drydock import warehouse
    from drydock.onchain import write_whales as _write

    at = datetime(2024, 1, 2, 5, 30, tzinfo=UTC)
    row = {"chain": "ethereum", "tx_hash": "0x01", "log_index": 0, "block": 1, "ts": at, "token": "0xwbtc",
           "symbol": "WBTC", "sender": "0xa", "receiver": "0xb", "amount": 10.0, "usd": 450_000.0,
           "kind": "exchange_inflow", "significance": 0.5, "sender_entity": None, "receiver_entity": "Binance"}  # fmt: skip
    _write([row], settings.lake_dir)
    warehouse.refresh_views(settings)
    bars = pl.read_parquet(next(settings.lake_dir.glob("ohlcv/**/*.parquet")))
    with warehouse.connect(settings) as con:
        got = con.execute(
            "SELECT price_at, price_1h, price_24h, impact_1h FROM whale_price_impact"
        ).fetchone()
    closes = dict(
        con_rows
        for con_rows in pl.concat(
            [pl.read_parquet(p) for p in settings.lake_dir.glob("ohlcv/**/*.parquet")]
        )
        .select("ts", "close")
        .iter_rows()
    )
    p0, p1, p24 = (closes[datetime(2024, 1, d, h, tzinfo=UTC)] for d, h in ((2, 5), (2, 6), (3, 5)))
    assert got == pytest.approx((p0, p1, p24, p1 / p0 - 1)) and bars.height > 0
