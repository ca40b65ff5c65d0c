"""The root conftest's guard: non-loopback sockets fail the test, loopback and unix sockets work."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import NetworkBlockedError


def _closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_connect_to_a_private_address_is_refused_by_the_guard() -> None:
    blocked = pytest.raises(NetworkBlockedError, match=r"network access .*10\.255\.255\.1', 9")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, blocked:
        sock.connect(("10.255.255.1", 9))


def test_connect_ex_and_create_connection_are_guarded_too() -> None:
    blocked = pytest.raises(NetworkBlockedError, match=r"10\.255\.255\.1")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, blocked:
        sock.connect_ex(("10.255.255.1", 9))
    with pytest.raises(NetworkBlockedError, match=r"example\.com"):
        socket.create_connection(("example.com", 443), timeout=1)
    blocked6 = pytest.raises(NetworkBlockedError, match="2001:db8::1")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock6, blocked6:
        sock6.connect(("2001:db8::1", 9, 0, 0))


def test_loopback_passes_the_guard_and_reaches_the_os() -> None:
    port = _closed_loopback_port()
    refused = pytest.raises(ConnectionRefusedError)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, refused:
        sock.connect(("127.0.0.1", port))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("localhost", port), timeout=1)


def test_loopback_server_round_trip_and_unix_socket(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname()[:2], timeout=2)
        conn, _ = server.accept()
        client.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        conn.close()
        client.close()
    path = str(tmp_path / "s.sock")
    with (
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client_unix,
    ):
        listener.bind(path)
        listener.listen(1)
        client_unix.connect(path)
        assert client_unix.getpeername() == path
