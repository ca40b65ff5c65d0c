"""The ``tokens`` warehouse table: the validated token catalog, queryable after any refresh (even
on an empty lake), equal to what the resolver uses (regression, issue 20: the view was missing)."""

from __future__ import annotations

import duckdb

from drydock.settings import Settings
from drydock.tokens import load_tokens
from drydock.warehouse import refresh_views


def test_select_star_from_tokens_works_on_an_empty_lake(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path)
    path = refresh_views(settings)
    catalog = load_tokens()
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("SELECT * FROM tokens").fetchall()
        columns = [d[0] for d in con.description]
        assert columns == [
            "symbol",
            "name",
            "aliases",
            "ambiguous_ticker",
            "ambiguous_names",
            "addresses",
            "safety_score",
            "safety_checked_at",
            "safety_problems",
            "safety_checks",
        ]
        assert len(rows) == len(catalog.tokens) == 50
        assert [r[0] for r in rows] == sorted(t.symbol for t in catalog.tokens)
        usdc = con.execute(
            "SELECT a.address FROM (SELECT unnest(addresses) AS a FROM tokens WHERE symbol = 'USDC') "
            "WHERE a.chain = 'ethereum'"
        ).fetchone()
        assert usdc is not None
        assert usdc[0] == dict(catalog.by_symbol["USDC"].addresses)["ethereum"]
        btc = con.execute("SELECT name, aliases FROM tokens WHERE symbol = 'BTC'").fetchone()
        assert btc == ("Bitcoin", ["XBT"])


def test_a_second_refresh_replaces_the_table_without_duplicates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path)
    refresh_views(settings)
    path = refresh_views(settings)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT symbol) FROM tokens").fetchone() == (
            50,
            50,
        )


def test_tokens_carry_the_latest_token_safety_of_their_solana_mint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The onchain assets' lake dataset (token_safety.parquet, as pipelines/onchain.py writes it)."""
    from datetime import UTC, datetime

    import polars as pl

    settings = Settings(home=tmp_path)
    usdc = dict(load_tokens().by_symbol["USDC"].addresses)["solana"]
    rows = [
        (usdc, datetime(2025, 1, 1, tzinfo=UTC), 40.0, "stale check"),
        (usdc, datetime(2025, 2, 1, tzinfo=UTC), 95.0, ""),
        ("SomeMemecoinMint1111111111111111111111111", datetime(2025, 2, 1, tzinfo=UTC), 5.0, "x"),
    ]
    frame = pl.DataFrame(
        [
            {"mint": m, "checked_at": t, "score": sc, "liquidity_usd": 1e6, "pair_age_hours": 9.0,
             "top10_share": 0.1, "mint_authority": None, "freeze_authority": None,
             "checks": "liquidity", "problems": p}
            for m, t, sc, p in rows
        ],
        schema={"mint": pl.String, "checked_at": pl.Datetime("us", "UTC"), "score": pl.Float64,
                "liquidity_usd": pl.Float64, "pair_age_hours": pl.Float64,
                "top10_share": pl.Float64, "mint_authority": pl.String,
                "freeze_authority": pl.String, "checks": pl.String, "problems": pl.String},
    )  # fmt: skip
    (settings.lake_dir / "onchain").mkdir(parents=True)
    frame.write_parquet(settings.lake_dir / "onchain" / "token_safety.parquet")
    path = refresh_views(settings)
    with duckdb.connect(str(path), read_only=True) as con:
        scored = con.execute(
            "SELECT symbol, safety_score, safety_problems FROM tokens "
            "WHERE safety_score IS NOT NULL"
        ).fetchall()
        assert scored == [("USDC", 95.0, "")]  # the latest check; the memecoin is no catalog token
        assert con.execute("SELECT count(*) FROM tokens").fetchone() == (50,)


def test_a_warehouse_with_the_earlier_tokens_table_is_upgraded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path)
    path = refresh_views(settings)
    with duckdb.connect(str(path)) as con:
        con.execute("DROP VIEW tokens")
        con.execute("CREATE TABLE tokens AS SELECT 1 AS symbol")
    refresh_views(settings)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM tokens").fetchone() == (50,)
