"""News: feeds (RSS/Atom, CryptoPanic) normalised, deduplicated and stored in the lake."""
