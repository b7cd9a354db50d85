"""Ingest benchmark on PostgreSQL: hangup on one and on several nodes sharing a database, against SQLite.

The same load as ``run.py`` (the 19-key on_call_evt_cb GET, a unique sid per request, 127.0.0.1 only):
first one ``hangup serve`` on SQLite (the baseline of this run), then ``hangup serve`` on PostgreSQL with
1, 2 … ``--nodes`` nodes on the same database, the connections split evenly between them (one load
generator per node, as behind a load balancer). Each PostgreSQL run uses a database of its own, dropped
afterwards, so its committed transactions (``pg_stat_database``) and lock waits (``pg_locks`` sampled
every ``--sample-ms``, see ``LockSampler``) are the run's alone. After each run the stored rows are counted
against the 200 answers; the report adds transactions per second, lock waits (how many, how many over
1 ms, the longest, of which lock) and each node's CPU per callback against one node's. Nodes are waited for
on ``/healthz``, never ``/readyz``, so no heartbeat is written during a run and the lock waits are those of
the callbacks alone (a node's heartbeat row is its own anyway, ``hangup/store/shards.py``).

Run::

    .venv/bin/python bench/ingest/postgres.py --db postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/ingest/postgres.py --duration 5 --nodes 3
    .venv/bin/python bench/ingest/postgres.py --nodes 3 --rate 400 --connections 8

``--rate`` offers every node the same paced load (each of its connections waits ``connections / rate`` seconds
after an answer before its next request), one node to ``--nodes``: below what the machine can serve, each
node's CPU per callback then changes with the number of nodes only through what the nodes do to each other
(contention in the database), not through cores shared by more busy processes than the machine has.

The database server shares the machine with the nodes and the load generator, so on a small machine the
numbers show the cost per request more than how far several nodes scale.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run  # noqa: E402 - the load generators and helpers of bench/ingest/run.py

DEFAULT_DB = os.environ.get("HANGUP_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
#: ``BENCH_UNPINNED=1``: nodes run on any core instead of all on CPU 0 (wrk stays on CPU 1).
UNPINNED = bool(os.environ.get("BENCH_UNPINNED"))
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
    node_cpu_us: list[float] = field(default_factory=list)  # the same, of each node
    locks: Locks | None = None


@dataclass
class Locks:
    """What ``LockSampler`` saw during a run (PostgreSQL runs only)."""

    samples: int
    waits: int  # distinct lock waits seen (backend, wait start)
    longest_ms: float  # the longest of them, as far as the samples saw it (a lower bound)
    over_1ms: int  # waits seen lasting more than 1 ms
    kinds: dict[str, int]  # lock type and mode -> waits
    xact_per_s: float  # committed transactions per second in the run's database


class LockSampler:
    """Every ``every`` seconds, the backends of database ``dbname`` waiting for a lock (``pg_locks`` rows not
    granted, with ``waitstart``, PostgreSQL 14+), from a connection to another database of the server.

    A wait is known by (pid, waitstart) and its length is the longest ``clock_timestamp() - waitstart``
    sampled; a wait shorter than the interval can fall between two samples, so the count is a lower bound
    for waits under ``every`` and exact above it. Committed transactions come from ``pg_stat_database``.
    """

    _WAITING = (
        "SELECT l.pid, l.waitstart, EXTRACT(EPOCH FROM clock_timestamp() - l.waitstart), l.locktype, l.mode, "
        "l.relation "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND l.waitstart IS NOT NULL AND a.datname = %s"
    )
    _COMMITS = "SELECT xact_commit FROM pg_stat_database WHERE datname = %s"

    def __init__(self, server: str, dbname: str, every: float = 0.01) -> None:
        self.server, self.dbname, self.every = server, dbname, every
        self._stop = threading.Event()
        self._waits: dict[tuple[int, Any], tuple[float, str]] = {}
        self._samples = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockSampler:
        self._conn = psycopg.connect(self.server, autocommit=True)
        self._started = time.monotonic()
        self._commits = self._commit_count()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        elapsed = time.monotonic() - self._started
        time.sleep(1.0)  # backends report their counters to the statistics at most a second late
        self.xact_per_s = (self._commit_count() - self._commits) / elapsed
        self._conn.close()

    def _commit_count(self) -> int:
        self._conn.execute("SELECT pg_stat_clear_snapshot()")
        row = self._conn.execute(self._COMMITS, (self.dbname,)).fetchone()
        return int(row[0]) if row else 0

    def _run(self) -> None:
        with psycopg.connect(self.server, autocommit=True) as conn:
            while not self._stop.wait(self.every):
                self._samples += 1
                for pid, start, seconds, locktype, mode, oid in conn.execute(self._WAITING, (self.dbname,)):
                    seen = self._waits.get((pid, start), (0.0, ""))[0]
                    on = f" on {oid}" if oid is not None else ""
                    self._waits[(pid, start)] = (max(seen, float(seconds)), f"{locktype} {mode}{on}")

    def result(self) -> Locks:
        """What was seen; a relation waited for is named (read from the run's database, still there)."""
        names = self._relation_names()
        kinds: dict[str, int] = {}
        for _, kind in self._waits.values():
            head, _, oid = kind.partition(" on ")
            kind = f"{head} on {names.get(oid, oid)}" if oid else head
            kinds[kind] = kinds.get(kind, 0) + 1
        lengths = [seconds for seconds, _ in self._waits.values()]
        return Locks(self._samples, len(lengths), max(lengths, default=0.0) * 1000,
                     sum(1 for t in lengths if t > 0.001), kinds, self.xact_per_s)


    def _relation_names(self) -> dict[str, str]:
        oids = sorted({kind.partition(" on ")[2] for _, kind in self._waits.values()} - {""})
        if not oids:
            return {}
        with psycopg.connect(url_of(self.server, self.dbname)) as conn:
            rows = conn.execute("SELECT oid::text, relname FROM pg_class WHERE oid = ANY(%s::oid[])", (oids,))
            return {oid: name for oid, name in rows}


def url_of(server: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server``."""
    base, _, query = server.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}{'?' + query if query else ''}"


@contextmanager
def database(server: str) -> Iterator[tuple[str, str]]:
    """A fresh database on ``server`` (its transactions and lock waits are the run's alone); yields its store
    URL and name, drops it afterwards."""
    name = f"hangup_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield url_of(server, name), name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def start(db: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = run.free_port()
    command = [sys.executable, "-m", "hangup", "serve", "--port", str(port), "--db", db]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANGUP_")}
    process = subprocess.Popen(command if UNPINNED else run.pinned(0, command), cwd=workdir, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def measure(name: str, db: str, nodes: int, seconds: float, connections: int, load: Load,
            sampler: LockSampler | None = None, per_node: bool = False) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
        started = [start(db, Path(tmp)) for _ in range(nodes)]
        try:
            share = connections if per_node else max(1, connections // nodes)
            _parallel(load, [url for _, url in started], 2, share, [secrets.token_hex(4) for _ in started])
            prefixes = [secrets.token_hex(4) for _ in started]
            cpu_before = [run.cpu_seconds(p.pid) for p, _ in started]
            with sampler or contextlib.nullcontext():
                results = _parallel(load, [url for _, url in started], seconds, share, prefixes)
            cpu = [run.cpu_seconds(p.pid) - before for (p, _), before in zip(started, cpu_before, strict=True)]
        finally:
            for process, _ in started:
                process.send_signal(signal.SIGTERM)
            for process, _ in started:
                process.wait(30)
        ok = sum(r[3] for r in results)
        return Outcome(name, sum(r[0] for r in results), max(r[1] for r in results), max(r[2] for r in results),
                       ok, count(db, prefixes), sum(r[4] for r in results), sum(cpu) / max(ok, 1) * 1e6,
                       [c / max(r[3], 1) * 1e6 for c, r in zip(cpu, results, strict=True)],
                       sampler.result() if sampler else None)


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
    print(f"\n{'run':<22} {'xact/s':>8} {'samples':>8} {'waits':>6} {'>1 ms':>6} {'longest ms':>10}  "
          "CPU us/req per node; lock waits by kind")
    one = next((o for o in outcomes if o.locks is not None), None)
    for o in outcomes:
        if o.locks is None:
            continue
        k = o.locks
        nodes = " ".join(f"{c:.1f}" for c in o.node_cpu_us)
        print(f"{o.name:<22} {k.xact_per_s:>8.0f} {k.samples:>8} {k.waits:>6} {k.over_1ms:>6} {k.longest_ms:>10.1f}  "
              f"{nodes}; {k.kinds or '-'}")
    if one is not None:
        for o in outcomes:
            if o.locks is not None and o is not one:
                spread = [c / one.cpu_us for c in o.node_cpu_us]
                print(f"{o.name}: CPU per request per node / {one.name}: "
                      f"{' '.join(f'{x:.2f}' for x in spread)} (target within 0.85-1.15)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL server URL (a schema per run is made in it)")
    parser.add_argument("--nodes", type=int, default=3, help="nodes of the multi-node run")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run (max 60)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--per-node", action="store_true",
                        help="give every node --connections of its own (each node offered the single node's "
                             "load, so batch sizes stay comparable) instead of splitting them between the nodes")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="requests per second offered to each node, paced (wrk only; implies --per-node)")
    parser.add_argument("--sample-ms", type=float, default=10.0, help="lock-wait sampling interval")
    parser.add_argument("--tool", choices=("wrk", "python"), default="wrk" if run.shutil.which("wrk") else "python")
    args = parser.parse_args()
    seconds = min(max(args.duration, 1.0), 60.0)
    load: Load = run.run_wrk if args.tool == "wrk" else run.run_python
    if args.rate > 0:
        if args.tool != "wrk":
            parser.error("--rate paces wrk's connections; wrk is needed")
        load = functools.partial(run.run_wrk, delay_ms=args.connections * 1000 / args.rate)
        args.per_node = True
    spread = "per node" if args.per_node else "in all"
    paced = f", paced at {args.rate:g} req/s per node" if args.rate > 0 else ""
    print(f"load: {args.tool}, {args.connections} connections {spread}{paced}, {seconds:.0f} s per run; "
          f"cpus: {os.cpu_count()}")
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        outcomes.append(measure("hangup sqlite", f"sqlite:///{tmp}/calls.db", 1, seconds, args.connections, load))
    for nodes in sorted({1, *range(2, args.nodes + 1)}):
        with database(args.db) as (db, name):
            label = f"hangup postgres x{nodes}"
            outcomes.append(measure(label, db, nodes, seconds, args.connections, load,
                                    LockSampler(args.db, name, args.sample_ms / 1000), args.per_node))
    report(outcomes, args.connections * (args.nodes if args.per_node else 1))


if __name__ == "__main__":
    os.chdir(run.ROOT)
    main()
