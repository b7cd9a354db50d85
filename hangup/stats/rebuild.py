"""``hangup rollups rebuild``: recompute every rollup exactly from the raw ``calls`` table.

Needed after ``hangup reclassify`` (which rewrites outcomes and faults of stored calls) or after
restoring calls from a backup. Runs in one transaction that holds the write lock, so no call is
inserted between the delete and the re-count (on SQLite it is an operation of the database's one
writer): minutes are grouped from calls, hours from minutes, days from hours, the per-day top
lists from failed calls and their weeks from their days.

A capped dimension (``hangup.stats.dimensions.CAPS``) is folded as the live writes fold it
(``hangup.stats.fold``): each UTC day admits its first ``cap`` distinct values and counts the others under
``OTHER``, at every level. "First" is the order the calls were received in (``received_at``), values first
received at the same moment by value, as a batch's new values are admitted; so calls written one after
another give the rows the writes gave. Where one write batch held calls whose order of receipt differs from
their values' order and the day's cap fell inside that batch, the rebuild may admit another of them.
"""

from __future__ import annotations

from typing import Any

from hangup.stats import raw
from hangup.stats.buckets import DAY, HOUR, MINUTE
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import ALL, BREAKDOWNS, CAPS, OTHER, TOPS
from hangup.stats.rollups import KEY, TABLE, weeks_from_days
from hangup.stats.totals import COUNTERS

_COLUMNS = ", ".join(KEY + COUNTERS)


#: Python's ``sorted`` order of text, which the live fold admits a batch's values in, per dialect.
_BY_CODE_POINT = {"sqlite": "", "postgresql": ' COLLATE "C"'}


def statements(dialect: str = "sqlite") -> list[str]:
    """The SQL of a rebuild after the delete, in order."""
    out: list[str] = []
    for dim in (ALL, *BREAKDOWNS):
        out.append(_capped(dim, CAPS[dim], _BY_CODE_POINT[dialect]) if dim in CAPS
                   else _from_calls(MINUTE, dim, failed_only=False))
    for size, finer in ((HOUR, MINUTE), (DAY, HOUR)):
        out.append(_from_level(size, finer))
    for dim in TOPS:
        out.append(_from_calls(DAY, dim, failed_only=True))
    out.append(weeks_from_days(TABLE, TABLE))
    return out


def _from_calls(size: int, dim: str, failed_only: bool) -> str:
    expr = raw.DIMENSION_SQL[dim]
    bucket = f"ended_at - (ended_at % {size})"
    where = " WHERE normal = 0" if failed_only else ""
    group = bucket if dim == ALL else f"{bucket}, {expr}"  # PostgreSQL refuses a constant in GROUP BY
    return (
        f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT {size}, '{dim}', {bucket}, {expr}, {raw.SUMS} "
        f"FROM calls{where} GROUP BY {group}"
    )


def _capped(dim: str, cap: int, collate: str) -> str:
    """The minute rows of a capped dimension, each call under its value if its day admits it, else ``OTHER``."""
    expr = raw.DIMENSION_SQL[dim]
    day = f"ended_at - (ended_at % {DAY})"
    bucket = f"ended_at - (ended_at % {MINUTE})"
    firsts = (f"SELECT {day} AS admitted_day, {expr} AS admitted_value, MIN(received_at) AS first_received "
              f"FROM calls GROUP BY {day}, {expr}")
    ranked = (f"SELECT admitted_day, admitted_value, ROW_NUMBER() OVER (PARTITION BY admitted_day "
              f"ORDER BY first_received, admitted_value{collate}) AS n FROM ({firsts}) firsts")
    value = f"COALESCE(admitted.admitted_value, '{OTHER}')"
    return (
        f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT {MINUTE}, '{dim}', {bucket}, {value}, {raw.SUMS} "
        f"FROM calls LEFT JOIN (SELECT admitted_day, admitted_value FROM ({ranked}) ranked WHERE n <= {cap}) admitted "
        f"ON admitted.admitted_day = {day} AND admitted.admitted_value = {expr} GROUP BY {bucket}, {value}"
    )


def _from_level(size: int, finer: int) -> str:
    bucket = f"bucket - (bucket % {size})"
    sums = ", ".join(f"SUM({c})" for c in COUNTERS)
    tops = ", ".join(f"'{d}'" for d in TOPS)
    return (
        f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT {size}, dim, {bucket}, value, {sums} "
        f"FROM {TABLE} WHERE level = {finer} AND dim NOT IN ({tops}) GROUP BY dim, {bucket}, value"
    )


def rebuild(db: StatsDB) -> int:
    """Recompute the rollups of ``db``; return the number of rollup rows written."""
    return db.write(lambda conn: _rebuild_on(conn, db.dialect))


def _rebuild_on(conn: Any, dialect: str) -> int:
    """The rebuild inside the caller's write transaction."""
    cur = conn.cursor()
    if dialect == "postgresql":
        cur.execute("LOCK TABLE calls IN SHARE MODE")  # holds off inserts (and their rollup hook) until COMMIT
        cur.execute(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
    cur.execute(f"DELETE FROM {TABLE}")
    for statement in statements(dialect):
        cur.execute(statement)
    if dialect == "postgresql":
        # The table was rewritten: without fresh statistics the planner took the top list's 35,000 day rows
        # for one and sorted them to group them, 40–75 ms against 10 ms hashed (docs/benchmarks.md). The
        # server's autovacuum would analyze it later; the dashboard read right after a rebuild should not wait.
        cur.execute(f"ANALYZE {TABLE}")
    cur.execute(f"SELECT COUNT(*) FROM {TABLE}")
    return int(cur.fetchone()[0])
