"""The token catalog (symbols, names, aliases, chain addresses) and the headline mention resolver.

Resolution rules (docs/news.md), chosen so that "SOL" inside "solution", the word "one", "link"
or "ADA" in ordinary prose are not hits:

- a cashtag (``$SOL``, any case) always counts;
- a full name or alias counts case-insensitively on word boundaries ("Bitcoin", "bitcoin's"),
  longest first ("Bitcoin Cash" is BCH, not BTC; "Ethereum Classic" is ETC);
- a name that is also an English word (``ambiguous_names``: Avalanche, Polygon, Stellar, ...)
  counts only capitalized and with crypto context somewhere in the text (a context word or
  another asset mention);
- a ticker counts only in upper case on word boundaries ("ETH", "ETH-USD", not "renBTC");
- an ambiguous ticker (``ambiguous_ticker``: ADA, DOT, LINK, NEAR, ONE, OP, UNI, ...) also needs
  its name elsewhere in the text or a market word within three words of it ("DOT Sinks 2%",
  "delist ADA, TRX"), so "US DOT wants" is not Polkadot.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from drydock.errors import ConfigError
from drydock.symbols import canonical_address

__all__ = [
    "CHAINS",
    "CONTEXT",
    "NEAR_WORDS",
    "TOKENS_FILE",
    "Mention",
    "Token",
    "TokenCatalog",
    "load_tokens",
    "resolve_mentions",
]

TOKENS_FILE = Path(__file__).resolve().parents[1] / "data" / "sample" / "tokens.csv"
CHAINS = ("ethereum", "solana", "base", "arbitrum", "bsc", "polygon")
#: Words that make a text about crypto markets (lower case).
CONTEXT = frozenset(
    [
        "token",
        "tokens",
        "coin",
        "coins",
        "crypto",
        "cryptocurrency",
        "cryptocurrencies",
        "blockchain",
        "blockchains",
        "network",
        "mainnet",
        "testnet",
        "protocol",
        "defi",
        "nft",
        "nfts",
        "staking",
        "validator",
        "validators",
        "chain",
        "layer",
        "rollup",
        "bridge",
        "stablecoin",
        "airdrop",
        "wallet",
        "exchange",
        "dex",
        "tvl",
        "dapp",
        "dapps",
        "web3",
        "ecosystem",
        "smart",
        "contract",
        "contracts",
        "price",
    ]
)
#: Market words that, within three words, make an ambiguous ticker a ticker.
NEAR_WORDS = frozenset(
    [
        "price",
        "prices",
        "rally",
        "rallies",
        "surges",
        "surge",
        "jumps",
        "gains",
        "gain",
        "falls",
        "drops",
        "sinks",
        "slides",
        "plunges",
        "soars",
        "tumbles",
        "climbs",
        "dips",
        "rises",
        "token",
        "coin",
        "coins",
        "list",
        "lists",
        "listing",
        "delist",
        "delists",
        "staking",
        "raises",
        "etf",
        "etfs",
        "futures",
        "perps",
        "perpetuals",
        "holders",
        "whales",
        "airdrop",
    ]
)
_WORD = re.compile(r"[A-Za-z0-9$%]+")


@dataclass(frozen=True, slots=True)
class Token:
    """One asset: ticker, name, aliases, ambiguity flags and canonical chain addresses."""

    symbol: str
    name: str
    aliases: tuple[str, ...]
    ambiguous_ticker: bool
    ambiguous_names: frozenset[str]
    addresses: tuple[tuple[str, str], ...]  # (chain, canonical address)


@dataclass(frozen=True, slots=True)
class Mention:
    """A token found in a text: which, the matched text, where, and by which rule."""

    symbol: str
    text: str
    start: int
    end: int
    rule: str  # cashtag | name | ticker


@dataclass(frozen=True)
class TokenCatalog:
    """Tokens by symbol and by (chain, address), with the compiled resolver patterns."""

    tokens: tuple[Token, ...]

    @cached_property
    def by_symbol(self) -> dict[str, Token]:
        return {t.symbol: t for t in self.tokens}

    @cached_property
    def _by_address(self) -> dict[tuple[str, str], Token]:
        return {addr: t for t in self.tokens for addr in t.addresses}

    def by_address(self, chain: str, address: str) -> Token | None:
        """The token at ``address`` on ``chain`` (any accepted spelling), or None."""
        return self._by_address.get((chain, canonical_address(address)))

    @cached_property
    def _names(self) -> list[tuple[re.Pattern[str], Token, str]]:
        pairs = [(n, t) for t in self.tokens for n in (t.name, *t.aliases)]
        pairs.sort(key=lambda p: -len(p[0]))
        return [
            (re.compile(rf"(?<![A-Za-z0-9$]){re.escape(n)}(?![A-Za-z0-9])", re.IGNORECASE), t, n)
            for n, t in pairs
        ]

    @cached_property
    def _tickers(self) -> re.Pattern[str]:
        symbols = sorted(self.by_symbol, key=len, reverse=True)
        return re.compile(rf"(?<![A-Za-z0-9$])({'|'.join(map(re.escape, symbols))})(?![A-Za-z0-9])")

    @cached_property
    def _cashtags(self) -> re.Pattern[str]:
        symbols = sorted(self.by_symbol, key=len, reverse=True)
        return re.compile(rf"\$({'|'.join(map(re.escape, symbols))})(?![A-Za-z0-9])", re.IGNORECASE)


def _row_error(path: Path, line: int, problem: str) -> ConfigError:
    return ConfigError(f"{path} line {line}: {problem}; fix the row (columns: symbol, name, aliases, "
                       "ambiguous_ticker, ambiguous_names, addresses as chain:address|...).")  # fmt: skip


def _flag(path: Path, line: int, value: str) -> bool:
    if value.strip().lower() not in ("true", "false"):
        raise _row_error(path, line, f"ambiguous_ticker {value!r} is not true or false")
    return value.strip().lower() == "true"


def load_tokens(path: Path = TOKENS_FILE) -> TokenCatalog:
    """Read and validate the catalog: unique upper-case symbols, names, canonical addresses."""
    tokens: list[Token] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            symbol, name = (row.get("symbol") or "").strip(), (row.get("name") or "").strip()
            if not symbol or symbol != symbol.upper() or not symbol.isalnum():
                raise _row_error(path, line, f"symbol {symbol!r} must be an upper-case ticker")
            if symbol in seen:
                raise _row_error(path, line, f"symbol {symbol} repeats line {seen[symbol]}")
            if not name:
                raise _row_error(path, line, f"{symbol} has no name")
            seen[symbol] = line
            aliases = tuple(a.strip() for a in (row.get("aliases") or "").split("|") if a.strip())
            ambiguous = frozenset(
                a.strip() for a in (row.get("ambiguous_names") or "").split("|") if a.strip()
            )
            addresses = []
            for item in filter(None, (row.get("addresses") or "").split("|")):
                chain, _, address = item.partition(":")
                if chain not in CHAINS:
                    raise _row_error(
                        path, line, f"chain {chain!r} is not one of {', '.join(CHAINS)}"
                    )
                try:
                    addresses.append((chain, canonical_address(address, strict=True)))
                except Exception as exc:
                    raise _row_error(path, line, f"{symbol} address {address!r}: {exc}") from None
            tokens.append(Token(symbol, name, aliases, _flag(path, line, row.get("ambiguous_ticker") or ""),
                                ambiguous, tuple(addresses)))  # fmt: skip
    return TokenCatalog(tuple(tokens))


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]


def _near_market_word(words: list[tuple[int, int, str]], start: int, end: int) -> bool:
    index = next((i for i, (s, _, _) in enumerate(words) if s >= start), len(words))
    window = words[max(0, index - 3) : index] + words[index + 1 : index + 4]
    return any(w in NEAR_WORDS or w.endswith("%") or w.startswith("$") for _, _, w in window)


def resolve_mentions(text: str, catalog: TokenCatalog) -> list[Mention]:
    """Tokens mentioned in ``text`` under the module's rules, one per symbol, in text order."""
    taken: list[tuple[int, int]] = []
    found: dict[str, Mention] = {}

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(mention: Mention) -> None:
        taken.append((mention.start, mention.end))
        if mention.symbol not in found or mention.start < found[mention.symbol].start:
            found[mention.symbol] = mention

    for m in catalog._cashtags.finditer(text):
        add(Mention(m.group(1).upper(), m.group(), m.start(), m.end(), "cashtag"))
    words = _words(text)
    context = any(w in CONTEXT for _, _, w in words)
    pending: list[Mention] = []
    for pattern, token, name in catalog._names:
        for m in pattern.finditer(text):
            if not free(m.start(), m.end()):
                continue
            mention = Mention(token.symbol, m.group(), m.start(), m.end(), "name")
            if name in token.ambiguous_names:
                if m.group()[0].isupper():
                    pending.append(mention)  # needs context, decided below
                continue
            add(mention)
    for m in catalog._tickers.finditer(text):
        if not free(m.start(), m.end()):
            continue
        token = catalog.by_symbol[m.group(1)]
        if (
            token.ambiguous_ticker
            and token.symbol not in found
            and not _near_market_word(words, m.start(), m.end())
        ):
            continue
        add(Mention(token.symbol, m.group(), m.start(), m.end(), "ticker"))
    for mention in pending:
        others = any(s != mention.symbol for s in found)
        if free(mention.start, mention.end) and (context or others):
            add(mention)
    return sorted(found.values(), key=lambda x: x.start)
