"""Incremental rollups: per-bucket sums of every counter, per dimension value, kept in the store.

One table, ``stats_rollups``, keyed by ``(level, dim, bucket, value)``: ``level`` is the bucket size
in seconds (60, 3600, 86400), ``bucket`` the UTC-aligned bucket start, ``dim`` a dimension id (``""``
for the grand total) and ``value`` the dimension's value. Columns after the key are the counters of
``hangup.stats.totals.COUNTERS``. A batch of calls is summed in Python first and written with one
portable ``INSERT ... ON CONFLICT ... DO UPDATE`` per distinct key (SQLite >= 3.24 and PostgreSQL),
inside the writer's transaction, so a call is counted exactly once and only when it is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hangup.records import CallRecord
from hangup.stats.buckets import DAY, HOUR, MINUTE, ceil, decompose, floor
from hangup.stats.dimensions import ALL, BREAKDOWNS, DIMENSIONS, TOPS
from hangup.stats.totals import COUNTERS, Totals, call_time, counters
from hangup.store.migrations import Migration

TABLE = "stats_rollups"
KEY = ("level", "dim", "bucket", "value")
LEVEL_SIZES = (MINUTE, HOUR, DAY)

_COUNTER_COLUMNS = ",\n    ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in COUNTERS)

#: DDL of the rollup table; portable between SQLite and PostgreSQL.
SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    level INTEGER NOT NULL,
    dim TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    value TEXT NOT NULL,
    {_COUNTER_COLUMNS},
    PRIMARY KEY (level, dim, bucket, value)
)""",
)

#: Contributed to the store's named migrations (``hangup.store.migrations.MIGRATION_MODULES``).
MIGRATIONS = (Migration("0200_stats_rollups", SCHEMA),)

_SUMS = ", ".join(f"SUM({c})" for c in COUNTERS)
_UPSERT = (
    f"INSERT INTO {TABLE} ({', '.join(KEY + COUNTERS)}) VALUES ({', '.join('?' * (len(KEY) + len(COUNTERS)))}) "
    f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = {TABLE}.{c} + excluded.{c}" for c in COUNTERS)
)

Key = tuple[int, str, int, str]


def sql(text: str, paramstyle: str) -> str:
    """Adapt ``?`` placeholders to the driver's style (``qmark`` for sqlite3, ``format`` for psycopg)."""
    return text if paramstyle == "qmark" else text.replace("?", "%s")


def paramstyle_of(conn: Any) -> str:
    module = type(conn).__module__
    return "qmark" if module.startswith("sqlite3") else "format"


def aggregate(records: Iterable[CallRecord]) -> dict[Key, list[int]]:
    """Sum a batch of calls into rollup keys (every level, every dimension, tops per day for failures)."""
    acc: dict[Key, list[int]] = {}
    dims = [DIMENSIONS[d] for d in BREAKDOWNS]
    tops = [DIMENSIONS[d] for d in TOPS]
    for record in records:
        row = counters(record)
        t = call_time(record)
        values = [(ALL, "")] + [(d.id, d.key(record)) for d in dims]
        for size in LEVEL_SIZES:
            bucket = floor(t, size)
            for dim, value in values:
                _add(acc, (size, dim, bucket, value), row)
        if not record.normal:
            day = floor(t, DAY)
            for d in tops:
                _add(acc, (DAY, d.id, day, d.key(record)), row)
    return acc


def _add(acc: dict[Key, list[int]], key: Key, row: tuple[int, ...]) -> None:
    sums = acc.get(key)
    if sums is None:
        acc[key] = list(row)
    else:
        for i, v in enumerate(row):
            sums[i] += v


def apply(conn: Any, records: Sequence[CallRecord]) -> int:
    """Add a batch of newly stored calls to the rollups on ``conn``; return the rows touched.

    This is the store's write hook: it runs inside the insert transaction and does not commit.
    """
    if not records:
        return 0
    acc = aggregate(records)
    # Sorted keys: writers on several nodes lock shared rollup rows in one order, so they never deadlock.
    params = [(*key, *sums) for key, sums in sorted(acc.items())]
    cur = conn.cursor()
    cur.executemany(sql(_UPSERT, paramstyle_of(conn)), params)
    return len(params)


def hook(conn: Any, records: Sequence[CallRecord]) -> None:
    """The store write hook (``Store.add_write_hook``): ``apply`` without a result."""
    apply(conn, records)


def clear(conn: Any) -> None:
    conn.cursor().execute(f"DELETE FROM {TABLE}")


# -- reads --------------------------------------------------------------------------------
def _where_ranges(start: int, end: int) -> tuple[str, list[int]]:
    parts = decompose(start, end)
    if not parts:
        return "1 = 0", []
    clause = " OR ".join("(level = ? AND bucket >= ? AND bucket < ?)" for _ in parts)
    return f"({clause})", [v for part in parts for v in part]


def totals(conn: Any, start: int, end: int, dim: str = ALL, value: str = "") -> Totals:
    """Totals of calls in ``[start, end)`` (minute-aligned), optionally of one dimension value."""
    ranges, params = _where_ranges(start, end)
    query = f"SELECT {_SUMS} FROM {TABLE} WHERE dim = ? AND value = ? AND {ranges}"
    cur = conn.cursor()
    cur.execute(sql(query, paramstyle_of(conn)), [dim, value, *params])
    return Totals.from_row(cur.fetchone())


def breakdown(conn: Any, start: int, end: int, dim: str) -> dict[str, Totals]:
    """Totals per value of ``dim`` over ``[start, end)``; top dimensions are read from whole days."""
    if dim in TOPS:
        ranges, params = "(level = ? AND bucket >= ? AND bucket < ?)", [DAY, floor(start, DAY), ceil(end, DAY)]
    else:
        ranges, params = _where_ranges(start, end)
    query = f"SELECT value, {_SUMS} FROM {TABLE} WHERE dim = ? AND {ranges} GROUP BY value"
    cur = conn.cursor()
    cur.execute(sql(query, paramstyle_of(conn)), [dim, *params])
    return {row[0]: Totals.from_row(row[1:]) for row in cur.fetchall()}


def series(conn: Any, start: int, end: int, size: int, dim: str = ALL, value: str = "") -> dict[int, Totals]:
    """Totals per bucket of ``size`` seconds whose start lies in ``[floor(start), end)``."""
    query = (
        f"SELECT bucket, {_SUMS} FROM {TABLE} WHERE level = ? AND dim = ? AND value = ? "
        "AND bucket >= ? AND bucket < ? GROUP BY bucket ORDER BY bucket"
    )
    cur = conn.cursor()
    cur.execute(sql(query, paramstyle_of(conn)), [size, dim, value, floor(start, size), end])
    return {int(row[0]): Totals.from_row(row[1:]) for row in cur.fetchall()}
