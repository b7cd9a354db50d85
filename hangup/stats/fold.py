"""Bounded rollup cardinality: a capped dimension keeps at most ``cap`` values per UTC day.

A route dimension (``hangup.stats.dimensions.CAPS``) can meet thousands of values: every carrier, prefix and
country a switch ever dialled. Its rollup rows grow with values × buckets, so each day admits the first
``cap`` distinct values it meets; a value first seen after that is counted under ``OTHER`` for the rest of
that day, at every level (its minute, hour and day keys fold alike, so levels still add up). The day's
admitted values are the day rows already stored plus the batch's, in the batch's sorted order, so every
writer decides the same way; two writers committing at once may admit a few values beyond the cap.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hangup.stats.buckets import DAY
from hangup.stats.dimensions import CAPS, OTHER
from hangup.store.database import paramstyle_of, to_paramstyle

Key = tuple[int, str, int, str]
_TABLE = "stats_rollups"
_COUNT = f"SELECT COUNT(DISTINCT value) FROM {_TABLE} WHERE level = ? AND dim = ? AND bucket = ?"  # over shards
_KNOWN = f"SELECT DISTINCT value FROM {_TABLE} WHERE level = ? AND dim = ? AND bucket = ? AND value IN "


def fold(conn: Any, acc: dict[Key, list[int]], caps: dict[str, int] = CAPS) -> dict[Key, list[int]]:
    """``acc`` (rollup key → counter sums) with the values over their day's cap counted under ``OTHER``."""
    seen: defaultdict[tuple[str, int], set[str]] = defaultdict(set)
    for _level, dim, bucket, value in acc:
        if dim in caps:
            seen[dim, bucket - bucket % DAY].add(value)
    if not seen:
        return acc
    refused = {(dim, day): _refused(conn, dim, day, values, caps[dim]) for (dim, day), values in seen.items()}
    if not any(refused.values()):
        return acc
    out: dict[Key, list[int]] = {}
    for (level, dim, bucket, value), sums in acc.items():
        if dim in caps and value in refused[dim, bucket - bucket % DAY]:
            value = OTHER
        key = (level, dim, bucket, value)
        found = out.get(key)
        out[key] = sums if found is None else [a + b for a, b in zip(found, sums, strict=True)]
    return out


def _refused(conn: Any, dim: str, day: int, values: set[str], cap: int) -> set[str]:
    """The values of ``values`` the day does not admit: not stored yet and beyond the cap."""
    style = paramstyle_of(conn)
    cur = conn.cursor()
    cur.execute(to_paramstyle(_COUNT, style), [DAY, dim, day])
    stored = int(cur.fetchone()[0])
    if stored + len(values) <= cap:
        return set()
    ordered = sorted(values - {OTHER})
    cur.execute(to_paramstyle(_KNOWN + "(" + ", ".join("?" * len(ordered)) + ")", style), [DAY, dim, day, *ordered])
    known = {row[0] for row in cur.fetchall()}
    room = max(0, cap - stored)
    admitted = [value for value in ordered if value not in known][:room]
    return set(ordered) - known - set(admitted)


#: The values a bulk batch's days refuse, one row each, for ``fold_table``'s one ``UPDATE`` (a session table:
#: SQLite's temp schema, PostgreSQL's ``pg_temp``, emptied at each commit there and before each use here).
_REFUSED = "rollup_refused_values"
_REFUSED_COLUMNS = "(dim TEXT, day BIGINT, value TEXT, PRIMARY KEY (dim, day, value))"
_CREATE_REFUSED = {"qmark": f"CREATE TEMP TABLE IF NOT EXISTS {_REFUSED} {_REFUSED_COLUMNS}",
                   "format": f"CREATE TEMP TABLE IF NOT EXISTS {_REFUSED} {_REFUSED_COLUMNS} ON COMMIT DELETE ROWS"}


def fold_table(conn: Any, table: str) -> None:
    """``fold`` of the rollup keys staged in ``table`` (``KEY`` and counter columns; bulk imports), in place:
    refused values are renamed ``OTHER``, so the table may then hold a key twice (its reader sums per key).

    The refused values of every (dimension, day) go into one session table and one ``UPDATE`` renames them:
    a batch of imported calls to thousands of new routes refuses thousands of values a day, and an
    ``UPDATE … IN (…)`` per day and chunk scanned the whole staged table each time."""
    style = paramstyle_of(conn)
    cur = conn.cursor()
    marks = ", ".join("?" * len(CAPS))
    cur.execute(to_paramstyle(f"SELECT DISTINCT dim, bucket, value FROM {table} WHERE level = ? AND dim IN ({marks})",
                              style), [DAY, *CAPS])
    seen: defaultdict[tuple[str, int], set[str]] = defaultdict(set)
    for dim, day, value in cur.fetchall():
        seen[dim, int(day)].add(value)
    refused = [(dim, day, value) for (dim, day), values in seen.items()
               for value in sorted(_refused(conn, dim, day, values, CAPS[dim]))]
    if not refused:
        return
    cur.execute(_CREATE_REFUSED[style])
    cur.execute(f"DELETE FROM {_REFUSED}")
    cur.executemany(to_paramstyle(f"INSERT INTO {_REFUSED} VALUES (?, ?, ?)", style), refused)
    # Buckets are whole minutes, hours or days from 1970 on, so integer division finds a key's day.
    cur.execute(to_paramstyle(
        f"UPDATE {table} SET value = ? WHERE dim IN ({marks}) AND EXISTS (SELECT 1 FROM {_REFUSED} r "
        f"WHERE r.dim = {table}.dim AND r.day = {table}.bucket / {DAY} * {DAY} AND r.value = {table}.value)",
        style), [OTHER, *CAPS])


__all__ = ["fold", "fold_table"]
