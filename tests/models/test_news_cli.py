"""``drydock news``: train, fetch the recorded feeds, list and score one headline, on a tmp home."""

from __future__ import annotations

import sys

import pytest

from drydock.cli import main
from drydock.settings import Settings

pytestmark = pytest.mark.integration  # MLflow, sklearn, DuckDB


def run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["drydock", "news", *args])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as done:
        main()
    return int(done.value.code or 0)


def test_news_commands_end_to_end(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert run(monkeypatch, "sentiment", "Bitcoin rallies") == 2
    assert "drydock news train" in capsys.readouterr().err
    assert run(monkeypatch, "train") == 0
    assert "macro-F1 0.558" in capsys.readouterr().out
    assert run(monkeypatch, "fetch") == 0
    out = capsys.readouterr().out
    assert "coindesk: 25 items" in out and "scored 132 new with the offline scorer" in out
    assert run(monkeypatch, "fetch") == 0
    assert "scored 0 new" in capsys.readouterr().out  # a rerun scores nothing twice
    assert run(monkeypatch, "list", "--asset", "BTC", "--limit", "3") == 0
    assert "BTC" in capsys.readouterr().out
    assert run(monkeypatch, "sentiment", "Solana ETF approved, SOL jumps 12%") == 0
    assert "assets SOL; scorer offline" in capsys.readouterr().out
