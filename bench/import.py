"""How fast is ``hangup import``? Asterisk ``Master.csv`` rows into a fresh SQLite store, against plain sqlite3.

Target: one million rows in under 10 s. The script first generates the rows (not timed), then measures

* the baseline: the same CSV rows parsed with ``csv`` and inserted by one ``sqlite3`` ``executemany`` into a
  table of text columns, one transaction (no classification, no dedup, no JSON) — the floor for this machine;
* hangup: ``Importer`` (adapter, cause classification, dedup, batched commits) into a fresh store opened as
  ``hangup import`` opens it (``open_configured_store``: ``synchronous=FULL`` and the standard write hooks, so
  the statistics rollups are kept in the same transactions), on files of ``--chunk`` rows one after another
  until the rows or the time ``--budget`` run out.

It prints rows/s of both, the ratio, and the time one million rows take. The budget (at most 120 s) keeps a
run bounded on a shared machine: when it stops early it says so and the 1M time is projected from the rate.
Usage: ``python bench/import.py [--rows 1000000] [--chunk 100000] [--group 10] [--budget 90]``.
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from hangup.composition import open_configured_store
from hangup.importer import Importer
from hangup.importer.run import DEFAULT_BATCH
from hangup.settings import load_settings

TARGET_SECONDS = 10.0
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


def hangup_import(files: list[Path], db: Path, budget: float, batch: int, group: int) -> tuple[int, float, bool]:
    """Import the chunk files, ``group`` per ``hangup import`` run (one run reads the next file while it
    stores the last one), until done or over budget; (rows imported, seconds, stopped early)."""
    store = open_configured_store(load_settings({"HANGUP_DB": f"sqlite:///{db}"}))
    imported = 0
    elapsed = 0.0
    try:
        for start in range(0, len(files), group):
            importer = Importer(store, batch_size=batch, rejects_path=str(db) + ".rejects")
            summary = importer.run([str(path) for path in files[start:start + group]], "asterisk-csv")
            imported += summary.imported
            elapsed += summary.seconds
            # Stop before a group that would run past the budget (groups take about equally long).
            if elapsed + summary.seconds > budget and start + group < len(files):
                return imported, elapsed, True
    finally:
        store.close()
    return imported, elapsed, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per transaction")
    parser.add_argument("--group", type=int, default=10, help="files per hangup import run (default: all in one)")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds of hangup import before stopping (max 120)")
    args = parser.parse_args()
    args.budget = min(max(args.budget, 1.0), 120.0)
    with tempfile.TemporaryDirectory(prefix="hangup-bench-import-") as tmp:
        folder = Path(tmp)
        files: list[Path] = []
        print(f"generating {args.rows:,} Master.csv rows …", flush=True)
        for index, first in enumerate(range(0, args.rows, args.chunk)):
            path = folder / f"Master-{index:03d}.csv"
            generate(path, min(args.chunk, args.rows - first), first, seed=index)
            files.append(path)
        base_rows, base_seconds = baseline(files, folder / "baseline.db")
        rows, seconds, early = hangup_import(files, folder / "hangup.db", args.budget, args.batch, max(1, args.group))
    base_rate = base_rows / base_seconds
    rate = rows / seconds
    million = TARGET_ROWS / rate
    print(f"{'':34}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
    print(f"{'sqlite3 executemany (baseline)':34}{base_rows:>12,}{base_seconds:>10.2f}{base_rate:>12,.0f}")
    print(f"{'hangup import (asterisk-csv)':34}{rows:>12,}{seconds:>10.2f}{rate:>12,.0f}")
    print(f"ratio (baseline rate / hangup rate): {base_rate / rate:.1f}x")
    verdict = "meets" if million <= TARGET_SECONDS else "misses"
    how = "measured" if rows >= TARGET_ROWS else f"projected from {rows:,} rows" + (
        f" (stopped at the {args.budget:.0f} s budget)" if early else "")
    print(f"1,000,000 rows: {million:.1f} s ({how}); target {TARGET_SECONDS:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
