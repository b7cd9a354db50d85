"""What the fault tests share: a bounded callback load against a real server, and the sids a store holds.

The load sends Planet callbacks with unique sids from a few threads and records each answer: a sid answered
200 is *acknowledged* and must be in the store afterwards, whatever fault happened meanwhile.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from receiver_helpers import planet_query

IN_CI = bool(os.environ.get("CI"))
#: Seconds any wait of a fault test may take before the test fails (pytest-timeout bounds the whole test).
WAIT = 20.0


def skip_unless_ci(reason: str) -> None:
    """Skip loudly, or fail where CI is set (CI runs as root on a machine that has what these tests need)."""
    if IN_CI:
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(f"FAULT TEST SKIPPED: {reason}")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


class Load:
    """``threads`` senders of callbacks to ``self.url`` (which a test may point at a restarted server)."""

    def __init__(self, url: str, prefix: int, threads: int = 4, limit: int = 20_000) -> None:
        self.url = url
        self.prefix = prefix
        self.acknowledged: set[str] = set()
        self.statuses: dict[int, int] = {}
        self.refused = 0  # connection errors (a server being killed or restarted)
        self.in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(w, limit // threads)) for w in range(threads)]

    def sid(self, worker: int, n: int) -> str:
        return f"{self.prefix:04d}{worker:04d}-{n:04x}-4000-8000-000000000000"

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def pause(self) -> None:
        """Send nothing more until ``resume``; returns once no request is in flight."""
        self._paused.set()
        wait_for(lambda: self.in_flight == 0, "the requests in flight are answered")

    def resume(self) -> None:
        self._paused.clear()

    def wait_more(self, more: int, what: str) -> None:
        """Wait until ``more`` calls beyond those acknowledged now are acknowledged."""
        target = len(self.acknowledged) + more
        wait_for(lambda: len(self.acknowledged) >= target, what)

    def count(self, status: int) -> int:
        with self._lock:
            return self.statuses.get(status, 0)

    def _run(self, worker: int, limit: int) -> None:
        with httpx.Client(timeout=10.0) as client:
            for n in range(limit):
                while self._paused.is_set() and not self._stop.is_set():
                    time.sleep(0.02)
                if self._stop.is_set():
                    return
                sid = self.sid(worker, n)
                with self._lock:
                    if self._paused.is_set():  # paused between the check above and now: ask again
                        continue
                    self.in_flight += 1
                try:
                    response = client.get(f"{self.url}/callbacks/planet?" + planet_query(sid=sid))
                except httpx.TransportError:
                    with self._lock:
                        self.refused += 1
                        self.in_flight -= 1
                    time.sleep(0.02)
                    continue
                with self._lock:
                    self.in_flight -= 1
                    self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
                    if response.status_code == 200:
                        self.acknowledged.add(sid)
                if response.status_code != 200:
                    time.sleep(0.01)  # a failing store: do not spin


def sqlite_sids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM calls")}


def readyz(url: str) -> httpx.Response:
    return httpx.get(f"{url}/readyz", timeout=10.0)


def callback(url: str, sid: str) -> httpx.Response:
    return httpx.get(f"{url}/callbacks/planet?" + planet_query(sid=sid), timeout=10.0)
