"""Emitter and hangup's own receiver as two processes on loopback, the receiver failing for a while.

Phases: the receiver answers 500 → the receiver is down (and the emitter is SIGKILLed mid-retry and restarted) →
hangup's receiver comes up. Every event must end up stored exactly once.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import msgspec
import pytest

from hangup.emit.simulate import Simulator

pytestmark = pytest.mark.slow
EVENTS = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Failing(BaseHTTPRequestHandler):
    """A receiver that answers 500 to everything and counts what it saw."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        Failing.seen.append(self.path)
        self.send_response(500)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def delivered(emit_db: Path) -> int:
    with sqlite3.connect(emit_db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'delivered'").fetchone()[0])


def test_every_event_is_stored_exactly_once_after_the_receiver_recovers(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    receiver_port, emitter_port = free_port(), free_port()
    emit_db, receiver_db = tmp_path / "emit.db", tmp_path / "receiver.db"
    log = tmp_path / "processes.log"
    emitter_args = [
        sys.executable, "-m", "hangup", "emitter", "--url", f"http://127.0.0.1:{receiver_port}/callbacks/planet",
        "--db", f"sqlite:///{emit_db}", "--backoff", "0.2", "--backoff-cap", "1", "--lease", "2", "--timeout", "2",
    ]  # fmt: skip

    Failing.seen = []
    failing = ThreadingHTTPServer(("127.0.0.1", receiver_port), Failing)
    threading.Thread(target=failing.serve_forever, daemon=True).start()
    try:
        processes.append(start([*emitter_args, "--listen", f"127.0.0.1:{emitter_port}"], {}, log))
        wait_until(lambda: port_open(emitter_port), 20, "the emitter to listen")
        simulator = Simulator(seed=5, stid="e2e")
        sids = set()
        with httpx.Client(base_url=f"http://127.0.0.1:{emitter_port}", trust_env=False) as client:
            for i in range(EVENTS):
                _, facts = simulator.facts(int(time.time()) - i)
                response = client.post("/api/events/call-ended", content=msgspec.json.encode(facts),
                                       headers={"content-type": "application/json"})
                assert response.status_code == 202, response.text
                sids.add(facts.sid)
        wait_until(lambda: len({p for p in Failing.seen}) >= EVENTS, 20, "every callback to be tried once")
    finally:
        failing.shutdown()
        failing.server_close()

    time.sleep(1.0)  # the receiver is down: connection refused, retried
    processes[0].send_signal(signal.SIGKILL)  # killed mid-delivery: leased entries must be sent again
    processes[0].wait()
    assert delivered(emit_db) == 0
    processes.append(start(emitter_args, {}, log))
    time.sleep(0.5)

    receiver = start(
        [sys.executable, "-m", "hangup", "serve", "--host", "127.0.0.1", "--port", str(receiver_port)],
        {"HANGUP_DB": f"sqlite:///{receiver_db}"},
        log,
    )  # fmt: skip
    processes.append(receiver)
    wait_until(lambda: delivered(emit_db) == EVENTS, 45, "every callback to be delivered (see processes.log)")

    with sqlite3.connect(receiver_db) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM calls")]
    assert sorted(ids) == sorted(sids)
