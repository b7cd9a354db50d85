"""Routes benchmark: the 30-day routes page over 10 million calls, and what routes cost each stored call.

    python bench/routes.py                      # 10,000,000 calls, 500 routes, 200 destination countries
    python bench/routes.py --calls 1000000      # smaller

1. **The routes page.** The rollup rows 10 million calls over 30 days would leave are written directly
   (``--calls`` spread over 500 routes, 200 destination countries, 2,000 destination prefixes and 50 origin
   countries with Zipf-like weights and a daily profile; each value's hourly count, answered share, NER,
   durations and set-up delays drawn from a seeded generator): hour and day rows for the 30 days, minute rows
   for the last day, in one ``executemany`` per level. Minute rows older than that are left out: retention
   prunes them after ``HANGUP_MINUTE_ROLLUP_DAYS`` and a 30-day question never reads them. Building 10 million
   ``CallRecord``s would take longer than the run and is not what is measured. Then ``route_table`` (the
   answer ``/routes``, ``/routes.json``, ``/api/stats/routes`` and ``hangup stats routes`` share) and the HTML
   page through the app are timed over 30 days ending at an unaligned minute, best of 9 per dimension, against
   the same dimension's ``/breakdowns`` answer (``StatsService.breakdown``: no last week, no sparklines, minute
   edges) in the same run.
2. **Rollup upkeep per call.** 20,000 generated calls with routes and numbers are summed and upserted
   (``rollups.apply``, the write hook's work, in batches of 500 on a SQLite store) with the route
   dimensions against without them (today's dimensions), alternated batch by batch in one run.
3. **Numbers per call.** ``RecordDraft.finish()`` of 20,000 drafts with realistic callers and callees (2,000
   distinct numbers, national and international forms) with normalisation against without it, and cold
   (empty LRU) against warm.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from hangup import numbers
from hangup.composition import open_store
from hangup.numbers import NumberPlan
from hangup.providers.draft import RecordDraft
from hangup.records import CallRecord
from hangup.settings import load_settings
from hangup.stats import rollups, traffic
from hangup.stats.buckets import DAY, HOUR, MINUTE
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import ROUTE_DIMENSIONS
from hangup.stats.route_table import route_table
from hangup.stats.service import StatsService
from hangup.stats.totals import COUNTERS
from hangup.stats.windows import Window
from hangup.store.schema import ROUTE_COLUMNS
from hangup.web.app import create_app

END = 1_796_000_000 - 1_796_000_000 % DAY + 13 * HOUR + 17 * MINUTE  # an unaligned minute
START = END - 30 * DAY
#: (dimension, distinct values) of the generated rollups.
SHAPE = (("route", 500), ("destination_country", 200), ("destination_prefix", 2000), ("origin_country", 50))
_INDEX = {name: i for i, name in enumerate(COUNTERS)}


def _weights(n: int) -> list[float]:
    raw = [1 / (i + 1) ** 0.9 for i in range(n)]
    total = sum(raw)
    return [w / total for w in raw]


def _counters(calls: int, quality: float, rng: random.Random) -> list[int]:
    """Counter sums of ``calls`` calls of a value whose answer ratio is about ``quality``."""
    row = [0] * len(COUNTERS)
    answered = min(calls, max(0, round(calls * quality + rng.gauss(0, 0.5))))
    failed = calls - answered - (calls - answered) // 3
    row[_INDEX["attempts"]] = calls
    row[_INDEX["answered"]] = answered
    row[_INDEX["normal"]] = calls - failed
    row[_INDEX["ner_ok"]] = calls - failed // 2
    row[_INDEX["duration_sum"]] = answered * rng.randint(60, 240)
    row[_INDEX["tta_sum"]] = answered * rng.randint(3, 12)
    row[_INDEX["tta_count"]] = answered
    row[_INDEX["failed"]] = failed
    row[_INDEX["failed_network"]] = failed // 2
    row[_INDEX["failed_callee_side"]] = failed - failed // 2
    return row


def _rows(calls: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """Rollup rows (``KEY`` then ``COUNTERS``) of ``calls`` calls over the 30 days: hours and days, minutes of
    the last day."""
    rng = random.Random(seed)
    hours = list(range(START - START % HOUR, END, HOUR))
    profile = [0.3 + abs((h // HOUR) % 24 - 3) / 12 for h in hours]
    scale = calls / sum(profile)
    for dim, count in SHAPE:
        weights = _weights(count)
        quality = [0.35 + 0.4 * rng.random() for _ in range(count)]
        days: dict[tuple[int, int], list[int]] = {}
        for h, share in zip(hours, profile, strict=True):
            for v, weight in enumerate(weights):
                n = int(scale * share * weight + rng.random())
                if not n:
                    continue
                row = _counters(n, quality[v], rng)
                yield (HOUR, dim, h, f"{dim[:4]}-{v:04d}", *row)
                acc = days.setdefault((h - h % DAY, v), [0] * len(COUNTERS))
                for i, x in enumerate(row):
                    acc[i] += x
                if h >= END - DAY:
                    yield from _minutes(dim, h, f"{dim[:4]}-{v:04d}", row)
        for (day, v), row in days.items():
            yield (DAY, dim, day, f"{dim[:4]}-{v:04d}", *row)


def _minutes(dim: str, hour: int, value: str, row: list[int]) -> Iterator[tuple[Any, ...]]:
    """An hour's sums spread over the minutes holding its calls (as many minutes as calls, at most 60)."""
    spread = max(1, min(60, row[0]))
    for m in range(spread):
        part = [x // spread + (1 if m < x % spread else 0) for x in row]
        if part[0]:
            yield (MINUTE, dim, hour + m * MINUTE, value, *part)


def load(path: Path, calls: int) -> int:
    open_store(f"sqlite:///{path}").close()
    conn = sqlite3.connect(path)
    marks = ", ".join("?" * (4 + len(COUNTERS)))
    insert = f"INSERT INTO {rollups.TABLE} ({', '.join(rollups.KEY + COUNTERS)}) VALUES ({marks})"
    with conn:
        conn.executemany(insert, _rows(calls))
    rows = int(conn.execute(f"SELECT COUNT(*) FROM {rollups.TABLE}").fetchone()[0])
    conn.execute("ANALYZE")
    conn.close()
    return rows


def best(fn: Callable[[], Any], runs: int = 9) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def page_times(path: Path) -> None:
    db = StatsDB(f"sqlite:///{path}")
    service = StatsService(db, minute_days=0, clock=lambda: END)
    window = Window(START, END)
    print("| dimension | values | /breakdowns answer ms (baseline) | route_table ms | /routes page ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    settings = load_settings({"HANGUP_DB": f"sqlite:///{path}"})
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        for dim in ROUTE_DIMENSIONS:
            answer = route_table(service, window, dim)
            # the same dimension's breakdown as /breakdowns reads it (no last week, no sparklines), same run
            base_ms = best(lambda dim=dim: service.breakdown(window, dim, limit=50))  # type: ignore[misc]
            table_ms = best(lambda dim=dim: route_table(service, window, dim))  # type: ignore[misc]
            url = f"/routes?since={START}&until={END}&by={dim}"
            response = client.get(url)
            assert response.status_code == 200, response.text[:500]
            page_ms = best(lambda url=url: client.get(url))  # type: ignore[misc]
            print(f"| {dim} | {len(answer['rows']) + answer['more']} | {base_ms:.1f} | {table_ms:.1f} | {page_ms:.1f} "
                  f"| {table_ms / base_ms:.2f} |")
    db.close()


def routed_calls(n: int, seed: int = 3) -> list[CallRecord]:
    rng = random.Random(seed)
    calls = traffic.generate(n, END - 6 * HOUR, END, seed=seed, users=200)
    return [replace(c, route=f"carrier-{rng.randrange(500)}", to_country=f"C{rng.randrange(200)}",
                    to_prefix=f"{rng.randrange(2000):04d}", from_country=f"C{rng.randrange(50)}") for c in calls]


def upkeep(n: int = 20_000, batch: int = 500) -> None:
    calls = routed_calls(n)
    # today's work: the ordinary dimensions, calls grouped on the fields those read
    plain = tuple(d for d in rollups._BREAKDOWN_DIMENSIONS if d.id not in ROUTE_DIMENSIONS)
    plain_fields = attrgetter(*(f for f in (*rollups.GROUP_COLUMNS, "answered", "normal") if f not in ROUTE_COLUMNS))
    routed, routed_fields = rollups._BREAKDOWN_DIMENSIONS, rollups._GROUP_FIELDS
    times: dict[str, list[float]] = {"without route dimensions": [], "with route dimensions": []}
    with tempfile.TemporaryDirectory() as tmp:
        conns = {}
        for name in times:
            path = Path(tmp) / f"{name.split()[0]}.db"
            open_store(f"sqlite:///{path}").close()
            conns[name] = sqlite3.connect(path, isolation_level=None)
        for start in range(0, n, batch):
            part = calls[start:start + batch]
            for name, dims, fields in (("without route dimensions", plain, plain_fields),
                                       ("with route dimensions", routed, routed_fields)):
                rollups._BREAKDOWN_DIMENSIONS, rollups._GROUP_FIELDS = dims, fields
                conn = conns[name]
                started = time.perf_counter()
                conn.execute("BEGIN")
                rollups.apply(conn, part)
                conn.execute("COMMIT")
                times[name].append((time.perf_counter() - started) / len(part))
        rollups._BREAKDOWN_DIMENSIONS, rollups._GROUP_FIELDS = routed, routed_fields
        count = f"SELECT COUNT(*) FROM {rollups.TABLE}"
        keys = {name: int(c.execute(count).fetchone()[0]) for name, c in conns.items()}
    print(f"\nRollup upkeep, {n:,} calls in batches of {batch} (SQLite, one transaction per batch):")
    for name, each in times.items():
        print(f"  {name}: {statistics.median(each) * 1e6:.1f} µs per call (median batch), {keys[name]:,} rollup rows")
    ratio = statistics.median(times["with route dimensions"]) / statistics.median(times["without route dimensions"])
    print(f"  ratio {ratio:.2f}")


NATIONAL = ("030 {:08d}", "+49 30 {:08d}", "(415) 555-{:04d}", "+1 415 555 {:04d}", "0044 20 7183 {:04d}",
            "sip:+4930{:08d}@gw.example", "user{:04d}")


def numbers_cost(n: int = 20_000, distinct: int = 2_000) -> None:
    rng = random.Random(5)
    pool = [NATIONAL[i % len(NATIONAL)].format(rng.randrange(10_000)) for i in range(distinct)]
    drafts = [(pool[rng.randrange(distinct)], pool[rng.randrange(distinct)]) for _ in range(n)]

    def finish_all() -> float:
        started = time.perf_counter()
        for i, (a, b) in enumerate(drafts):
            RecordDraft("asterisk", provider_call_id=str(i), from_user_id=a, to_user_id=b,
                        chain=["q850:16"], answered=True).finish()
        return (time.perf_counter() - started) / n * 1e6

    numbers.configure(NumberPlan("US", {"asterisk": "DE"}))
    numbers.normalise.cache_clear()
    cold = finish_all()
    draft_module: Any = __import__("hangup.providers.draft", fromlist=["parties"])
    real = draft_module.parties
    runs: dict[str, list[float]] = {"bare": [], "warm": []}
    for _ in range(5):  # alternated, best of 5 each: the shared machine's load changes by the second
        draft_module.parties = lambda *args: numbers.NO_PARTIES
        try:
            runs["bare"].append(finish_all())
        finally:
            draft_module.parties = real
        runs["warm"].append(finish_all())
    bare, warm = min(runs["bare"]), min(runs["warm"])
    print(f"\nRecordDraft.finish(), {n:,} calls over {distinct:,} distinct numbers:")
    print(f"  without numbers {bare:.1f} µs, with numbers warm {warm:.1f} µs (+{warm - bare:.1f}), "
          f"cold cache {cold:.1f} µs (+{cold - bare:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "routes.db"
        started = time.perf_counter()
        rows = load(path, args.calls)
        print(f"{args.calls:,} calls as {rows:,} rollup rows written in {time.perf_counter() - started:.1f} s\n")
        page_times(path)
    upkeep()
    numbers_cost()


if __name__ == "__main__":
    main()
