"""``drydock whales`` and ``drydock wallets``: recent whale transfers and watched-wallet swaps."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from drydock.cli_options import AsJson, print_json

WHALE_COLUMNS = ("ts", "symbol", "amount", "usd", "kind", "significance", "sender_entity",
                 "sender", "receiver_entity", "receiver")  # fmt: skip
WALLET_COLUMNS = ("ts", "label", "source", "token_in", "amount_in", "token_out", "amount_out",
                  "safety_score")  # fmt: skip


def _short(address: str | None) -> str:
    return "-" if not address else f"{address[:6]}…{address[-4:]}"


def whales_command(
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 15,
    kind: Annotated[
        str | None, typer.Option(help="exchange_inflow, exchange_outflow, whale_transfer, ...")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Recent whale transfers (largest significance first within the newest)."""
    from drydock import warehouse

    where = "WHERE kind = ?" if kind else ""
    with warehouse.connect() as con:
        rows = con.execute(
            f"SELECT ts, symbol, amount, usd, kind, significance, sender_entity, sender, receiver_entity, receiver "
            f"FROM whale_transfers {where} ORDER BY ts DESC, significance DESC LIMIT ?",
            [kind, limit] if kind else [limit],
        ).fetchall()
    if as_json:
        print_json([dict(zip(WHALE_COLUMNS, row, strict=True)) for row in rows])
        return
    table = Table("time (UTC)", "token", "amount", "USD", "kind", "significance", "from", "to")
    for ts, symbol, amount, usd, k, sig, s_ent, s, r_ent, r in rows:
        table.add_row(f"{ts:%Y-%m-%d %H:%M}", symbol, f"{amount:,.2f}", f"{usd:,.0f}", k, f"{sig:.2f}",
                      s_ent or _short(s), r_ent or _short(r))  # fmt: skip
    Console().print(table)


def wallets_command(
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 15, as_json: AsJson = False
) -> None:
    """Recent swaps of the watched wallets, with the safety score of the token bought."""
    from drydock import warehouse

    with warehouse.connect() as con:
        rows = con.execute(
            "SELECT w.ts, w.label, w.source, w.token_in, w.amount_in, w.token_out, w.amount_out, t.score "
            "FROM wallet_swaps w LEFT JOIN token_safety t ON t.mint = w.token_out ORDER BY w.ts DESC LIMIT ?",
            [limit],
        ).fetchall()
    if as_json:
        print_json([dict(zip(WALLET_COLUMNS, row, strict=True)) for row in rows])
        return
    table = Table("time (UTC)", "wallet", "venue", "sold", "bought", "safety")
    for ts, label, source, t_in, a_in, t_out, a_out, score in rows:
        table.add_row(f"{ts:%Y-%m-%d %H:%M}", label, source, f"{a_in:,.6g} {_short(t_in)}",
                      f"{a_out:,.6g} {_short(t_out)}", "-" if score is None else f"{score:.2f}")  # fmt: skip
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``whales`` and ``wallets``."""
    app.command("whales")(whales_command)
    app.command("wallets")(wallets_command)
