"""PostgreSQL's own ceiling for hangup's write transaction, measured with pgbench on this machine.

    python bench/ingest/pgbench_ceiling.py [--db postgresql://postgres@127.0.0.1:5432/test] [--seconds 10]

A database of its own gets hangup's schema (``open_store``: every migration, this month's partition), then
pgbench (``-n``, no vacuum; ``-M prepared``) runs a custom script shaped like one transaction of a node's
writer in ``bench/ingest/postgres.py``: ``--batch`` calls claimed in ``call_keys`` and inserted into
``calls`` (all 39 columns, the Planet values of the bench load, unique ids from ``gen_random_uuid``),
then ``--keys`` rollup rows upserted into the client's own shard, then COMMIT (``synchronous_commit`` on:
each commit waits for the WAL flush). No Python, no HTTP: what the server sustains when nodes cost nothing.
Prints transactions/s and calls/s per client count; calls/s is the ceiling a capacity model divides by a
node's rate.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import postgres  # noqa: E402 - bench/ingest/postgres.py: a database of its own per run

from hangup.composition import open_store  # noqa: E402
from hangup.stats.rollups import _ADD_COUNTERS, _WRITTEN, TABLE  # noqa: E402
from hangup.stats.totals import COUNTERS  # noqa: E402
from hangup.store.schema import CALL_COLUMNS  # noqa: E402

#: The value of each ``calls`` column in the script (``k.id`` is the claimed id), as the bench load stores.
_VALUES = {
    "id": "k.id", "provider": "'planet'", "provider_call_id": "k.id", "from_service_id": "'planetkit'",
    "from_user_id": "'caller.id'", "to_service_id": "'planetkit'", "to_user_id": "'callee.id'", "call_type": "'A'",
    "setup_time": "k.ended_at - 35", "start_time": "k.ended_at - 30", "end_time": "k.ended_at", "duration": "30",
    "answered": "1", "direction": "'unknown'", "stid": "'bench'", "srcip": "'1.2.3.4'", "dstip": "'1.2.3.3'",
    "call_end_reason": "1004", "terminate": "16", "releaser": "'initiator'", "rel_code": "2",
    "rel_code_str": "'NORMAL'", "user_rel_code": "NULL", "cause": "'planet:1004'", "causes": "'[]'",
    "outcome": "'completed'", "ended_by": "'caller'", "fault": "'none'", "normal": "1", "reason": "''",
    "q850": "16", "sip": "NULL", "flags": "'[]'", "extra": "'{}'", "raw": "repeat('x', 420)",
    "received_at": "extract(epoch from now())", "flagged": "0", "ended_at": "k.ended_at", "digest": "md5(k.id)",
}


def script(batch: int, keys: int) -> str:
    columns = ", ".join(CALL_COLUMNS)
    values = ", ".join(_VALUES[c] for c in CALL_COLUMNS)
    written = ", ".join(_WRITTEN)
    counters = ", ".join("1" for _ in COUNTERS)
    return f"""BEGIN;
WITH k AS (INSERT INTO call_keys (id, ended_at, digest)
    SELECT gen_random_uuid()::text, extract(epoch from now())::bigint, '' FROM generate_series(1, {batch})
    RETURNING id, ended_at)
INSERT INTO calls ({columns}) SELECT {values} FROM k;
INSERT INTO {TABLE} ({written})
    SELECT CASE WHEN g % 3 = 0 THEN 60 WHEN g % 3 = 1 THEN 3600 ELSE 86400 END, 'd' || (g % 12),
        extract(epoch from now())::bigint / 60 * 60, 'v' || g, :client_id, {counters}
    FROM generate_series(1, {keys}) g
    ON CONFLICT (level, dim, bucket, value, shard) DO UPDATE SET {_ADD_COUNTERS};
COMMIT;
"""


def run(conninfo: str, path: Path, clients: int, seconds: int) -> float:
    out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(clients), "-T",
                          str(seconds), "-f", str(path), conninfo], capture_output=True, text=True, check=True).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    if match is None:
        raise SystemExit(f"cannot read pgbench output:\n{out}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=postgres.DEFAULT_DB)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=24, help="calls per transaction (a node's batch at 32 "
                        "connections in bench/ingest/postgres.py)")
    parser.add_argument("--keys", type=int, default=130, help="rollup keys per transaction")
    parser.add_argument("--clients", default="1,2,3,4")
    args = parser.parse_args()
    with postgres.database(args.db) as (url, _), tempfile.TemporaryDirectory() as tmp:
        open_store(url).close()
        path = Path(tmp) / "callback.sql"
        path.write_text(script(args.batch, args.keys))
        conninfo = url.split("?", 1)[0]
        print(f"pgbench: {args.batch} calls and {args.keys} rollup keys per transaction, {args.seconds} s per run")
        print(f"{'clients':>7} {'xact/s':>8} {'calls/s':>8}")
        for clients in (int(c) for c in args.clients.split(",")):
            tps = run(conninfo, path, clients, args.seconds)
            print(f"{clients:>7} {tps:>8.0f} {tps * args.batch:>8.0f}")


if __name__ == "__main__":
    main()
