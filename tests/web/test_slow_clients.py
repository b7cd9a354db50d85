"""Slow and half-open clients against a real ``hangup serve``: they are disconnected and cannot starve callbacks.

Each test bounds its own waiting; nothing asserts how fast the server is, only that it gets there.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from receiver_helpers import PLANET_EVENT, planet_query
from serverproc import Server

#: Half-open requests: nothing at all, half a request line, headers without their end, half a body.
HALF_OPEN = [b"", b"GET /callbacks/pla", b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n",
             b"POST /callbacks/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\n{\"call"]
IDLE = 60


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # A cap below the number of idle clients: without the read deadline they would hold every slot forever.
    process = Server(tmp_path / "calls.db", env={"HANGUP_REQUEST_READ_TIMEOUT": "1", "HANGUP_MAX_CONNECTIONS": "40"})
    yield process
    process.stop()


def _open(port: int, prefix: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if prefix:
        sock.sendall(prefix)
    return sock


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def _callback_answered(url: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/callbacks/planet?{planet_query()}", timeout=2).status_code == 200:
                return True
        time.sleep(0.2)
    return False


def test_half_open_requests_are_closed_and_callbacks_still_answered(server: Server) -> None:
    idle = [_open(server.port, HALF_OPEN[n % len(HALF_OPEN)]) for n in range(IDLE)]
    try:
        assert _callback_answered(server.url, within=30)
        assert all(_closed_by_server(sock, within=15) for sock in idle)
    finally:
        for sock in idle:
            sock.close()
    stored = httpx.get(f"{server.url}/api/calls/{PLANET_EVENT['sid']}", timeout=5)
    assert stored.status_code == 200


def test_a_request_sent_in_time_is_not_cut(server: Server) -> None:
    """The deadline covers one request: a keep-alive connection serves request after request."""
    with httpx.Client(base_url=server.url, timeout=5) as client:
        for _ in range(3):
            assert client.get("/readyz").status_code == 200
            time.sleep(0.6)  # together longer than the deadline, each request well inside it
