"""The token catalog and the headline mention resolver: precision and recall on 104 real, hand-labelled
headlines, exact must-not-match cases, property tests, and a validated catalog."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drydock.errors import ConfigError
from drydock.tokens import load_tokens, resolve_mentions

TABLE = Path(__file__).parents[1] / "fixtures" / "news" / "mention_headlines.csv"
CATALOG = load_tokens()


def _rows() -> list[tuple[str, set[str]]]:
    with TABLE.open(encoding="utf-8", newline="") as handle:
        return [(r["headline"], set(r["expected"].split())) for r in csv.DictReader(handle)]


def test_precision_and_recall_on_real_headlines() -> None:
    rows = _rows()
    assert len(rows) >= 100 and sum(not want for _, want in rows) >= 30  # negatives included
    tp = fp = fn = 0
    for text, want in rows:
        got = {m.symbol for m in resolve_mentions(text, CATALOG)}
        tp, fp, fn = tp + len(got & want), fp + len(got - want), fn + len(want - got)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(
        f"mention resolver: precision {precision:.3f}, recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn})"
    )
    assert precision >= 0.95
    assert recall >= 0.85


@pytest.mark.parametrize(
    "text",
    [
        "US DOT wants to fund research into crypto token incentives for drivers",
        "Crypto fund One River Digital secures Series A investment",
        "Kraken plans to launch an NFT platform in the very near future",
        "Ethereum scaling solution StarkWare",  # 'solution' is not SOL
        "Alameda Research acquihires DeFi project Ren, the maker of renBTC",
        "Coinbase acquires Vector Dot Fun",
        "Pakistan, Binance Sign MOU to Explore Tokenization of $2B in State Assets",
        "Click the link to read the ADA compliance report",
        "Crypto market maker Byte Trading raises $7 million in seed funding",
    ],
)
def test_prose_words_are_not_tickers(text: str) -> None:
    got = {m.symbol for m in resolve_mentions(text, CATALOG)} - {"ETH"}
    assert got == set(), (text, got)


def test_longest_name_wins_and_each_symbol_is_reported_once_in_text_order() -> None:
    text = "Bitcoin Cash and Ethereum Classic rally while $ETH and bitcoin slide; ETH again"
    mentions = resolve_mentions(text, CATALOG)
    assert [(m.symbol, m.rule) for m in mentions] == [
        ("BCH", "name"), ("ETC", "name"), ("ETH", "cashtag"), ("BTC", "name"),
    ]  # fmt: skip
    assert text[mentions[2].start : mentions[2].end] == "$ETH"


@settings(max_examples=200, deadline=None)
@given(
    symbol=st.sampled_from(sorted(CATALOG.by_symbol)),
    before=st.text(alphabet=" .,;:!?()-'\"\t", min_size=1, max_size=5),
    after=st.text(alphabet=" .,;:!?()-'\"\t", min_size=1, max_size=5),
    lower=st.booleans(),
)
def test_a_cashtag_survives_any_padding_and_case(
    symbol: str, before: str, after: str, lower: bool
) -> None:
    tag = f"${symbol.lower() if lower else symbol}"
    assert symbol in {m.symbol for m in resolve_mentions(f"news{before}{tag}{after}today", CATALOG)}


AMBIGUOUS = sorted(t.symbol for t in CATALOG.tokens if t.ambiguous_ticker)


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(
        st.sampled_from([s.lower() for s in AMBIGUOUS] + ["the", "market", "price", "rallies"]),
        min_size=1,
        max_size=8,
    )
)
def test_lower_case_prose_never_yields_an_ambiguous_ticker(words: list[str]) -> None:
    got = {m.symbol for m in resolve_mentions(" ".join(words), CATALOG)}
    assert not got & set(AMBIGUOUS)


def test_addresses_resolve_in_any_spelling() -> None:
    usdc = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
    assert CATALOG.by_address("ethereum", usdc).symbol == "USDC"  # type: ignore[union-attr]
    assert (
        CATALOG.by_address("ethereum", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48").symbol
        == "USDC"
    )  # type: ignore[union-attr]
    assert (
        CATALOG.by_address("solana", "So11111111111111111111111111111111111111112").symbol == "SOL"
    )  # type: ignore[union-attr]
    assert CATALOG.by_address("ethereum", "0x" + "1" * 40) is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("btc,Bitcoin,,false,,", "symbol 'btc' must be an upper-case ticker"),
        ("BTC,,,false,,", "BTC has no name"),
        ("BTC,Bitcoin,,maybe,,", "ambiguous_ticker 'maybe'"),
        ("BTC,Bitcoin,,false,,ethereum:0x123", "BTC address"),
        ("BTC,Bitcoin,,false,,moon:0x" + "1" * 40, "chain 'moon'"),
    ],
)
def test_bad_catalog_rows_name_the_line_and_the_fix(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text("symbol,name,aliases,ambiguous_ticker,ambiguous_names,addresses\n" + row + "\n")
    with pytest.raises(ConfigError, match=f"line 2: {message}"):
        load_tokens(path)
    path.write_text(
        "symbol,name,aliases,ambiguous_ticker,ambiguous_names,addresses\nBTC,Bitcoin,,false,,\nBTC,B,,false,,\n"
    )
    with pytest.raises(ConfigError, match="line 3: symbol BTC repeats line 2"):
        load_tokens(path)
