"""Ingest benchmark on PostgreSQL: hangup on one and on several nodes sharing a database, against SQLite.

The same load as ``run.py`` (the 19-key on_call_evt_cb GET, a unique sid per request, 127.0.0.1 only):
first one ``hangup serve`` on SQLite (the baseline of this run), then ``hangup serve`` on PostgreSQL with
1 node, then with ``--nodes`` nodes on the same database, the connections split evenly between them (one
load generator per node, as behind a load balancer). Each PostgreSQL run uses a schema of its own,
dropped afterwards. After each run the stored rows are counted against the 200 answers.

Run::

    .venv/bin/python bench/ingest/postgres.py --db postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/ingest/postgres.py --duration 5 --nodes 3

The database server shares the machine with the nodes and the load generator, so on a small machine the
numbers show the cost per request more than how far several nodes scale.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run  # noqa: E402 - the load generators and helpers of bench/ingest/run.py

DEFAULT_DB = os.environ.get("HANGUP_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
Load = Callable[[str, float, int, str], tuple[float, float, float, int, int]]


@dataclass
class Outcome:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    ok: int
    rows: int
    errors: int
    cpu_us: float  # CPU of every hangup node (not of PostgreSQL) per answered request


@contextmanager
def schema(server: str) -> Iterator[str]:
    """A fresh schema on ``server``; yields the store URL selecting it, drops it afterwards."""
    name = f"hangup_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def start(db: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = run.free_port()
    command = [sys.executable, "-m", "hangup", "serve", "--port", str(port), "--db", db]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANGUP_")}
    process = subprocess.Popen(run.pinned(0, command), cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    run.wait_ready(url, process)
    return process, url


def count(db: str, prefixes: list[str]) -> int:
    if db.startswith("sqlite:///"):
        with sqlite3.connect(db[len("sqlite:///"):]) as conn:
            return sum(int(conn.execute("SELECT COUNT(*) FROM calls WHERE id LIKE ?", (p + "%",)).fetchone()[0])
                       for p in prefixes)
    with psycopg.connect(db) as conn:
        return sum(int(conn.execute("SELECT COUNT(*) FROM calls WHERE id LIKE %s",  # type: ignore[index]
                                    (p + "%",)).fetchone()[0]) for p in prefixes)


def measure(name: str, db: str, nodes: int, seconds: float, connections: int, load: Load) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
        started = [start(db, Path(tmp)) for _ in range(nodes)]
        try:
            share = max(1, connections // nodes)
            _parallel(load, [url for _, url in started], 2, share, [secrets.token_hex(4) for _ in started])
            prefixes = [secrets.token_hex(4) for _ in started]
            cpu_before = sum(run.cpu_seconds(p.pid) for p, _ in started)
            results = _parallel(load, [url for _, url in started], seconds, share, prefixes)
            cpu = sum(run.cpu_seconds(p.pid) for p, _ in started) - cpu_before
        finally:
            for process, _ in started:
                process.send_signal(signal.SIGTERM)
            for process, _ in started:
                process.wait(30)
        ok = sum(r[3] for r in results)
        return Outcome(name, sum(r[0] for r in results), max(r[1] for r in results), max(r[2] for r in results),
                       ok, count(db, prefixes), sum(r[4] for r in results), cpu / max(ok, 1) * 1e6)


def _parallel(load: Load, urls: list[str], seconds: float, connections: int,
              prefixes: list[str]) -> list[tuple[float, float, float, int, int]]:
    """One load generator per node, all at once."""
    results: list[tuple[float, float, float, int, int]] = [(0.0, 0.0, 0.0, 0, 0)] * len(urls)

    def one(i: int) -> None:
        results[i] = load(urls[i], seconds, connections, prefixes[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def report(outcomes: list[Outcome], connections: int) -> None:
    print(f"{'run':<22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10} {'200s':>8} {'rows':>8} "
          f"{'errors':>6}  rows = 200s")
    for o in outcomes:
        lost = o.ok - o.rows
        check = f"LOST {lost}" if lost > 0 else ("ok" if -lost <= connections else f"{-lost} extra")
        print(f"{o.name:<22} {o.rps:>8.0f} {o.p50_ms:>8.2f} {o.p99_ms:>8.2f} {o.cpu_us:>10.1f} {o.ok:>8} "
              f"{o.rows:>8} {o.errors:>6}  {check}")
    base = outcomes[0]
    for o in outcomes[1:]:
        print(f"{o.name} / {base.name} = {o.rps / base.rps:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL server URL (a schema per run is made in it)")
    parser.add_argument("--nodes", type=int, default=3, help="nodes of the multi-node run")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run (max 60)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tool", choices=("wrk", "python"), default="wrk" if run.shutil.which("wrk") else "python")
    args = parser.parse_args()
    seconds = min(max(args.duration, 1.0), 60.0)
    load: Load = run.run_wrk if args.tool == "wrk" else run.run_python
    print(f"load: {args.tool}, {args.connections} connections in all, {seconds:.0f} s per run; cpus: {os.cpu_count()}")
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        outcomes.append(measure("hangup sqlite", f"sqlite:///{tmp}/calls.db", 1, seconds, args.connections, load))
    for nodes in sorted({1, args.nodes}):
        with schema(args.db) as db:
            label = f"hangup postgres x{nodes}"
            outcomes.append(measure(label, db, nodes, seconds, args.connections, load))
    report(outcomes, args.connections)


if __name__ == "__main__":
    os.chdir(run.ROOT)
    main()
