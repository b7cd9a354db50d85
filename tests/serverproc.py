"""Start ``hangup serve`` as a real process on a free loopback port, for tests that need a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``hangup serve`` child process; ``stop()`` or ``kill()`` it, by its own pid only."""

    def __init__(self, db: Path | str, *extra: str, env: dict[str, str] | None = None,
                 log: Path | None = None) -> None:
        """``db`` is a SQLite file (the log goes beside it) or a store URL (then ``log`` names the log file)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = f"sqlite:///{db}" if isinstance(db, Path) else db
        log_path = log if log is not None else Path(db).with_suffix(".log")
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hangup", "serve", "--port", str(self.port), "--db", self.db, *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hangup serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError("hangup serve did not become ready")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
