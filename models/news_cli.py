"""``drydock news``: fetch feeds and score them, list recent items with sentiment, score one
headline with the active scorer, train the offline model."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from drydock.cli_options import AsJson, print_json


def fetch_command(
    live: Annotated[
        bool,
        typer.Option(help="Fetch the configured feeds over HTTP (default: the recorded sample)."),
    ] = False,
) -> None:
    """Fetch every enabled feed, store new items, score them and rebuild the features."""
    from drydock.adapters.news import http_client, ingest_news, recorded_client
    from drydock.settings import get_settings
    from drydock.warehouse import refresh_views
    from models.news_scoring import build_features, score_news
    from models.sentiment.scorer import active_scorer

    settings = get_settings()
    client = http_client() if live else recorded_client()
    with client:
        report = ingest_news(client, settings)
    name, scorer = active_scorer(settings)
    counts = score_news(scorer, settings.lake_dir)
    build_features(settings.lake_dir)
    refresh_views(settings)
    console = Console()
    for feed, n in report.items.items():
        extra = f" (error: {report.errors[feed]})" if feed in report.errors else ""
        console.print(
            f"{feed}: {n} items, {report.quarantined.get(feed, 0)} quarantined{extra}",
            soft_wrap=True,
        )
    console.print(f"stored {sum(report.days.values())} stories over {len(report.days)} days; "
                  f"scored {counts['scored']} new with the {name} scorer", soft_wrap=True)  # fmt: skip


def list_command(
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 15,
    asset: Annotated[
        str | None, typer.Option(help="Only items about this asset, e.g. BTC.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Recent items with their sentiment (newest first)."""
    from rich.table import Table

    from drydock import warehouse

    where = "WHERE s.asset = ?" if asset else ""
    with warehouse.connect() as con:
        rows = con.execute(
            f"""SELECT n.published_at, n.source, string_agg(DISTINCT s.asset, ' '), max(s.score),
                       max(s.label), n.title
                FROM news n JOIN news_sentiment s USING (content_hash) {where}
                GROUP BY ALL ORDER BY n.published_at DESC LIMIT ?""",
            [asset.upper(), limit] if asset else [limit],
        ).fetchall()
    if as_json:
        keys = ("published_at", "source", "assets", "score", "label", "title")
        print_json([dict(zip(keys, row, strict=True)) for row in rows])
        return
    table = Table("published (UTC)", "source", "assets", "score", "label", "title")
    for ts, source, assets, score, label, title in rows:
        table.add_row(f"{ts:%Y-%m-%d %H:%M}", source, assets, f"{score:+.2f}", label, title)
    Console().print(table)


def sentiment_command(
    headline: Annotated[str, typer.Argument(help="A headline to score.")],
) -> None:
    """Score one headline with the active scorer and say which one answered."""
    from models.sentiment.scorer import active_scorer

    name, scorer = active_scorer()
    [s] = scorer([headline])
    Console().print(
        f"score {s.score:+.3f} ({s.label}), impact {s.impact:.2f}, assets {' '.join(s.assets) or '-'}; "
        f"scorer {s.scorer} ({s.model} v{s.version}{', prompt ' + s.prompt_version if s.prompt_version else ''})"
        + ("" if s.scorer == name else f" [fallback: {name} was active]"),
        soft_wrap=True,
    )


def train_command() -> None:
    """Train the offline model, compare it with VADER and the majority class, register it."""
    from models.sentiment.train import train_and_register

    report = train_and_register()
    m = report.metrics
    Console().print(
        f"champion {report.champion} v{report.versions['champion']}: macro-F1 {m['macro_f1']:.3f}, "
        f"accuracy {m['accuracy']:.3f} on the CryptoLin hold-out (VADER {m['vader.cryptolin.macro_f1']:.3f}, "
        f"majority {m['majority.cryptolin.macro_f1']:.3f}); MLflow run {report.run_id}",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add the ``news`` command group."""
    news = typer.Typer(help="News feeds, sentiment scoring and the sentiment model.", no_args_is_help=True,
                       rich_markup_mode=None)  # fmt: skip
    news.command("fetch")(fetch_command)
    news.command("list")(list_command)
    news.command("sentiment")(sentiment_command)
    news.command("train")(train_command)
    app.add_typer(news, name="news")
