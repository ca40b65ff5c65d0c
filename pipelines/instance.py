"""The Dagster instance ``drydock ingest`` records on, with an event log that writes fast.

A run over N days writes ~2N events (one "planned" and one materialization per partition, so the
UI's partition bar is green). Dagster's stock SQLite event log opens a new engine and connection
per event and syncs the file on close, which cost ~25 ms per partition. The instance written here
uses :class:`PooledSqliteEventLogStorage` instead: the same files and schema, one pooled engine
per shard, WAL with ``synchronous=NORMAL`` (a crash never corrupts it; a power cut may lose the
last events, which a rerun of the ingest restores since the lake is the source of truth).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster import DagsterInstance
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

from drydock.settings import get_settings

_INSTANCE_HEADER = "# Written by `drydock ingest`"
_INSTANCE_YAML = """{header}; delete it to get the current default back.
telemetry:
  enabled: false
# Same files and schema as Dagster's SqliteEventLogStorage, with pooled connections (fast writes).
event_log_storage:
  module: pipelines.instance
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""


def _sqlite_pragmas(dbapi_connection: object, _: object) -> None:
    """WAL, and no fsync per commit (WAL + NORMAL stays consistent after a crash)."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's per-run-sharded SQLite event log, keeping one pooled engine per shard.

    The stock storage builds an engine per event and closes its only connection after it, so
    every event pays an engine, a connection and a WAL checkpoint with fsync. Engines here live
    for the storage's lifetime (the most recent shards only), which is what makes recording a
    year of daily partitions affordable.
    """

    MAX_ENGINES = 8

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            engine = create_engine(
                self.conn_string_for_shard(shard),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            self._engines[shard] = engine
            while len(self._engines) > self.MAX_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        super().dispose()
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


@contextmanager
def open_instance(ephemeral: bool) -> Iterator[DagsterInstance]:
    """The DAGSTER_HOME instance under the settings' root (made if needed), or an ephemeral one."""
    if ephemeral:
        with DagsterInstance.ephemeral() as instance:
            yield instance
        return
    home = get_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # Where the stock SQLite storage keeps its event logs, so existing instances read the same.
    wanted = _INSTANCE_YAML.format(header=_INSTANCE_HEADER, base_dir=home / "history" / "runs")
    current = config.read_text() if config.exists() else None
    if current is None or (current.startswith(_INSTANCE_HEADER) and current != wanted):
        config.write_text(wanted)  # ours (or absent): keep it current; a user's own file is kept
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance
