"""Statistics benchmark: the 30-day dashboard from rollups against the same figures by GROUP BY over raw rows.

    python bench/stats.py --calls 1000000        # default 10,000,000 (minutes on a shared 2-core machine)

1. Loads N calls spread over 30 days into a fresh SQLite store. Rows are generated inside SQLite (a
   recursive CTE spreading endings by a multiplicative hash over the same Planet mix as
   ``hangup.stats.traffic``; deterministic, so runs are comparable), because building
   N ``CallRecord`` objects in Python would dominate the run; the rollups are then computed by
   ``hangup rollups rebuild``. Neither step is the measured path.
2. Times the dashboard's overview (KPI tiles, attempts and ASR per day, outcome mix, top reasons, top
   failing callers) read from rollups, then the same figures by GROUP BY over the raw ``calls`` table,
   best of 3 each, checks that both give identical figures, and prints both times and the ratio.
3. Rollup upkeep, on a small separate store: storing calls with the rollup hook inside the writer's
   transaction against storing them bare and then running the same aggregation as an incremental job
   over the rows after a watermark. Prints the cost per call of each.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hangup.causes import default_catalog
from hangup.stats import raw, rebuild, rollups, traffic
from hangup.stats.buckets import DAY
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.service import StatsService, aligned
from hangup.stats.windows import Window
from hangup.store import open_store
from hangup.store.sql import row_record

END = 1_790_000_000 - 1_790_000_000 % DAY
SPAN = 30 * DAY


def _mix_rows() -> list[tuple[Any, ...]]:
    """(lo, hi, reason, outcome, ended_by, fault, normal, answered, terminate, cause) over 0..9999."""
    total = sum(w for _, w in traffic.REASON_MIX)
    rows, lo = [], 0
    catalog = default_catalog()
    for i, (code, weight) in enumerate(traffic.REASON_MIX):
        hi = 10000 if i == len(traffic.REASON_MIX) - 1 else lo + round(weight / total * 10000)
        c = catalog.lookup("planet", code)
        answered = int(c.outcome == "completed")
        terminate = 16 if answered else traffic.TERMINATE.get(str(c.outcome), 127)
        rows.append((lo, hi, code, str(c.outcome), str(c.ended_by), str(c.fault), int(c.normal), answered, terminate,
                     c.ref))
        lo = hi
    return rows


_LOAD = """
INSERT INTO calls (id, provider, provider_call_id, from_service_id, from_user_id, to_service_id, to_user_id,
  call_type, setup_time, start_time, end_time, duration, answered, direction, stid, srcip, dstip, call_end_reason,
  terminate, releaser, rel_code, rel_code_str, user_rel_code, cause, causes, outcome, ended_by, fault, normal,
  reason, q850, sip, flags, extra, raw, received_at, flagged, ended_at, digest)
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < :n - 1),
draw AS (SELECT i, (i * 2654435761 + 12345) % 10000 AS r, (i * 40503 + 7) % 2000 AS u,
         (i * 69069 + 1) % 2003 AS v, :start + (i * :span) / :n AS t, 1 + (i * 48271) % 400 AS d FROM seq)
SELECT 'b' || i, 'planet', 'b' || i, 'svc-' || (u % 3), 'user' || u, 'svc-' || (v % 3), 'user' || v,
  CASE WHEN u % 5 = 0 THEN 'V' ELSE 'A' END, t - 20 - d * answered, CASE WHEN answered = 1 THEN t - d ELSE 0 END,
  t, d * answered, answered, 'outbound', NULL, '10.0.0.' || (u % 250), '10.1.0.' || (v % 250), reason, terminate,
  'initiator', NULL, '', NULL, cause, '[]', outcome, ended_by, fault, normal, '', NULL, NULL, '[]', '{}', '',
  t + 0.25, 0, t, ''
FROM draw JOIN mix ON draw.r >= mix.lo AND draw.r < mix.hi
"""


def load(path: Path, n: int) -> float:
    open_store(f"sqlite:///{path}").close()  # schema and migrations
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # a bench load, not the ingest path
    conn.execute("CREATE TEMP TABLE mix (lo, hi, reason, outcome, ended_by, fault, normal, answered, terminate, "
                 "cause)")
    conn.executemany("INSERT INTO mix VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _mix_rows())
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.execute(_LOAD, {"n": n, "start": END - SPAN, "span": SPAN})
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


def best_of(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def from_rollups(service: StatsService, window: Window) -> dict[str, Any]:
    return service.overview(window, "day")


def from_raw(service: StatsService, window: Window) -> dict[str, Any]:
    """The overview's figures, every one counted from raw rows with the same definitions."""
    conn, style = service.db.reader(), service.db.paramstyle
    day_window = aligned(window, DAY)
    return {
        "totals": raw.totals(conn, aligned(window), style),
        "series": raw.series(conn, day_window, DAY, style),
        "outcomes": raw.breakdown(conn, aligned(window), "outcome", style),
        "reasons": raw.breakdown(conn, aligned(window), "call_end_reason", style),
        "top_users": raw.breakdown(conn, day_window, "user", style, failed_only=True),
    }


def same_figures(kept: dict[str, Any], counted: dict[str, Any]) -> bool:
    totals = counted["totals"]
    attempts_ok = kept["summary"]["totals"] == totals.to_json()
    series_ok = all(p["attempts"] == counted["series"].get(p["t"], raw.Totals()).attempts
                    for p in kept["series"]["attempts"]["points"])
    outcomes_ok = {r["value"]: r["attempts"] for r in kept["outcomes"]["rows"]} == {
        k: v.attempts for k, v in counted["outcomes"].items()}
    top = sorted(((-t.failed, k) for k, t in counted["top_users"].items()))[:10]
    top_ok = [(-r["failures"], r["value"]) for r in kept["top_users"]["rows"]] == top
    return attempts_ok and series_ok and outcomes_ok and top_ok


def upkeep(tmp: Path, n: int, rate: int) -> tuple[float, float, float]:
    """Seconds to store ``n`` calls arriving at ``rate`` per second with the hook, bare, and for the watermark job."""
    calls = list(traffic.generate(n, END - n // rate, END, seed=3))
    hooked = open_store(f"sqlite:///{tmp / 'hooked.db'}")
    attach_rollups(hooked)
    bare = open_store(f"sqlite:///{tmp / 'bare.db'}")
    with_hook = without = 0.0
    for i in range(0, n, 500):  # interleaved, so a busy moment of the machine hits both alike
        batch = calls[i : i + 500]
        started = time.perf_counter()
        hooked.add_many(batch)
        with_hook += time.perf_counter() - started
        started = time.perf_counter()
        bare.add_many(batch)
        without += time.perf_counter() - started
    hooked.close()
    bare.close()
    conn = sqlite3.connect(tmp / "bare.db", isolation_level=None)
    started = time.perf_counter()
    watermark = 0
    from hangup.store.sql import SELECT_COLUMNS

    while True:  # the job: read rows after the watermark, aggregate, upsert and move the watermark, per batch
        rows = conn.execute(f"SELECT rowid, {SELECT_COLUMNS} FROM calls WHERE rowid > ? ORDER BY rowid LIMIT 500",
                            (watermark,)).fetchall()
        if not rows:
            break
        conn.execute("BEGIN IMMEDIATE")
        rollups.apply(conn, [row_record(r[1:]) for r in rows])
        conn.execute("COMMIT")
        watermark = rows[-1][0]
    job = time.perf_counter() - started
    conn.close()
    return with_hook, without, job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--upkeep-calls", type=int, default=20_000)
    parser.add_argument("--upkeep-rate", type=int, default=50, help="calls per second of the upkeep traffic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        path = tmp / "calls.db"
        print(f"loading {args.calls:,} calls over 30 days (generated in SQLite) …", flush=True)
        print(f"  load {load(path, args.calls):.1f} s", flush=True)
        db = StatsDB(f"sqlite:///{path}")
        started = time.perf_counter()
        rows = rebuild.rebuild(db)
        print(f"  rollups rebuild: {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
        service = StatsService(db)
        window = Window(END - SPAN, END)
        t_roll, kept = best_of(lambda: from_rollups(service, window))
        t_raw, counted = best_of(lambda: from_raw(service, window))
        print(f"30-day overview from rollups: {t_roll * 1000:8.1f} ms")
        print(f"same figures by GROUP BY raw:  {t_raw * 1000:8.1f} ms")
        print(f"ratio raw / rollups: {t_raw / t_roll:,.0f}x; identical figures: {same_figures(kept, counted)}")
        db.close()
        n = args.upkeep_calls
        with_hook, without, job = upkeep(tmp, n, args.upkeep_rate)
        print(f"upkeep over {n:,} calls ({args.upkeep_rate}/s) stored in batches of 500 (synchronous=FULL):")
        print(f"  store without rollups     {without / n * 1e6:7.1f} us/call")
        print(f"  store with the hook       {with_hook / n * 1e6:7.1f} us/call "
              f"(+{(with_hook - without) / n * 1e6:.1f} us/call, same transaction)")
        print(f"  watermark job afterwards  {job / n * 1e6:7.1f} us/call (separate transactions)")


if __name__ == "__main__":
    main()
