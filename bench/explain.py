""""What changed?" benchmark: a KPI's change over 30 days of 10 million calls explained from rollups.

    python bench/explain.py                      # 10,000,000 calls in the 30-day window (and as many a week earlier)
    python bench/explain.py --values 500         # 500 providers and 500 routes, 200 destination countries
    python bench/explain.py --db postgresql://postgres@127.0.0.1/test   # the same on PostgreSQL

1. Writes the rollup rows of 37 days of traffic directly, in bulk (``executemany`` of plain INSERTs into
   ``stats_rollups`` in one transaction on SQLite, ``COPY`` into a schema of its own on PostgreSQL): a day row
   per day, an hour row per hour and a minute row per minute of the last day of each window, for the grand
   total and every value of every breakdown dimension. The explanation reads only rollups, so the calls
   themselves are not generated; the counters of each row are those of ``--calls`` calls spread evenly over
   30 days, split over each dimension's values by fixed weights (``provider`` and ``route`` get ``--values``
   values, ``destination_country`` ``--countries``); in the last 7 days the value ``p7`` of ``provider``
   answers 40 % fewer calls (a planted drop, so the explanation has something to find; the script checks it
   leads the provider rows).
2. Times ``hangup.stats.explain.explain`` of ASR over the 30 days ending 17 minutes past an hour against the
   same window a week earlier, every breakdown dimension, best of ``--runs`` (a window over a week is read
   to whole UTC days, as the route report is); and, as baselines measured in the same run on the same
   rollups, the dashboard's KPI summary of the same window (one rollup read), the window's breakdown by
   every dimension to the minute (all 17 counters: how the explanation read each of its two windows before),
   and the explanation's read of every dimension over that minute-aligned window (only the KPI's counters, as
   tuples; day, hour and minute rows). Prints the times and the ratios.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stats import best_of, pg_schema  # the statistics benchmark's helpers (this script's folder is on sys.path)

from hangup.composition import open_store
from hangup.stats import explain as changes
from hangup.stats.buckets import DAY, HOUR, MINUTE
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import ALL, BREAKDOWNS
from hangup.stats.rollups import KEY, TABLE
from hangup.stats.service import StatsService
from hangup.stats.totals import COUNTERS, FAULT_DOMAINS
from hangup.stats.windows import Window

END = 1_790_000_000 - 1_790_000_000 % DAY + 17 * MINUTE
SPAN = 30 * DAY
WEEK = 7 * DAY
#: Values per dimension (``provider`` and ``route`` get ``--values``, ``destination_country`` ``--countries``;
#: the others their usual handful).
VALUE_COUNTS = {"outcome": 8, "call_end_reason": 16, "terminate": 6, "cause": 30, "ended_by": 5, "fault": 7,
                "call_type": 2, "direction": 2, "service": 3}


def _values(dim: str, counts: dict[str, int]) -> list[tuple[str, float]]:
    """(value, weight) of a dimension: Zipf-like weights, so a few values hold most calls, as in real traffic."""
    count = counts.get(dim) or VALUE_COUNTS.get(dim, 10)
    raw = [1 / (i + 1) for i in range(count)]
    total = sum(raw)
    prefix = "p" if dim == "provider" else f"{dim[:3]}"
    return [(f"{prefix}{i}", w / total) for i, w in enumerate(raw)]


def _counters(calls: float, asr: float) -> list[int]:
    """The counters of ``calls`` calls answering at ``asr`` (a fixed mix of the other rates)."""
    answered = calls * asr
    failed = calls * (1 - asr) * 0.3
    row = {"attempts": calls, "answered": answered, "normal": calls - failed, "ner_ok": calls - failed * 0.8,
           "abandoned": calls * 0.02, "duration_sum": answered * 95, "tta_sum": answered * 9, "tta_count": answered,
           "failed": failed, "answered_human": answered * 0.8,
           **{f"failed_{d}": failed / len(FAULT_DOMAINS) for d in FAULT_DOMAINS}}
    return [round(row[c]) for c in COUNTERS]


def _buckets() -> Iterator[tuple[int, int]]:
    """(level, bucket start) of every rollup row: days and hours over the 37 days, minutes of the edges' days."""
    first, last = END - SPAN - WEEK, END
    first_day, last_day = first - first % DAY, last - last % DAY
    for day in range(first_day, last_day + DAY, DAY):
        yield DAY, day
    for hour in range(first_day, last_day + DAY, HOUR):
        yield HOUR, hour
    for edge in sorted({first, END - SPAN, END - WEEK, last}):  # the windows' unaligned ends read minutes
        day = edge - edge % DAY
        for minute in range(day, day + DAY, MINUTE):
            yield MINUTE, minute


