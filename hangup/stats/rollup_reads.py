"""Reads of the rollups (``hangup.stats.rollups``): totals, breakdowns, top lists and series over a window.

A window is answered from the coarsest rows that tile it (``buckets.decompose``: whole days, then hours, then
minutes at its edges), one range scan of the primary key per piece.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from hangup.stats.buckets import DAY, ceil, decompose, floor, top_pieces
from hangup.stats.dimensions import ALL, TOPS
from hangup.stats.rollups import TABLE
from hangup.stats.totals import COUNTERS, Totals
from hangup.store.database import paramstyle_of
from hangup.store.database import to_paramstyle as sql

_SUMS = ", ".join(f"SUM({c})" for c in COUNTERS)
# One query per (level, bucket range) piece: each is a range scan of the primary key, where an OR of
# the pieces would make the planner scan the table.
_PIECE = "level = ? AND dim = ? AND bucket >= ? AND bucket < ?"


def totals(conn: Any, start: int, end: int, dim: str = ALL, value: str = "") -> Totals:
    """Totals of calls in ``[start, end)`` (minute-aligned), optionally of one dimension value."""
    query = sql(f"SELECT {_SUMS} FROM {TABLE} WHERE {_PIECE} AND value = ?", paramstyle_of(conn))
    cur = conn.cursor()
    total = Totals()
    for size, lo, hi in decompose(start, end):
        cur.execute(query, [size, dim, lo, hi, value])
        total = total + Totals.from_row(cur.fetchone())
    return total


def breakdown(conn: Any, start: int, end: int, dim: str) -> dict[str, Totals]:
    """Totals per value of ``dim`` over ``[start, end)``; top dimensions are read from whole days."""
    pieces = [(DAY, floor(start, DAY), ceil(end, DAY))] if dim in TOPS else decompose(start, end)
    query = sql(f"SELECT value, {_SUMS} FROM {TABLE} WHERE {_PIECE} GROUP BY value", paramstyle_of(conn))
    cur = conn.cursor()
    found: dict[str, Totals] = {}
    for size, lo, hi in pieces:
        cur.execute(query, [size, dim, lo, hi])
        for row in cur.fetchall():
            found[row[0]] = found.get(row[0], Totals()) + Totals.from_row(row[1:])
    return found


def top(conn: Any, start: int, end: int, dim: str, limit: int) -> dict[str, Totals]:
    """The ``limit`` values of a top dimension with the most failed calls over the whole UTC days of the range.

    The days are read as whole weeks and the days at either edge (``top_pieces``), so 30 days read 6 to 12
    rows a value rather than 30. Ranked in SQL on one column first, then summed in full for the winners
    only, so the cost grows with the rows of the range, not with their 17 counters, and only ``limit`` rows
    reach Python. The winners' rows are named by their whole key, each bucket and each winner
    (``bucket IN … AND value IN …``): with a bucket range instead, PostgreSQL 15 tested every index entry
    of the range against the list of winners, 21–35 ms for the 35,000 day rows of 30 days over 1 M calls,
    against 0.7 ms for those 300 key lookups (docs/benchmarks.md, PostgreSQL, Statistics).
    """
    style = paramstyle_of(conn)
    pieces = top_pieces(start, end)
    if not pieces:
        return {}
    union = " UNION ALL ".join(f"SELECT value, failed FROM {TABLE} WHERE {_PIECE}" for _ in pieces)
    cur = conn.cursor()
    cur.execute(sql(f"SELECT value FROM ({union}) AS pieces GROUP BY value ORDER BY SUM(failed) DESC, value LIMIT ?",
                    style), [*(x for size, lo, hi in pieces for x in (size, dim, lo, hi)), limit])
    winners = [row[0] for row in cur.fetchall()]
    if not winners:
        return {}
    buckets: dict[int, list[int]] = defaultdict(list)
    for size, lo, hi in pieces:
        buckets[size].extend(range(lo, hi, size))
    union = " UNION ALL ".join(
        f"SELECT value, {', '.join(COUNTERS)} FROM {TABLE} WHERE level = ? AND dim = ? "
        f"AND bucket IN ({_marks(starts)}) AND value IN ({_marks(winners)})" for starts in buckets.values())
    cur.execute(sql(f"SELECT value, {_SUMS} FROM ({union}) AS rows GROUP BY value", style),
                [x for size, starts in buckets.items() for x in (size, dim, *starts, *winners)])
    found = {row[0]: Totals.from_row(row[1:]) for row in cur.fetchall()}
    return {value: found[value] for value in winners}


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def series(conn: Any, start: int, end: int, size: int, dim: str = ALL, value: str = "") -> dict[int, Totals]:
    """Totals per bucket of ``size`` seconds whose start lies in ``[floor(start), end)``."""
    query = (
        f"SELECT bucket, {_SUMS} FROM {TABLE} WHERE level = ? AND dim = ? AND value = ? "
        "AND bucket >= ? AND bucket < ? GROUP BY bucket ORDER BY bucket"
    )
    cur = conn.cursor()
    cur.execute(sql(query, paramstyle_of(conn)), [size, dim, value, floor(start, size), end])
    return {int(row[0]): Totals.from_row(row[1:]) for row in cur.fetchall()}


def summed_breakdown(conn: Any, start: int, end: int, dim: str, counters: Sequence[str] = COUNTERS
                     ) -> dict[str, Totals]:
    """``breakdown`` of an ordinary dimension summed in SQL: one statement whose ``UNION ALL`` branches are the
    pieces' range scans, grouped once, so a dimension with hundreds of values returns one row per value
    instead of one per value and piece (the routes page over 30 days: 500 rows, not 2,000). Only ``counters``
    are summed (the others read 0): each summed column costs the scan time."""
    pieces = decompose(start, end)
    if not pieces:
        return {}
    wanted = [c for c in COUNTERS if c in counters]
    union = " UNION ALL ".join(f"SELECT value, {', '.join(wanted)} FROM {TABLE} WHERE {_PIECE}" for _ in pieces)
    sums = ", ".join(f"SUM({c})" if c in counters else "0" for c in COUNTERS)
    query = sql(f"SELECT value, {sums} FROM ({union}) AS pieces GROUP BY value", paramstyle_of(conn))
    cur = conn.cursor()
    cur.execute(query, [x for size, lo, hi in pieces for x in (size, dim, lo, hi)])
    return {row[0]: Totals.from_row(row[1:]) for row in cur.fetchall()}


def series_by_value(conn: Any, start: int, end: int, size: int, dim: str, values: Sequence[str]
                    ) -> dict[tuple[str, int], tuple[int, int]]:
    """(attempts, answered) per (value, bucket of ``size`` seconds) of the given values of ``dim``, in one query."""
    query = (f"SELECT value, bucket, SUM(attempts), SUM(answered) FROM {TABLE} WHERE level = ? AND dim = ? "
             f"AND bucket >= ? AND bucket < ? AND value IN ({_marks(values)}) GROUP BY value, bucket")
    cur = conn.cursor()
    cur.execute(sql(query, paramstyle_of(conn)), [size, dim, floor(start, size), end, *values])
    return {(row[0], int(row[1])): (int(row[2]), int(row[3])) for row in cur.fetchall()}



def sums_by_value(conn: Any, start: int, end: int, dim: str, counters: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """``breakdown`` of only ``counters``, as tuples: one statement per piece, each a range scan of the key grouped
    by value. (One statement over every dimension and piece sorts all their rows at once: 4x slower on SQLite,
    and PostgreSQL misestimates its hour piece into a sequential scan; ``docs/benchmarks.md``, "What changed".)"""
    query = sql(f"SELECT value, {', '.join(f'SUM({c})' for c in counters)} FROM {TABLE} WHERE {_PIECE} GROUP BY value",
                paramstyle_of(conn))
    cur = conn.cursor()
    found: dict[str, tuple[int, ...]] = {}
    for size, lo, hi in decompose(start, end):
        cur.execute(query, [size, dim, lo, hi])
        for value, *sums in cur.fetchall():
            row = tuple(int(v) for v in sums)
            before = found.get(value)
            found[value] = row if before is None else tuple(a + b for a, b in zip(before, row, strict=True))
    return found
