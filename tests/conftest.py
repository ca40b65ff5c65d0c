"""Shared fixtures and tiers: every test gets its own DRYDOCK_HOME and no network beyond loopback."""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from drydock.ohlcv import SeriesKey
from drydock.runtime import prepare_numba
from drydock.settings import REPO_ROOT, Settings

# Reuse vectorbt's numba compilation cache across test sessions: every test gets a tmp home, so
# the settings' default ($DRYDOCK_HOME/numba_cache) would compile from scratch each session.
prepare_numba(REPO_ROOT / "data" / "numba_cache")
os.environ.setdefault("MPLBACKEND", "Agg")

TIERS = ("integration", "e2e")
_MODULE_TIER = re.compile(r"^pytestmark\b.*\bpytest\.mark\.(integration|e2e)\b", re.MULTILINE)
_ANY_MARK = re.compile(r"\bpytest\.mark\.(\w+)")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test ``unit`` unless it is marked integration or e2e (so ``-m unit`` is fast)."""
    for item in items:
        if not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.unit)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Do not even import a module whose every test ``-m`` deselects (``-m unit`` then skips the
    Dagster, MLflow, vectorbt and Streamlit imports of integration modules).

    Only modules declaring ``pytestmark = pytest.mark.integration`` (or e2e) are considered; the
    module is skipped when the expression is false for every combination of the other marks its
    source mentions, so no test the expression would select is ever left out.
    """
    markexpr: str = config.getoption("markexpr", "") or ""
    if (
        not markexpr
        or collection_path.suffix != ".py"
        or not collection_path.name.startswith("test_")
    ):
        return None
    from _pytest.mark.expression import Expression

    text = collection_path.read_text(encoding="utf-8")
    tier = _MODULE_TIER.search(text)
    if tier is None:
        return None
    others = sorted(set(_ANY_MARK.findall(text)) - {tier.group(1), "unit"})
    if len(others) > 8:
        return None
    expression = Expression.compile(markexpr)
    for chosen in itertools.product((False, True), repeat=len(others)):
        present = {tier.group(1), *(m for m, on in zip(others, chosen, strict=True) if on)}
        if expression.evaluate(lambda name, /, present=present, **_: name in present):
            return None
    return True


class NetworkBlockedError(RuntimeError):
    """A test tried to open a socket to something other than loopback or a unix socket."""


def _is_local(address: Any) -> bool:
    """True for unix-socket paths and loopback hosts (127.0.0.0/8, ::1, 'localhost')."""
    if not isinstance(address, tuple):
        return True  # AF_UNIX path (str or bytes)
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name other than localhost would need DNS


def _refuse(address: Any) -> NetworkBlockedError:
    return NetworkBlockedError(
        f"network access attempted in a test: {address!r}. Tests run offline: replay a recorded "
        "payload (httpx.MockTransport, ccxt fixture) or use a loopback server instead."
    )


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse socket connections to anything but loopback or a unix socket, for every test."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create = socket.create_connection

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise _refuse(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
            raise _refuse(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _is_local(address):
            raise _refuse(address)  # before any DNS lookup of the host
        return real_create(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield


@pytest.fixture(autouse=True)
def default_logging() -> Iterator[None]:
    """Put logging back to JSON at INFO on stderr after each test that changed it.

    In-process runs of ``drydock demo`` and ``python -m benchmarks`` lower the level to WARNING
    for the whole process; without this, a later test reading INFO events saw an empty stderr
    (order-dependent under xdist).
    """
    yield
    from drydock.logs import configure_logging, is_configured

    if is_configured():
        configure_logging("json", "info")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    """A private PostgreSQL server for this test process (see tests/postgres_server.py)."""
    from tests.postgres_server import MISSING, binaries, postgres_server, required

    bin_dir = binaries()
    if bin_dir is None:
        if required():
            pytest.fail(MISSING + " (DRYDOCK_REQUIRE_POSTGRES=1)")
        pytest.skip(MISSING)
    with postgres_server(bin_dir) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_cluster: str) -> str:
    """A fresh, empty database on the test server; returns its URL."""
    import uuid

    import psycopg

    name = f"dd_{uuid.uuid4().hex[:16]}"
    host = postgres_cluster.split("host=")[1].split("&")[0]
    with psycopg.connect(host=host, port=5432, user="drydock", dbname="postgres",
                         autocommit=True) as conn:  # fmt: skip
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_cluster.replace("/postgres?", f"/{name}?")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh DRYDOCK_HOME for one test; returns its path."""
    root = tmp_path / "drydock-home"
    root.mkdir()
    monkeypatch.setenv("DRYDOCK_HOME", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster"))
    (root / "dagster").mkdir()
    yield root


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings()


@pytest.fixture
def btc_lake(home: Path) -> SeriesKey:
    """The tmp lake holding 2024-01-01..2024-03-31 of the bundled BTC/USDT 1h sample (2,184 bars)."""
    from drydock import ohlcv
    from drydock.sample import read_sample

    key = SeriesKey("binance", "BTC/USDT", "1h")
    frame = read_sample(key).filter(pl.col("ts").dt.date() < date(2024, 4, 1))
    for (day,), part in frame.group_by(pl.col("ts").dt.date(), maintain_order=True):
        ohlcv.write_day(key, day, part)  # type: ignore[arg-type]
    return key
