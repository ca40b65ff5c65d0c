"""On-chain readers: EVM logs and transfers, Solana/Helius swaps, token safety."""
