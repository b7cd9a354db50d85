"""How fast is ``hangup import``? Asterisk ``Master.csv`` rows into a fresh SQLite store, against plain sqlite3.

Targets: hangup at most 1.3x the time of the plain ``sqlite3`` floor below, and at most 2x PostgreSQL's
``COPY`` of the same files (``--postgres``). The script first generates the rows (not timed), then measures

* the baseline: the same CSV rows parsed with ``csv`` and inserted by one ``sqlite3`` ``executemany`` into a
  table of text columns, one transaction (no classification, no dedup, no JSON) — the floor for this machine;
* hangup: ``Importer`` (adapter, cause classification, dedup, batched commits) into a fresh store opened as
  ``hangup import`` opens it (``open_configured_store``: ``synchronous=FULL`` and the standard write hooks, so
  the statistics rollups are kept in the same transactions), on files of ``--chunk`` rows one after another
  until the rows or the time ``--budget`` run out.

It prints rows/s of both, the ratio, and the time one million rows take. The budget (at most 120 s) keeps a
run bounded on a shared machine: when it stops early it says so and the 1M time is projected from the rate.
``--repeat N`` measures baseline and hangup N times, alternating, on the same files (the machine's speed
varies from minute to minute; compare the ratios of a pair).

With ``--postgres URL`` (a server, e.g. ``postgresql://postgres@127.0.0.1:5432/test``) it also measures, on
that server, the floor there: ``COPY`` of the same CSV files into a bare table of 18 text columns (one
transaction), and ``hangup import`` into a fresh schema of its own (``hangup.store.postgres_bulk``).

Usage: ``python bench/import.py [--rows 1000000] [--chunk 100000] [--group 10] [--budget 90] [--repeat 1]
[--postgres URL]``.
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from stats import pg_schema  # bench/stats.py

from hangup.composition import open_configured_store
from hangup.importer import Importer
from hangup.importer.run import DEFAULT_BATCH
from hangup.settings import load_settings

#: Targets: hangup's time at most this many times the floor's of the same run, per store.
TARGET_RATIOS = {"sqlite": 1.3, "postgres": 2.0}
TARGET_ROWS = 1_000_000
DISPOSITIONS = [("ANSWERED", 16, "ANSWER")] * 6 + [("NO ANSWER", 19, "NOANSWER")] * 2 + [
    ("BUSY", 17, "BUSY"), ("FAILED", 1, "CHANUNAVAIL"), ("CONGESTION", 34, "CONGESTION")]


def stamp(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) if seconds else ""


def generate(path: Path, rows: int, first: int, seed: int) -> None:
    """``rows`` realistic Master.csv rows (unique uniqueids from ``first`` on)."""
    rng = random.Random(seed)
    with path.open("w", newline="") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)
        for n in range(first, first + rows):
            disposition, cause, dial = rng.choice(DISPOSITIONS)
            start = 1_780_000_000 + n * 3
            billsec = rng.randint(1, 600) if disposition == "ANSWERED" else 0
            answer = start + 5 if billsec else 0
            src, dst = f"1{n % 9000:04d}", f"2{n % 7000:04d}"
            writer.writerow(["", src, dst, "from-internal", f'"User {src}" <{src}>', f"PJSIP/{src}-{n:08x}",
                             f"PJSIP/{dst}-{n:08x}", "Dial", f"PJSIP/{dst},30", stamp(start), stamp(answer),
                             stamp(start + 5 + billsec), 5 + billsec, billsec, disposition, "DOCUMENTATION",
                             f"{start}.{n}", f"hangupcause={cause};dialstatus={dial}"])


def baseline(files: list[Path], db: Path) -> tuple[int, float]:
    """Plain sqlite3: parse the CSV rows and executemany them into a text table in one transaction."""
    conn = sqlite3.connect(db)
    conn.execute(f"CREATE TABLE cdr ({', '.join(f'c{i} TEXT' for i in range(18))})")
    started = time.perf_counter()
    count = 0
    with conn:
        for path in files:
            with path.open(newline="") as stream:
                rows = [row[:18] for row in csv.reader(stream)]
            conn.executemany(f"INSERT INTO cdr VALUES ({', '.join('?' * 18)})", rows)
            count += len(rows)
    elapsed = time.perf_counter() - started
    conn.close()
    return count, elapsed


def copy_baseline(files: list[Path], server: str) -> tuple[int, float]:
    """PostgreSQL's floor: ``COPY`` of the CSV files into a bare table of text columns, one transaction."""
    import psycopg

    with pg_schema(server) as url, psycopg.connect(server, autocommit=False) as conn:
        schema = url.rsplit("%3D", 1)[1]
        conn.execute(f"CREATE TABLE {schema}.cdr ({', '.join(f'c{i} TEXT' for i in range(18))})")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY {schema}.cdr FROM STDIN (FORMAT csv)") as copy:
            for path in files:
                with path.open("rb") as stream:
                    while chunk := stream.read(1 << 20):
                        copy.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - started
        count = int(conn.execute(f"SELECT count(*) FROM {schema}.cdr").fetchone()[0])  # type: ignore[index]
    return count, elapsed


def hangup_import(files: list[Path], url: str, budget: float, batch: int, group: int) -> tuple[int, float, bool]:
    """Import the chunk files, ``group`` per ``hangup import`` run (one run reads the next file while it
    stores the last one), into the store at ``url`` until done or over budget; (rows imported, seconds,
    stopped early)."""
    store = open_configured_store(load_settings({"HANGUP_DB": url}))
    imported = 0
    elapsed = 0.0
    try:
        for start in range(0, len(files), group):
            importer = Importer(store, batch_size=batch, rejects_path=str(files[0]) + ".rejects")
            summary = importer.run([str(path) for path in files[start:start + group]], "asterisk-csv")
            imported += summary.imported
            elapsed += summary.seconds
            # Stop before a group that would run past the budget (groups take about equally long).
            if elapsed + summary.seconds > budget and start + group < len(files):
                return imported, elapsed, True
    finally:
        store.close()
    return imported, elapsed, False


def report(name: str, base: tuple[int, float], measured: tuple[int, float, bool], budget: float) -> float:
    """Print one pair (floor, hangup) and return the ratio of their rates."""
    (base_rows, base_seconds), (rows, seconds, early) = base, measured
    base_rate, rate = base_rows / base_seconds, rows / seconds
    print(f"{name + ' (baseline)':34}{base_rows:>12,}{base_seconds:>10.2f}{base_rate:>12,.0f}")
    print(f"{'hangup import (asterisk-csv)':34}{rows:>12,}{seconds:>10.2f}{rate:>12,.0f}")
    how = "measured" if rows >= TARGET_ROWS else f"projected from {rows:,} rows" + (
        f" (stopped at the {budget:.0f} s budget)" if early else "")
    print(f"ratio (baseline rate / hangup rate): {base_rate / rate:.2f}x; 1,000,000 rows: {TARGET_ROWS / rate:.1f} s"
          f" ({how})", flush=True)
    return base_rate / rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per transaction")
    parser.add_argument("--group", type=int, default=10, help="files per hangup import run (default: all in one)")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds of hangup import before stopping (max 120)")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs (baseline, hangup) on the same files")
    parser.add_argument("--postgres", metavar="URL", help="also compare with COPY on this PostgreSQL server")
    args = parser.parse_args()
    args.budget = min(max(args.budget, 1.0), 120.0)
    ratios: dict[str, list[float]] = {"sqlite": [], "postgres": []}
    with tempfile.TemporaryDirectory(prefix="hangup-bench-import-") as tmp:
        folder = Path(tmp)
        files: list[Path] = []
        print(f"generating {args.rows:,} Master.csv rows …", flush=True)
        for index, first in enumerate(range(0, args.rows, args.chunk)):
            path = folder / f"Master-{index:03d}.csv"
            generate(path, min(args.chunk, args.rows - first), first, seed=index)
            files.append(path)
        print(f"{'':34}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
        group = max(1, args.group)
        for _run in range(args.repeat):
            for name in ("baseline.db", "hangup.db", "hangup.db-wal", "hangup.db-shm"):
                (folder / name).unlink(missing_ok=True)
            base = baseline(files, folder / "baseline.db")
            measured = hangup_import(files, f"sqlite:///{folder / 'hangup.db'}", args.budget, args.batch, group)
            ratios["sqlite"].append(report("sqlite3 executemany", base, measured, args.budget))
            if args.postgres:
                copied = copy_baseline(files, args.postgres)
                with pg_schema(args.postgres) as url:
                    measured = hangup_import(files, url, args.budget, args.batch, group)
                ratios["postgres"].append(report("PostgreSQL COPY", copied, measured, args.budget))
    for name, found in ratios.items():
        if found:
            verdict = "meets" if min(found) <= TARGET_RATIOS[name] else "misses"
            print(f"{name}: ratio per run {', '.join(f'{r:.2f}x' for r in found)}; best {min(found):.2f}x; "
                  f"target {TARGET_RATIOS[name]}x: {verdict}")


if __name__ == "__main__":
    main()
