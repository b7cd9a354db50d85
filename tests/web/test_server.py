"""A real ``hangup serve`` process: durability under SIGKILL, restarts, raw-socket abuse, startup refusals."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from receiver_helpers import planet_query
from serverproc import Server

pytestmark = pytest.mark.slow


def sid(worker: int, n: int) -> str:
    return f"{worker:04d}{n:04d}-2222-4000-8000-000000000000"


def stored_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM calls")}


def test_sigkill_during_load_loses_no_call_that_was_answered_200(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    server = Server(db)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=5.0) as client:
            for n in range(10_000):
                if stop.is_set():
                    return
                try:
                    response = client.get("/callbacks/planet?" + planet_query(sid=sid(worker, n)))
                except httpx.TransportError:
                    return
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(sid(worker, n))

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        threading.Event().wait(0.02)
    server.kill()
    stop.set()
    for t in threads:
        t.join()
    missing = set(acknowledged) - stored_ids(db)
    assert len(acknowledged) >= 300 and missing == set()


def test_calls_survive_a_restart_and_duplicates_stay_single(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    server = Server(db)
    assert httpx.get(f"{server.url}/callbacks/planet?{planet_query()}").json()["status"] == "inserted"
    server.stop()
    again = Server(db)
    try:
        assert httpx.get(f"{again.url}/callbacks/planet?{planet_query()}").json()["status"] == "duplicate"
        assert len(httpx.get(f"{again.url}/api/calls").json()["calls"]) == 1
    finally:
        again.stop()


RAW_REQUESTS = [
    b"GET /callbacks/planet?" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /callbacks/planet?" + b"a" * 9_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /callbacks/planet?sid=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /callbacks/planet?" + planet_query().encode() + b"&x=\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"NONSENSE\r\n\r\n",
    b"POST /callbacks/planet HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\nabc",
    b"POST /callbacks/planet HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    + (b"4000\r\n" + b"a" * 0x4000 + b"\r\n") * 6 + b"0\r\n\r\n",
    b"GET /api/calls/\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/calls?from_user_id=%00 HTTP/1.1\r\nHost: x\r\n\r\n",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    process = Server(tmp_path_factory.mktemp("raw") / "calls.db")
    yield process  # type: ignore[misc]
    process.stop()


@pytest.mark.parametrize("raw", RAW_REQUESTS, ids=lambda r: r[:40].decode("latin-1"))
def test_malformed_and_oversized_requests_get_4xx_never_5xx(server: Server, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(raw)
        head = conn.recv(64)
    status = int(head.split(b" ")[1])
    assert 400 <= status < 500, head


def test_serve_refuses_a_public_host_without_a_token(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "hangup", "serve", "--host", "0.0.0.0", "--db",
                             f"sqlite:///{tmp_path}/x.db"], capture_output=True, text=True, timeout=30,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "HANGUP_API_TOKEN" in result.stderr
