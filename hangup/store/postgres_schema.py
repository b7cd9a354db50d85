"""PostgreSQL spelling of the call store's tables: ``calls`` partitioned by month, ``call_keys`` keeping ids unique.

The portable DDL of ``hangup.store.schema`` gives one plain ``calls`` table. On PostgreSQL, migration
``0001_calls`` instead creates ``calls`` with declarative range partitioning on ``ended_at`` (Unix
seconds), one partition per UTC calendar month (``calls_p202406`` holds June 2024) and a default
partition for anything else. A unique index of a partitioned table must contain the partition key,
so ``calls`` alone could not refuse the same call id arriving with a different ``ended_at``; the
unpartitioned ``call_keys`` table (id, ``ended_at``, digest) is therefore where a call is claimed
exactly once, and the place a repeated delivery is compared against.

Partitions are created on demand by ``ensure_month`` (before a batch that needs one, and for the
coming months by the store's maintenance) and dropped whole by ``drop_months_before`` (retention).
Both run under a transaction-level advisory lock so several nodes never race on the same DDL.
Column types are the portable ones; see ``hangup/store/schema.py`` and PostgreSQL 15 manual §5.11
"Table Partitioning" for the create-then-ATTACH pattern used here (it takes only a SHARE UPDATE
EXCLUSIVE lock on ``calls``, so inserts and reads go on while a month is added).
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

from hangup.store.schema import _CALLS

#: Months outside these years go to the default partition (no month table for absurd timestamps).
FIRST_YEAR = 1970
LAST_YEAR = 9998
DEFAULT_PARTITION = "calls_default"



def _partitioned(ddl: str) -> str:
    """The portable ``CREATE TABLE calls`` with the key moved to ``(id, ended_at)`` and range partitioning."""
    body = ddl.strip()
    if "id TEXT PRIMARY KEY," not in body or not body.endswith(")"):
        raise RuntimeError("hangup.store.schema changed the calls DDL; update the PostgreSQL spelling too")
    body = body.replace("id TEXT PRIMARY KEY,", "id TEXT NOT NULL,")[:-1].rstrip()
    return body + ",\n    PRIMARY KEY (id, ended_at)\n) PARTITION BY RANGE (ended_at)"


_PARTITIONED_CALLS = _partitioned(_CALLS)

_CALL_KEYS = """
CREATE TABLE call_keys (
    id TEXT PRIMARY KEY,
    ended_at BIGINT NOT NULL,
    digest TEXT NOT NULL
)
"""

#: Statements of migration ``0001_calls`` on PostgreSQL (same name, same columns as the portable one).
CALLS_MIGRATION: tuple[str, ...] = (
    _PARTITIONED_CALLS,
    f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF calls DEFAULT",
    _CALL_KEYS,
    "CREATE INDEX call_keys_ended ON call_keys (ended_at)",
    "CREATE INDEX calls_provider_call ON calls (provider_call_id)",
    "CREATE INDEX calls_ended ON calls (ended_at, id)",
    "CREATE INDEX calls_from_user ON calls (from_user_id, ended_at)",
    "CREATE INDEX calls_to_user ON calls (to_user_id, ended_at)",
    "CREATE INDEX calls_outcome ON calls (outcome, ended_at)",
    "CREATE INDEX calls_end_reason ON calls (call_end_reason, ended_at)",
)

Month = tuple[int, int]  # (year, month), UTC


def lock_key(purpose: str, schema: str) -> int:
    """A stable 32-bit advisory-lock key per purpose and schema (parallel schemas do not wait on each other)."""
    return zlib.crc32(f"hangup:{purpose}:{schema}".encode()) - 2**31


def month_of(seconds: int) -> Month | None:
    """The UTC month of a Unix time, or ``None`` when it belongs in the default partition."""
    if seconds < 0:
        return None
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        return None
    return moment.year, moment.month


def bounds(month: Month) -> tuple[int, int]:
    """``[start, end)`` of a month in Unix seconds."""
    year, mon = month
    nxt = (year + 1, 1) if mon == 12 else (year, mon + 1)
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(nxt[0], nxt[1], 1, tzinfo=UTC)
    return int(start.timestamp()), int(end.timestamp())


def shift(month: Month, months: int) -> Month:
    index = month[0] * 12 + (month[1] - 1) + months
    return index // 12, index % 12 + 1


def partition_name(month: Month) -> str:
    return f"calls_p{month[0]:04d}{month[1]:02d}"


def month_of_name(name: str) -> Month | None:
    if len(name) != 13 or not name.startswith("calls_p") or not name[7:].isdigit():
        return None
    return int(name[7:11]), int(name[11:13])


def ensure_month(cur: Any, month: Month, schema: str) -> bool:
    """Create the partition of ``month`` unless it exists; run inside a transaction. True when created now.

    Rows of that month already in the default partition (stored before the month had a table) are moved
    into the new table before it is attached, since ATTACH refuses a default partition holding them.
    """
    name = partition_name(month)
    start, end = bounds(month)
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("partitions", schema),))
    cur.execute("SELECT to_regclass(%s)", (name,))
    if cur.fetchone()[0] is not None:
        return False
    cur.execute("SET LOCAL lock_timeout = '10s'")
    cur.execute(f"CREATE TABLE {name} (LIKE calls INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cur.execute(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK (ended_at >= {start} AND ended_at < {end})"
    )
    cur.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE ended_at >= %s AND ended_at < %s RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved",
        (start, end),
    )
    cur.execute(f"ALTER TABLE calls ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})")
    # The CHECK only spared ATTACH a scan of the new table; the partition bound now says the same.
    cur.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range")
    return True


def months_present(cur: Any) -> list[Month]:
    """Months that have a partition, oldest first."""
    cur.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'calls'::regclass"
    )
    found = [month_of_name(row[0]) for row in cur.fetchall()]
    return sorted(m for m in found if m is not None)


def drop_months_before(cur: Any, cutoff: Month, schema: str) -> list[str]:
    """Drop every month partition older than ``cutoff`` and forget what they held; run inside a transaction.

    Also removes the matching ``call_keys`` rows, legs, default-partition rows and rollup buckets, so
    statistics keep equalling the stored calls and a late repeat of a dropped call is stored again
    (and dropped again by the next run).
    """
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("partitions", schema),))
    cur.execute("SET LOCAL lock_timeout = '10s'")
    limit = bounds(cutoff)[0]
    dropped: list[str] = []
    for month in months_present(cur):
        if month < cutoff:
            name = partition_name(month)
            cur.execute(f"DROP TABLE {name}")
            dropped.append(name)
    cur.execute(f"DELETE FROM {DEFAULT_PARTITION} WHERE ended_at < %s", (limit,))
    cur.execute("DELETE FROM call_keys WHERE ended_at < %s", (limit,))
    # the legs of the dropped calls (every leg of a call ended no later than the call: ``hangup.legs``)
    cur.execute("DELETE FROM call_legs l WHERE l.end_time < %s AND NOT EXISTS "
                "(SELECT 1 FROM call_keys k WHERE k.id = l.call_id)", (limit,))
    cur.execute("SELECT to_regclass('stats_rollups')")
    if cur.fetchone()[0] is not None:
        cur.execute("DELETE FROM stats_rollups WHERE bucket < %s", (limit,))
    return dropped
