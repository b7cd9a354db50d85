"""Where a PostgreSQL ``hangup import`` of ``Master.csv`` spends its time, phase by phase.

Generates ``--rows`` rows as ``bench/import.py`` does, measures ``COPY`` of them into a bare table (the floor),
then imports them into a fresh schema with each statement of the writer's batches (``postgres_bulk.add_copied``),
the rollup sums and the index deferral and build (``postgres_bulk_load``) timed by ``perf_counter``; prints
the seconds of each, the reading process's CPU seconds and the importing process's.

Usage: ``PYTHONPATH=$PWD .venv/bin/python bench/import_phases.py [--rows 1000000] [--server URL]``.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from stats import pg_schema  # bench/stats.py

from hangup.store import postgres_bulk as bulk
from hangup.store import postgres_bulk_load as bulk_load
from hangup.store.url import parse_url

bench_import = importlib.import_module("import")  # bench/import.py
SPENT: collections.Counter[str] = collections.Counter()


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def measured(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[name] += time.perf_counter() - started
    return measured


class TimedCursor:
    """A cursor whose statements are timed, each under its first words (the COPYs: what remains of the total)."""

    def __init__(self, cur: Any) -> None:
        self.cur = cur

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cur, name)

    def execute(self, query: str, *args: Any) -> Any:
        return timed(f"  {query[:60]}", self.cur.execute)(query, *args)


def install() -> None:
    add_copied = bulk.add_copied
    bulk.add_copied = timed("add_copied (the writer's statements, all)",
                            lambda cur, batch, hooks: add_copied(TimedCursor(cur), batch, hooks))
    bulk._copied_hooks = timed("  rollup sums (COPY + upsert)", bulk._copied_hooks)  # noqa: SLF001
    bulk_load.defer = timed("indexes deferred", bulk_load.defer)
    bulk_load.restore = timed("indexes built at the end", bulk_load.restore)


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    install()
    with tempfile.TemporaryDirectory(prefix="hangup-bench-phases-") as tmp:
        files = []
        for index, first in enumerate(range(0, args.rows, 100_000)):
            path = Path(tmp) / f"Master-{index:03d}.csv"
            bench_import.generate(path, min(100_000, args.rows - first), first, seed=index)
            files.append(path)
        _, floor = bench_import.copy_baseline(files, args.server)
        with pg_schema(args.server) as url:
            reader, importer = cpu(resource.RUSAGE_CHILDREN), cpu(resource.RUSAGE_SELF)
            rows, seconds, _ = bench_import.hangup_import(files, url, 120.0, bench_import.DEFAULT_BATCH, len(files))
            reader, importer = cpu(resource.RUSAGE_CHILDREN) - reader, cpu(resource.RUSAGE_SELF) - importer
            with psycopg.connect(parse_url(url).conninfo) as conn:
                sizes = conn.execute("SELECT (SELECT count(*) FROM stats_rollups), "
                                     "pg_total_relation_size('call_keys'), (SELECT sum(pg_total_relation_size("
                                     "inhrelid)) FROM pg_inherits WHERE inhparent = 'calls'::regclass)").fetchone()
    print(f"COPY {floor:.2f} s; hangup import of {rows:,} rows {seconds:.2f} s ({seconds / floor:.1f}x); "
          f"CPU: reading process {reader:.2f} s, importing process {importer:.2f} s")
    if sizes is not None:
        keys, claims, calls = sizes
        print(f"rollup keys {keys:,}; call_keys {claims / rows:.0f} B per call, calls {calls / rows:.0f} B per call "
              "(tables and indexes)")
    for name, spent in sorted(SPENT.items(), key=lambda item: -item[1]):
        if spent >= 0.05:
            print(f"{spent:8.2f} s  {name}")


if __name__ == "__main__":
    main()
