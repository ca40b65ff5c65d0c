"""Secrets planted in the environment and in a config never reach logs, MLflow, the journal or files.

One ingest (Dagster, recorded), one backtest logged to MLflow and one paper replay run with
distinctive secret values in the environment, a policy file that carries one in a comment, and
JSON logging at DEBUG captured. Then every log line, every MLflow param/tag/metric name and
artifact, every row of every journal table and every byte written under DRYDOCK_HOME is searched.
"""

from __future__ import annotations

import io
import logging
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from drydock.logs import MASK, configure_logging, get_logger, json_lines
from drydock.ohlcv import SeriesKey
from drydock.settings import get_settings

pytestmark = pytest.mark.integration

BTC = SeriesKey("binance", "BTC/USDT", "1h")
SECRETS = {
    "DRYDOCK_CCXT_API_KEY": "PLANTED-ccxt-key-5b9d2e71c4",
    "DRYDOCK_CCXT_SECRET": "PLANTED-ccxt-secret-a3f08e6d1",
    "ANTHROPIC_API_KEY": "sk-ant-api03-PLANTEDanthropic0f4c2a9e",
    "BINANCE_SECRET": "PLANTED-binance-secret-77e2c1",
    "WALLET_PRIVATE_KEY": "0x" + "9f" * 32,
}


@pytest.fixture
def planted(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Secrets in the environment, and a policy file that quotes one of them in a comment."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    policy = tmp_path / "policy.toml"
    default = (get_settings().policy_dir / "default.toml").read_text()
    policy.write_text(
        f"# operator note: the ccxt key is {SECRETS['DRYDOCK_CCXT_API_KEY']}\n{default}"
    )
    return policy


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    yield stream
    configure_logging("json", "info")


def leaks(text: str) -> list[str]:
    """Names of the planted secrets found in ``text``."""
    return [name for name, value in SECRETS.items() if value in text]


def test_no_secret_reaches_logs_mlflow_journal_or_files(
    planted: Path, captured: io.StringIO, home: Path
) -> None:
    from live.replay import replay
    from pipelines.ingest import ingest
    from research.backtest import backtest
    from research.tracking import log_backtest
    from strategies.registry import get_strategy

    # Positive control: the redaction is live for this process (structlog and stdlib alike).
    get_logger("tests.secrets").warning("control", key_echo=SECRETS["BINANCE_SECRET"])
    logging.getLogger("ccxt").warning("control %s", SECRETS["DRYDOCK_CCXT_SECRET"])

    report = ingest([BTC], date(2024, 1, 1), date(2024, 3, 31), progress=False)
    assert report.get(BTC).rows_written == 91 * 24
    params = {"fast": 12, "slow": 26}
    result = backtest(get_strategy("ema_cross"), params, BTC)
    mlflow_run = log_backtest(result)
    replayed = replay("ema_cross", params, "binance", "BTC/USDT", "1h", policy_path=planted)

    # Logs: everything captured is JSON lines, and none holds a secret.
    text = captured.getvalue()
    events = json_lines(text)
    assert len(events) == len([line for line in text.splitlines() if line.strip()])
    names = {e["event"] for e in events}
    assert {"control", "ingest.series", "ingest.finished"} <= names
    control = next(e for e in events if e["event"] == "control")
    assert control["key_echo"] == MASK
    assert leaks(text) == []

    # MLflow: params, tags, metric names and every artifact of the run.
    import mlflow

    settings = get_settings()
    client = mlflow.MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    run = client.get_run(mlflow_run)
    assert run.data.params and run.data.metrics
    assert leaks(repr(run.data.params)) == []
    assert leaks(repr(run.data.tags)) == []
    assert leaks(repr(sorted(run.data.metrics))) == []

    # Journal: every row of every table, including the replay run's policy hash over the file.
    journal_rows = sqlite_rows(settings.journal_path)
    assert any(replayed.run_id in row for row in journal_rows)
    assert leaks("\n".join(journal_rows)) == []

    # Every file written under the home: SQLite stores (MLflow, journal, Dagster), artifacts,
    # the lake and warehouse; Parquet decoded so compression cannot hide a string.
    scanned = []
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        scanned.append(path.relative_to(home).parts[0])
        assert leaks(path.read_bytes().decode("utf-8", "replace")) == [], path
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            assert leaks(frame.write_csv()) == [], path
    # lake files, warehouse, MLflow store and artifacts, journal and Dagster were all searched
    assert {"lake", "mlflow", "live", "dagster", "warehouse.duckdb"} <= set(scanned), set(scanned)


def sqlite_rows(path: Path) -> list[str]:
    """Every row of every table of a SQLite file, as text."""
    with sqlite3.connect(path) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [repr(row) for table in tables for row in con.execute(f'SELECT * FROM "{table}"')]
