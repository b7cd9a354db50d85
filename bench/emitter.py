"""How fast is the emitter? Derivation, durable enqueue and delivery, each against a baseline of the same run.

* derive + to_query per call vs. ``urlencode`` of the 19 ready-made pairs (the part no emitter can skip);
* durable enqueue, one event per transaction and 100 per transaction, vs. a plain ``sqlite3`` INSERT + COMMIT of one
  text row per transaction (both WAL, ``synchronous=FULL``);
* delivery through the outbox (claim, GET, mark delivered) to an in-process 200 receiver vs. the same GETs without
  the outbox.

Targets: derivation ≥ 20,000 calls/s; delivery ≥ 1,000 callbacks/s through the outbox. Each measurement stops after
a short time budget, so the script takes well under a minute. Usage: ``python bench/emitter.py``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx

from hangup.emit import derive
from hangup.emit.delivery import Deliverer, DeliveryConfig
from hangup.emit.outbox import NewEntry, SQLiteOutbox, State
from hangup.emit.simulate import Simulator

BUDGET = 3.0  # seconds per measurement
URL = "http://receiver.bench/callbacks/planet"


def timed(step: Callable[[int], int]) -> float:
    """Items per second of ``step(i)`` (returning how many items it handled) within ``BUDGET``."""
    done = i = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < BUDGET:
        done += step(i)
        i += 1
    return done / elapsed


def bench_derive() -> tuple[float, float]:
    facts = [Simulator(seed=1).facts(1_767_225_600 + i)[1] for i in range(2000)]
    pairs = [derive(f).to_params() for f in facts]
    baseline = timed(lambda i: len(urlencode(pairs[i % len(pairs)])) and 1)
    derived = timed(lambda i: len(derive(facts[i % len(facts)]).to_query()) and 1)
    return baseline, derived


def bench_enqueue(root: Path) -> tuple[float, float, float]:
    raw = sqlite3.connect(root / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute("CREATE TABLE t (sid TEXT, query TEXT)")

    def raw_insert(i: int) -> int:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("INSERT INTO t VALUES (?, ?)", (f"s{i}", "sid=x&type=A"))
        raw.execute("COMMIT")
        return 1

    baseline = timed(raw_insert)
    raw.close()
    box = SQLiteOutbox(f"sqlite:///{root / 'outbox.db'}")
    single = timed(lambda i: len(box.enqueue([NewEntry(f"a{i}", URL, "sid=x&type=A")], time.time())))
    batched = timed(
        lambda i: len(box.enqueue([NewEntry(f"b{i}-{k}", URL, "sid=x&type=A") for k in range(100)], time.time()))
    )
    box.close()
    return baseline, single, batched


async def _deliver_all(box: SQLiteOutbox, client: httpx.AsyncClient, total: int) -> float:
    deliverer = Deliverer(box, client, DeliveryConfig(per_destination=32, max_in_flight=64, poll_interval=0.01))
    stop = asyncio.Event()
    start = time.perf_counter()
    task = asyncio.create_task(deliverer.run(stop))
    while box.counts()[State.DELIVERED] < total and time.perf_counter() - start < 4 * BUDGET:
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - start
    delivered = box.counts()[State.DELIVERED]
    stop.set()
    await task
    return delivered / elapsed


async def _plain_gets(client: httpx.AsyncClient, total: int) -> float:
    limit = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with limit:
            await client.get(f"{URL}?sid={i}")

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(total)))
    return total / (time.perf_counter() - start)


def bench_delivery(root: Path, total: int = 3000) -> tuple[float, float]:
    box = SQLiteOutbox(f"sqlite:///{root / 'deliver.db'}")
    box.enqueue([NewEntry(f"d{i}", URL, f"sid=d{i}") for i in range(total)], time.time())

    async def run() -> tuple[float, float]:
        transport = httpx.MockTransport(lambda request: httpx.Response(200))
        async with httpx.AsyncClient(transport=transport) as client:
            return await _plain_gets(client, total), await _deliver_all(box, client, total)

    result = asyncio.run(run())
    box.close()
    return result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        derive_base, derived = bench_derive()
        enqueue_base, single, batched = bench_enqueue(root)
        get_base, delivered = bench_delivery(root)
    rows = [
        ("urlencode 19 pairs (baseline)", derive_base, derive_base),
        ("derive + to_query", derived, derive_base),
        ("sqlite3 INSERT + COMMIT per row (baseline)", enqueue_base, enqueue_base),
        ("outbox enqueue, 1 per transaction", single, enqueue_base),
        ("outbox enqueue, 100 per transaction", batched, enqueue_base),
        ("httpx GETs to an in-process 200 (baseline)", get_base, get_base),
        ("delivery through the outbox", delivered, get_base),
    ]
    for label, value, base in rows:
        print(f"{label:<46} {value:>12,.0f}/s  {value / base:6.2f}x baseline")


if __name__ == "__main__":
    main()
