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
