"""A throwaway PostgreSQL server for tests: Debian's ``initdb``/``postgres`` on a Unix socket.

The cluster lives in a fresh folder under the system temp dir, listens on no TCP port (a socket in
that folder only), trusts local connections and is stopped and removed at the end. As root (CI
containers) the server runs as the ``postgres`` user, since PostgreSQL refuses to run as root.
Where no PostgreSQL binaries exist the caller skips with :data:`MISSING`, unless
``DRYDOCK_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) turns that into a failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MISSING = (
    "PostgreSQL server binaries (initdb, postgres) not found: install Debian's postgresql "
    "package (.ci/run does) to run the Postgres journal tests"
)
PORT = 5432  # only names the socket file (.s.PGSQL.5432); no TCP listener is opened


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``postgres`` (PATH first, then Debian's layout)."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres", path=str(Path(found).parent)):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "postgres").exists():
            return Path(folder)
    return None


def required() -> bool:
    return os.environ.get("DRYDOCK_REQUIRE_POSTGRES", "") == "1"


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def postgres_server(bin_dir: Path) -> Iterator[str]:
    """Start a private cluster; yields a SQLAlchemy URL of its ``postgres`` database."""
    root = Path(tempfile.mkdtemp(prefix="drydock-pg-"))
    data = root / "data"
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
        root.chmod(0o755)
        subprocess.run(
            _as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "drydock",
                             "--auth=trust", "-E", "UTF8", "--no-sync"]),
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        log = root / "server.log"
        server = subprocess.Popen(
            _as_server_user([str(bin_dir / "postgres"), "-D", str(data), "-k", str(root),
                             "-c", "listen_addresses=", "-p", str(PORT), "-c", "fsync=off",
                             "-c", "max_connections=60"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_ready(root, server, log)
            yield f"postgresql+psycopg://drydock@/postgres?host={root}&port={PORT}"
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(root: Path, server: subprocess.Popen[bytes], log: Path) -> None:
    socket_file = root / f".s.PGSQL.{PORT}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.returncode} before it was ready")
        if socket_file.exists() and (root / "data" / "postmaster.pid").exists():
            import psycopg

            try:
                psycopg.connect(
                    host=str(root), port=PORT, user="drydock", dbname="postgres"
                ).close()
                return
            except psycopg.OperationalError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"postgres did not accept connections within 30 s (log: {log})")