def rows(calls: int, counts: dict[str, int]) -> Iterator[tuple[Any, ...]]:
    """Rollup rows; from a week before ``END`` on, ``p7``'s calls answer 40 % less (so does the total)."""
    per_second = calls / SPAN
    dims = {dim: _values(dim, counts) for dim in BREAKDOWNS}
    p7 = dict(dims["provider"])["p7"]
    for level, bucket in _buckets():
        total = per_second * level
        broken = bucket >= END - WEEK
        overall = 0.55 * (1 - 0.4 * p7) if broken else 0.55
        yield (level, ALL, bucket, "", *_counters(total, overall))
        for dim, values in dims.items():
            for value, weight in values:
                asr = overall if dim != "provider" else 0.55 * (0.6 if broken and value == "p7" else 1.0)
                yield (level, dim, bucket, value, *_counters(total * weight, asr))


COLUMNS = (*KEY, *COUNTERS)


def build(path: Path, calls: int, counts: dict[str, int]) -> tuple[float, int]:
    open_store(f"sqlite:///{path}").close()  # schema and migrations
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # a bench load, not the rollup hook's path
    insert = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(insert, rows(calls, counts))
    conn.execute("COMMIT")
    count = int(conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])
    conn.close()
    return time.perf_counter() - started, count


def build_postgres(url: str, calls: int, counts: dict[str, int]) -> tuple[float, int]:
    """``build`` on PostgreSQL: the same rows by ``COPY``, then ``ANALYZE`` (as autovacuum would, later)."""
    import psycopg

    open_store(url).close()
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows(calls, counts):
                copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        cur.execute(f"ANALYZE {TABLE}")
        cur.execute(f"SELECT COUNT(*) FROM {TABLE}")
        count = int(cur.fetchone()[0])  # type: ignore[index]
    return time.perf_counter() - started, count


def measure(url: str, runs: int) -> None:
    """Time the explanation and its baselines on the store at ``url`` and print them."""
    db = StatsDB(url)
    service = StatsService(db, minute_days=0)
    window = Window(END - SPAN, END)
    question = changes.question("asr", window, limit=20)
    summary_s, summary = best_of(lambda: service.summary(window), runs)
    aligned = service.aligned(window)
    breakdowns_s, _ = best_of(lambda: [service.by_value(aligned, d) for d in BREAKDOWNS], runs)
    names = changes.counters_of(changes.PARTS["asr"])
    one_read_s, _ = best_of(lambda: changes.by_value(service, aligned, BREAKDOWNS, names), runs)
    explain_s, answer = best_of(lambda: changes.explain(service, question), runs)
    db.close()
    provider = [r for r in answer["contributions"] if r["dimension"] == "provider"]
    print(f"window: 30 days, {summary['totals']['attempts']:,} calls; read to whole days "
          f"{answer['window']['from']}..{answer['window']['to']}: {answer['attempts']:,} calls (baseline "
          f"{answer['baseline_attempts']:,}); ASR {answer['baseline_display']} -> "
          f"{answer['display']}; leading provider row: {provider[0]['value'] if provider else '-'}")
    print(f"KPI summary from rollups (baseline): {summary_s * 1000:.1f} ms")
    print(f"the window's breakdown by every dimension, to the minute (baseline): "
          f"{breakdowns_s * 1000:.1f} ms")
    print(f"the explanation's read of every dimension, to the minute: {one_read_s * 1000:.1f} ms "
          f"({one_read_s / breakdowns_s:.2f}x the breakdowns)")
    print(f"what changed, {len(BREAKDOWNS)} dimensions, both windows: {explain_s * 1000:.1f} ms "
          f"({explain_s / summary_s:.1f}x the summary, {explain_s / breakdowns_s:.2f}x the breakdowns)")
    print(f"target under 200 ms: {'met' if explain_s < 0.2 else 'NOT met'}")
    assert provider and provider[0]["value"] == "p7", "the planted drop should lead the provider rows"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000_000, help="calls in the 30-day window")
    parser.add_argument("--values", type=int, default=50, help="values of the provider and route dimensions")
    parser.add_argument("--countries", type=int, default=200, help="values of destination_country")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default="", help="PostgreSQL server URL (a schema of its own); default SQLite")
    args = parser.parse_args()
    counts = {"provider": args.values, "route": args.values, "destination_country": args.countries}
    if args.db:
        with pg_schema(args.db) as url:
            took, count = build_postgres(url, args.calls, counts)
            print(f"rollup rows copied in bulk: {count:,} in {took:.1f} s")
            measure(url, args.runs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "explain.db"
        took, count = build(path, args.calls, counts)
        print(f"rollup rows written in bulk: {count:,} in {took:.1f} s")
        measure(f"sqlite:///{path}", args.runs)


if __name__ == "__main__":
    main()
