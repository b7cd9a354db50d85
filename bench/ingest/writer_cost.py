"""Where a Planet callback's CPU goes outside the HTTP server: the adapter, and the store's writer by part.

In one process, with no server and no load generator: the bench's 19-key callback (``sids.lua``, a unique
sid each) is parsed by the Planet adapter, then stored in batches of ``--batch`` calls (the group commit's
batch at 32 connections is about 30) through ``Store.add_many``, into a new SQLite store opened as
``hangup serve`` opens it (``synchronous=FULL``, the rollup hook). The store is then measured again
without the call-log filter indexes (``schema.FILTER_INDEXES`` and ``LATER_FILTER_INDEXES``), without the
rollup hook, and without both; beside them, the durable receiver's writer (``durable.py``: the 19 keys as
text in a table with only its primary key). Each part's share is a difference measured in the same run.
Variants are run in turn, ``--rounds`` times, each reported by its median. CPU is ``time.process_time``
(every thread of the process: the writer's commit, fsync included, runs in the writer thread).

Run::

    PYTHONPATH=$PWD .venv/bin/python bench/ingest/writer_cost.py --rounds 3
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl

from hangup.composition import open_configured_store
from hangup.providers.base import WebhookRequest
from hangup.providers.planet import PROVIDER
from hangup.records import CallRecord
from hangup.settings import load_settings
from hangup.store.schema import FILTER_INDEXES, LATER_FILTER_INDEXES

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import durable  # noqa: E402  (the baseline's own key list and INSERT)

#: The 18 keys after the sid, as ``sids.lua`` sends them (read as ``run.py`` reads them).
REST = "".join(re.findall(r'"([^"]*)"', (HERE / "sids.lua").read_text().split("local rest = ", 1)[1]
                          .split("local threads", 1)[0]))
VARIANTS = ("hangup", "no filter indexes", "no rollup hook", "neither")


def requests(start: int, count: int) -> list[WebhookRequest]:
    return [WebhookRequest("GET", "http://127.0.0.1/callbacks/planet",
                           f"sid=bench000-0000-4000-8000-{start + i:012d}&{REST}", received_at=time.time())
            for i in range(count)]


def parse_us(count: int) -> float:
    batch = requests(0, count)
    started = time.process_time()
    for request in batch:
        PROVIDER.parse(request)
    return (time.process_time() - started) / count * 1e6


def store_us(variant: str, records: list[CallRecord], batch: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-writer-") as tmp:
        store = open_configured_store(load_settings(), f"sqlite:///{tmp}/hangup.db")
        try:
            if variant in ("no filter indexes", "neither"):
                names = [*FILTER_INDEXES, *LATER_FILTER_INDEXES]
                store.run_in_writer(lambda conn: [conn.execute(f"DROP INDEX {name}") for name in names])
            if variant in ("no rollup hook", "neither"):
                store._hooks.clear()  # the rollup hook is the only write hook
            warm = 20 * batch
            for i in range(0, warm, batch):
                store.add_many(records[i:i + batch])
            started = time.process_time()
            for i in range(warm, len(records), batch):
                store.add_many(records[i:i + batch])
            return (time.process_time() - started) / (len(records) - warm) * 1e6
        finally:
            store.close()


def durable_us(batch_requests: list[WebhookRequest], batch: int) -> float:
    """The durable receiver's writer (``durable.py``): the 19 keys as text, ``executemany`` and COMMIT per batch."""
    rows = [tuple(dict(parse_qsl(r.query, keep_blank_values=True)).get(k) for k in durable.KEYS)
            for r in batch_requests]
    with tempfile.TemporaryDirectory(prefix="bench-durable-") as tmp:
        conn = sqlite3.connect(f"{tmp}/durable.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"CREATE TABLE callbacks ({durable.KEYS[0]} TEXT PRIMARY KEY, "
                     + ", ".join(f"{k} TEXT" for k in durable.KEYS[1:]) + ")")
        warm = 20 * batch
        started = 0.0
        for i in range(0, len(rows), batch):
            if i == warm:
                started = time.process_time()
            conn.execute("BEGIN")
            conn.executemany(durable._INSERT, rows[i:i + batch])
            conn.execute("COMMIT")
        conn.close()
        return (time.process_time() - started) / (len(rows) - warm) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--batch", type=int, default=30, help="calls per commit")
    parser.add_argument("--batches", type=int, default=300, help="measured batches per variant")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    batch_requests = requests(10**6, args.batch * (args.batches + 20))
    records = [PROVIDER.parse(r) for r in batch_requests]
    parsed: list[float] = []
    floor: list[float] = []
    stored: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        parsed.append(parse_us(len(records)))
        floor.append(durable_us(batch_requests, args.batch))
        for variant in VARIANTS:
            stored[variant].append(store_us(variant, records, args.batch))
    print(f"batch {args.batch} calls, {args.batches} batches, {args.rounds} rounds; CPU µs per call, median (all)")
    print(f"{'parse (Planet adapter)':<24} {statistics.median(parsed):6.1f}  "
          f"({', '.join(f'{x:.1f}' for x in parsed)})")
    full = statistics.median(stored["hangup"])
    print(f"{'durable receiver writer':<24} {statistics.median(floor):6.1f}  "
          f"({', '.join(f'{x:.1f}' for x in floor)})  {statistics.median(floor) / full:.2f}x of hangup's")
    for variant in VARIANTS:
        median = statistics.median(stored[variant])
        print(f"{'store: ' + variant:<24} {median:6.1f}  ({', '.join(f'{x:.1f}' for x in stored[variant])})  "
              f"{median / full:.2f}x of hangup's")


if __name__ == "__main__":
    main()
