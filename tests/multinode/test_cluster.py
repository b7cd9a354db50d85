"""Three ``hangup serve`` nodes on one PostgreSQL database, one of them SIGKILLed under load.

Callbacks are spread round-robin like a load balancer would; some calls are delivered to two nodes at
the same moment (platform retries racing each other); a request that finds its node dead is sent to the
next node, as a load balancer does. Afterwards: no answer was 5xx, every call answered 200 is stored
exactly once, nothing is stored that was never sent, and the rollups equal the raw rows.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import planet_query
from postgres_helpers import temporary_schema

from hangup.stats import raw, rollup_reads
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import ALL
from hangup.stats.windows import Window
from hangup.store.url import parse_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

NODES = 3
CALLS = 1200
DOUBLE_EVERY = 5  # every 5th call goes to two nodes at once
KILL_AFTER = CALLS // 3  # node 1 is SIGKILLed once this many calls were answered
CONCURRENCY = 24
BASE = 1_696_118_400  # 2023-10-01T00:00:00Z
STEP = 7_919  # seconds between call ends: about 110 days, four month partitions made on demand


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """One ``hangup serve`` process."""

    def __init__(self, url: str, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANGUP_")}
        env.update({"HANGUP_DB": url, "HANGUP_PORT": str(self.port), "HANGUP_BATCH_SIZE": "64"})
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hangup", "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.alive = True

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"node on port {self.port} exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"node on port {self.port} not ready after {timeout} s")

    def kill(self) -> None:
        self.alive = False
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, list[Node]]]:
    with temporary_schema("hangup_cluster") as url:
        nodes = [Node(url, tmp_path / f"node{k}.log") for k in range(NODES)]  # start together: migrations race
        try:
            for node in nodes:
                node.wait_ready()
            yield url, nodes
        finally:
            for node in nodes:
                node.stop()


def callback(n: int) -> tuple[str, str]:
    """The sid and the Planet query of call ``n``."""
    sid = str(uuid.UUID(int=n + 1))
    end = BASE + n * STEP
    query = planet_query(sid=sid, setup_time=str(end - 45), start_time=str(end - 30), end_time=str(end))
    return sid, query


async def load(nodes: list[Node]) -> dict[str, list[int]]:
    """Send every call; return each sid's answered statuses (connection failures are not answers)."""
    answers: dict[str, list[int]] = {}
    done = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(CALLS):
        queue.put_nowait(n)

    async with httpx.AsyncClient(timeout=30.0) as client:

        async def send(start: int, query: str) -> int | None:
            for k in range(NODES):  # the load balancer's failover: the next node when one is down
                node = nodes[(start + k) % NODES]
                if not node.alive:
                    continue
                try:
                    response = await client.get(f"{node.base}/callbacks/planet?{query}")
                except httpx.TransportError:
                    continue
                return response.status_code
            return None

        async def worker() -> None:
            nonlocal done
            while not queue.empty():
                n = queue.get_nowait()
                sid, query = callback(n)
                targets = [n % NODES, (n + 1) % NODES] if n % DOUBLE_EVERY == 0 else [n % NODES]
                statuses = await asyncio.gather(*(send(t, query) for t in targets))
                answers[sid] = [s for s in statuses if s is not None]
                done += 1
                if done == KILL_AFTER:
                    nodes[1].kill()

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return answers


def test_every_answered_call_is_stored_once_across_nodes_and_a_killed_one(
    cluster: tuple[str, list[Node]],
) -> None:
    url, nodes = cluster
    with ThreadPoolExecutor(1) as pool:  # an event loop of its own, whatever the calling thread runs
        answers = pool.submit(lambda: asyncio.run(load(nodes))).result()

    assert not nodes[1].alive and all(n.proc.poll() is None for k, n in enumerate(nodes) if k != 1)
    statuses = {s for got in answers.values() for s in got}
    assert statuses == {200}, f"answers other than 200: {statuses}"
    answered = {sid for sid, got in answers.items() if 200 in got}
    assert len(answered) == CALLS  # with failover every call found a live node

    with psycopg.connect(parse_url(url).conninfo) as conn:
        rows = conn.execute("SELECT id, COUNT(*) FROM calls GROUP BY id").fetchall()
        keys = conn.execute("SELECT COUNT(*) FROM call_keys").fetchone()
    stored = {sid: count for sid, count in rows}
    assert all(count == 1 for count in stored.values())
    assert set(stored) == answered  # every answered call stored, nothing stored that was not sent
    assert keys is not None and keys[0] == CALLS

    db = StatsDB(url)
    try:
        conn = db.reader()
        window = Window(BASE - BASE % 86400, BASE + CALLS * STEP + 86400)
        from_rollups = rollup_reads.totals(conn, window.start, window.end, ALL, "")
        assert from_rollups == raw.totals(conn, window, db.paramstyle)
        assert from_rollups.attempts == CALLS
    finally:
        db.close()
    summary = httpx.get(f"{nodes[0].base}/api/stats/summary",
                        params={"since": window.start, "until": window.end}, timeout=30).json()
    assert summary["totals"] == from_rollups.to_json()  # what a surviving node answers over HTTP
