"""Watched-wallet swaps from real Helius enhanced transactions: parsing Jupiter and Raydium swaps,
the watchlist, the webhook inbox (duplicate delivery, a file that is not JSON, a payload missing
fields), and idempotent rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drydock.adapters.solana import SOL_MINT, parse_swap, process_inbox
from drydock.errors import ConfigError
from drydock.onchain import load_watchlist, read_wallet_swaps

SAMPLE = Path(__file__).parents[3] / "data" / "sample" / "helius" / "enhanced_transactions.json"
WATCHLIST = Path(__file__).parents[3] / "config" / "watchlist.toml"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


def txs() -> list[dict]:
    return json.loads(SAMPLE.read_text())


def test_jupiter_and_raydium_swaps_match_their_descriptions() -> None:
    swaps = [s for s in map(parse_swap, txs()) if not isinstance(s, str)]
    assert [s["source"] for s in swaps] == ["JUPITER"] * 6 + ["RAYDIUM"]
    first = swaps[0]
    assert (first["token_in"], first["amount_in"], first["token_out"], first["amount_out"]) == (
        USDC,
        13.279846,
        SOL_MINT,
        0.1,
    )
    assert "swapped 13.279846 USDC for 0.1 SOL" in first["description"]
    sell = swaps[3]
    assert (sell["token_in"], round(sell["amount_in"], 6), sell["token_out"]) == (
        SOL_MINT,
        1.452531,
        USDC,
    )
    assert (
        swaps[-1]["wallet"] == "Ezi9Bn5WAfbVHmWbVHuMCdDhgyZKWxRCGGcexx3EXV8L"
        and swaps[-1]["amount_in"] == 0.01
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"signature": None}, "missing signature or timestamp"),
        ({"timestamp": None}, "missing signature or timestamp"),
        ({"events": {}, "feePayer": None}, "missing events.swap and feePayer"),
        (
            {
                "events": {
                    "swap": {
                        "tokenInputs": [],
                        "nativeInput": None,
                        "tokenOutputs": [],
                        "nativeOutput": None,
                    }
                }
            },
            "swap without both sides",
        ),
        ({"transactionError": {"InstructionError": [0, "Custom"]}}, "failed transaction"),
    ],
)
def test_payloads_missing_fields_get_a_reason(change: dict, reason: str) -> None:
    tx = txs()[0] | change
    assert parse_swap(tx) == reason


def test_the_inbox_ingests_moves_files_and_a_duplicate_changes_nothing(tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    shutil.copy(SAMPLE, inbox / "001.json")
    shutil.copy(SAMPLE, inbox / "002.json")  # the same delivery twice
    (inbox / "003.json").write_text("{not json")
    broken = txs()[:1]
    del broken[0]["events"]
    broken[0]["feePayer"] = None
    (inbox / "004.json").write_text(json.dumps(broken))
    report = process_inbox(inbox, load_watchlist(WATCHLIST), lake)
    assert (report.files, report.bad_files, report.swaps) == (4, 1, 14)
    assert report.skipped == {"not a swap": 8, "missing events.swap and feePayer": 1}
    frame = read_wallet_swaps(lake)
    assert frame.height == 7 and set(frame["label"]) == {
        "jupiter-trader (sample)",
        "raydium-trader (sample)",
    }
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [
        "001.json",
        "002.json",
        "004.json",
    ]
    assert [p.name for p in (inbox / "quarantine").iterdir()] == ["003.json"]
    files = {p: p.read_bytes() for p in lake.glob("wallet_swaps/**/*.parquet")}
    shutil.copy(SAMPLE, inbox / "005.json")
    process_inbox(inbox, load_watchlist(WATCHLIST), lake)
    assert {p: p.read_bytes() for p in files} == files  # a re-delivery rewrites nothing


def test_unwatched_and_disabled_wallets_are_left_out(tmp_path: Path) -> None:
    watch = tmp_path / "w.toml"
    watch.write_text(
        '[[wallet]]\nchain = "solana"\naddress = "FCHTRYx6npkQCogtpZtEFLJeevAFGbDHhJyvqvT6F4kX"\nenabled = false\n'
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLE, inbox / "a.json")
    report = process_inbox(inbox, load_watchlist(watch), tmp_path / "lake")
    assert (report.swaps, report.unwatched) == (0, 7)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[wallet]]\nchain = "tron"\naddress = "x"\n', "chain 'tron'"),
        (
            '[[wallet]]\nchain = "solana"\naddress = "FCHTRYx6npkQCogtpZtEFLJeevAFGbDHhJyvqvT6F4kX "\n',
            "wallet 1",
        ),
        (
            '[[wallet]]\nchain = "solana"\naddress = "0x' + "1" * 40 + '"\n',
            "is not a solana address",
        ),
        (
            '[[wallet]]\nchain = "solana"\naddress = "FCHTRYx6npkQCogtpZtEFLJeevAFGbDHhJyvqvT6F4kX"\nmode = "yolo"\n',
            "mode 'yolo'",
        ),
    ],
)
def test_bad_watchlists_are_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "w.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_watchlist(path)
