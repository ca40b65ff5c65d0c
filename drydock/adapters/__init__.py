"""One folder per outside system (ccxt exchanges, EVM chains, Solana/Helius, news feeds,
token-safety APIs, Anthropic), each with the same inner layout; see docs/architecture.md."""
