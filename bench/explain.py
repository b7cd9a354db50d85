""""What changed?" benchmark: a KPI's change over 30 days of 10 million calls explained from rollups.

    python bench/explain.py                      # 10,000,000 calls in the 30-day window (and as many a week earlier)
    python bench/explain.py --calls 1000000 --values 20

1. Writes the rollup rows of 37 days of traffic directly, in bulk (``executemany`` of plain INSERTs into
   ``stats_rollups`` in one transaction): a day row per day, an hour row per hour and a minute row per minute
   of the last day of each window, for the grand total and every value of every breakdown dimension. The
   explanation reads only rollups, so the calls themselves are not generated; the counters of each row are
   those of ``--calls`` calls spread evenly over 30 days, split over each dimension's values by fixed
   weights; in the last 7 days the value ``p7`` of ``provider`` answers 40 % fewer calls (a planted drop, so
   the explanation has something to find; the script checks it leads the provider rows).
2. Times ``hangup.stats.explain.explain`` of ASR over the 30 days ending 17 minutes past an hour (so day, hour
   and minute rows are all read) against the same window a week earlier, every breakdown dimension, best of
   ``--runs``; and, as baselines measured in the same run on the same rollups, the dashboard's KPI summary
   of the same window (one rollup read) and the window's breakdown by every dimension (what the explanation
   reads for one of its two windows). Prints the times and the ratios.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stats import best_of  # the statistics benchmark's timing (this script's folder is on sys.path)

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
#: Values per dimension (``provider`` gets ``--values``; the others their usual handful).
VALUE_COUNTS = {"outcome": 8, "call_end_reason": 16, "terminate": 6, "cause": 30, "ended_by": 5, "fault": 7,
                "call_type": 2, "direction": 2, "service": 3}


def _values(dim: str, provider_values: int) -> list[tuple[str, float]]:
    """(value, weight) of a dimension: Zipf-like weights, so a few values hold most calls, as in real traffic."""
    count = provider_values if dim == "provider" else VALUE_COUNTS.get(dim, 10)
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


def rows(calls: int, provider_values: int) -> Iterator[tuple[Any, ...]]:
    """Rollup rows; from a week before ``END`` on, ``p7``'s calls answer 40 % less (so does the total)."""
    per_second = calls / SPAN
    dims = {dim: _values(dim, provider_values) for dim in BREAKDOWNS}
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


def build(path: Path, calls: int, provider_values: int) -> tuple[float, int]:
    open_store(f"sqlite:///{path}").close()  # schema and migrations
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # a bench load, not the rollup hook's path
    columns = (*KEY, *COUNTERS)
    insert = f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(insert, rows(calls, provider_values))
    conn.execute("COMMIT")
    count = int(conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])
    conn.close()
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000_000, help="calls in the 30-day window")
    parser.add_argument("--values", type=int, default=50, help="values of the provider (route) dimension")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "explain.db"
        took, count = build(path, args.calls, args.values)
        print(f"rollup rows written in bulk: {count:,} in {took:.1f} s")
        db = StatsDB(f"sqlite:///{path}")
        service = StatsService(db, minute_days=0)
        window = Window(END - SPAN, END)
        question = changes.question("asr", window, limit=20)
        summary_s, summary = best_of(lambda: service.summary(window), args.runs)
        aligned = service.aligned(window)
        breakdowns_s, _ = best_of(lambda: [service.by_value(aligned, d) for d in BREAKDOWNS], args.runs)
        explain_s, answer = best_of(lambda: changes.explain(service, question), args.runs)
        db.close()
    attempts = summary["totals"]["attempts"]
    provider = [r for r in answer["contributions"] if r["dimension"] == "provider"]
    print(f"window: 30 days, {attempts:,} calls (baseline {answer['baseline_attempts']:,}); ASR "
          f"{answer['baseline_display']} -> {answer['display']}; leading provider row: "
          f"{provider[0]['value'] if provider else '-'}")
    print(f"KPI summary from rollups (baseline): {summary_s * 1000:.1f} ms")
    print(f"the window's breakdown by every dimension, from rollups (baseline): {breakdowns_s * 1000:.1f} ms")
    print(f"what changed, {len(BREAKDOWNS)} dimensions: {explain_s * 1000:.1f} ms "
          f"({explain_s / summary_s:.1f}x the summary, {explain_s / breakdowns_s:.2f}x the breakdowns)")
    print(f"target under 200 ms: {'met' if explain_s < 0.2 else 'NOT met'}")
    assert provider and provider[0]["value"] == "p7", "the planted drop should lead the provider rows"


if __name__ == "__main__":
    main()
