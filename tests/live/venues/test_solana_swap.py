"""Market orders through the Solana venue in LiteSVM (solders' in-process VM with the real SPL
Token program): a buy and a sell settled atomically against a counterparty pool (two
TransferChecked legs, wallet and pool authority signing), fills read from the confirmed
transaction, a policy deny or the kill switch leaves nothing signed, a duplicate id settles once,
a crash between storing and sending resumes with no duplicate."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from solders.account import Account
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from drydock.adapters.solana import LiteSvmClient
from drydock.policy import Policy, PolicyContext, parse_policy
from drydock.policy._solana_payload import TOKEN_PROGRAM
from drydock.types import Order, Side
from live.venues.base import InsufficientFundsError, VenueError
from live.venues.evm import PolicyDenied
from live.venues.signed_store import SignedStore
from live.venues.solana import SolanaVenue
from live.venues.solana_swap import PRICE_QUANTUM, SettlementPool, SolanaSwapVenue, SplToken

WALLET = Keypair.from_seed(bytes(range(32)))
POOL = Keypair.from_seed(bytes(range(32, 64)))  # the counterparty's authority (a test key)
USDC_MINT = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
SOL_MINT = Pubkey.from_string("So11111111111111111111111111111111111111112")
TOKEN = Pubkey.from_string(TOKEN_PROGRAM)
ACCOUNTS = {name: Keypair.from_seed(bytes([i]) * 32).pubkey()
            for i, name in enumerate(["w_sol", "w_usdc", "p_sol", "p_usdc"], start=1)}  # fmt: skip
POOL_SOL, POOL_USDC = 10_000, 1_500_000  # 150 USDC per SOL
T0 = datetime(2024, 1, 9, tzinfo=UTC)


def mint_data(decimals: int, supply: int) -> bytes:
    return struct.pack("<I32sQBBI32s", 0, bytes(32), supply, decimals, 1, 0, bytes(32))


def token_account_data(mint: Pubkey, owner: Pubkey, amount: int) -> bytes:
    return (bytes(mint) + bytes(owner) + struct.pack("<Q", amount) + bytes(36) + bytes([1])
            + bytes(12) + struct.pack("<Q", 0) + bytes(36))  # fmt: skip


@pytest.fixture
def svm() -> LiteSVM:
    return make_svm()


def make_svm() -> LiteSVM:
    """A LiteSVM with the two mints, the wallet's and the pool's token accounts."""
    svm = LiteSVM()
    svm.airdrop(WALLET.pubkey(), 5 * 10**9)
    rent = svm.minimum_balance_for_rent_exemption(165)
    svm.set_account(USDC_MINT, Account(rent, mint_data(6, 10**13), TOKEN, False, 0))
    svm.set_account(SOL_MINT, Account(rent, mint_data(9, 10**16), TOKEN, False, 0))
    holdings = {"w_sol": (SOL_MINT, WALLET, 0), "w_usdc": (USDC_MINT, WALLET, 2_000 * 10**6),
                "p_sol": (SOL_MINT, POOL, POOL_SOL * 10**9),
                "p_usdc": (USDC_MINT, POOL, POOL_USDC * 10**6)}  # fmt: skip
    for name, (mint, owner, amount) in holdings.items():
        data = token_account_data(mint, owner.pubkey(), amount)
        svm.set_account(ACCOUNTS[name], Account(rent, data, TOKEN, False, 0))
    return svm


def policy(destinations: list[Pubkey] | None = None) -> Policy:
    dest = destinations if destinations is not None else list(ACCOUNTS.values())
    return parse_policy({"version": "sol-swap", "transaction": {"solana": {
        "programs": ["11111111111111111111111111111111", TOKEN_PROGRAM,
                     "ComputeBudget111111111111111111111111111111"],
        "max_lamports": 0,
        "mints": [{"mint": str(USDC_MINT), "symbol": "USDC", "decimals": 6,
                   "max_amount": 10_000.0},
                  {"mint": str(SOL_MINT), "symbol": "SOL", "decimals": 9, "max_amount": 50.0}],
        "destinations": [str(d) for d in dest],
        "max_priority_fee_lamports": 10_000,
        "max_instructions": 4,
    }}})  # fmt: skip


def pool(slippage_bps: int = 100) -> SettlementPool:
    tokens = {
        "SOL": SplToken("SOL", SOL_MINT, 9, ACCOUNTS["w_sol"], ACCOUNTS["p_sol"]),
        "USDC": SplToken("USDC", USDC_MINT, 6, ACCOUNTS["w_usdc"], ACCOUNTS["p_usdc"]),
    }
    return SettlementPool(tokens, ("SOL/USDC",), POOL, slippage_bps=Decimal(slippage_bps))


def venue(client: Any, tmp_path: Path, *, slippage_bps: int = 100, policy_: Policy | None = None,
          **kw: Any) -> SolanaSwapVenue:  # fmt: skip
    inner = SolanaVenue(client, WALLET, policy_ or policy(),
                        SignedStore(tmp_path / "signed.sqlite"), sleep=lambda s: None, **kw)  # fmt: skip
    return SolanaSwapVenue(inner, pool(slippage_bps))


def order(cid: str, side: Side, qty: str, price: str = "150") -> Order:
    return Order(cid, "s", "solana", "SOL/USDC", side, Decimal(qty), Decimal(price), T0)


def amount(svm: LiteSVM, name: str) -> int:
    return int(struct.unpack_from("<Q", bytes(svm.get_account(ACCOUNTS[name]).data), 64)[0])


def pool_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    with_fee = amount_in * (10_000 - fee_bps)
    return with_fee * reserve_out // (reserve_in * 10_000 + with_fee)


def test_a_market_buy_then_sell_settle_at_the_pools_price(svm: LiteSVM, tmp_path: Path) -> None:
    v = venue(LiteSvmClient(svm), tmp_path)
    [buy] = v.submit(order("s-buy", Side.BUY, "2"))
    paid = 300 * 10**6  # 2 x 150 USDC
    got = pool_out(paid, POOL_USDC * 10**6, POOL_SOL * 10**9)
    assert got == 1_993_602_475  # 1.9936 SOL: the 0.3% fee and 0.02% price impact
    assert (buy.side, buy.qty, buy.fee, buy.venue) == (Side.BUY, Decimal("1.993602475"),
                                                       Decimal(0), "solana")  # fmt: skip
    assert buy.price == (Decimal(300) / Decimal("1.993602475")).quantize(PRICE_QUANTUM)
    assert round(buy.price, 4) == Decimal("150.4814")
    assert (amount(svm, "w_sol"), amount(svm, "w_usdc")) == (got, 1_700 * 10**6)
    assert amount(svm, "p_usdc") == (POOL_USDC + 300) * 10**6  # both legs landed
    assert v.fills_for("s-buy") == [buy]

    [sell] = v.submit(order("s-sell", Side.SELL, "1.5"))
    usdc_out = pool_out(1_500_000_000, POOL_SOL * 10**9 - got, POOL_USDC * 10**6 + paid)
    assert (sell.side, sell.qty) == (Side.SELL, Decimal("1.5"))
    assert sell.price == (Decimal(usdc_out) / 10**6 / Decimal("1.5")).quantize(PRICE_QUANTUM)
    assert round(sell.price, 4) == Decimal("149.5874")
    assert amount(svm, "w_sol") == got - 1_500_000_000
    assert v.balances() == {"SOL": Decimal(got - 1_500_000_000).scaleb(-9),
                            "USDC": Decimal(1_700 * 10**6 + usdc_out).scaleb(-6)}  # fmt: skip


def test_a_duplicate_submit_settles_once(svm: LiteSVM, tmp_path: Path) -> None:
    v = venue(LiteSvmClient(svm), tmp_path)
    first = v.submit(order("s-dup", Side.BUY, "2"))
    again = venue(LiteSvmClient(svm), tmp_path).submit(order("s-dup", Side.BUY, "2"))
    assert again == first == v.fills_for("s-dup")
    assert amount(svm, "w_usdc") == 1_700 * 10**6  # paid once


class Killed(BaseException):
    """Stands in for SIGKILL at the ``signed`` checkpoint: nothing after it runs."""


def test_a_crash_between_storing_and_sending_resumes_with_no_duplicate(
    svm: LiteSVM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def die(name: str) -> None:
        raise Killed(name)

    monkeypatch.setattr("live.venues.solana.checkpoint", die)
    with pytest.raises(Killed):
        venue(LiteSvmClient(svm), tmp_path).submit(order("s-crash", Side.BUY, "2"))
    monkeypatch.undo()
    stored = SignedStore(tmp_path / "signed.sqlite").get("s-crash:swap")
    assert stored is not None and amount(svm, "w_usdc") == 2_000 * 10**6  # never sent
    resumed = venue(LiteSvmClient(svm), tmp_path)
    assert resumed.fills_for("s-crash") == []
    [fill] = resumed.submit(order("s-crash", Side.BUY, "2"))
    assert resumed.venue.store.get("s-crash:swap").tx_hash == stored.tx_hash  # type: ignore[union-attr]
    assert fill.qty == Decimal("1.993602475") and amount(svm, "w_usdc") == 1_700 * 10**6
    assert resumed.submit(order("s-crash", Side.BUY, "2")) == [fill]
    assert amount(svm, "w_usdc") == 1_700 * 10**6  # one settlement


def test_a_pool_account_off_the_allowlist_is_denied_and_nothing_is_signed(
    svm: LiteSVM, tmp_path: Path
) -> None:
    wallet_only = policy([ACCOUNTS["w_sol"], ACCOUNTS["w_usdc"]])
    v = venue(LiteSvmClient(svm), tmp_path, policy_=wallet_only)
    with pytest.raises(PolicyDenied, match="destination_not_allowed"):
        v.submit(order("s-deny", Side.BUY, "2"))
    assert v.venue.store.get("s-deny:swap") is None and v.fills_for("s-deny") == []
    assert svm.get_balance(WALLET.pubkey()) == 5 * 10**9  # not even a fee paid


def test_the_kill_switch_denies_the_settlement(svm: LiteSVM, tmp_path: Path) -> None:
    v = venue(LiteSvmClient(svm), tmp_path, context=lambda: PolicyContext(
        now=datetime.now(UTC), kill_file_present=True))  # fmt: skip
    with pytest.raises(PolicyDenied, match="kill"):
        v.submit(order("s-kill", Side.BUY, "2"))
    assert v.venue.store.get("s-kill:swap") is None


def test_slippage_and_funds_are_checked_before_signing(svm: LiteSVM, tmp_path: Path) -> None:
    tight = venue(LiteSvmClient(svm), tmp_path, slippage_bps=10)
    with pytest.raises(VenueError, match="below the slippage bound"):
        tight.submit(order("s-tight", Side.BUY, "2"))
    with pytest.raises(InsufficientFundsError, match="holds 0 SOL"):
        tight.submit(order("s-poor", Side.SELL, "1"))
    assert tight.venue.store.get("s-tight:swap") is None
    assert svm.get_balance(WALLET.pubkey()) == 5 * 10**9
    with pytest.raises(VenueError, match="no pair 'BONK/USDC'"):
        tight.instrument("BONK/USDC")
