"""The same counters computed by ``GROUP BY`` over the raw ``calls`` table.

Used when a question has filters the rollups do not keep (a user, two filters at once), by
``hangup rollups rebuild``, and by tests and ``bench/stats.py`` as the reference the rollups must
equal. Every expression mirrors ``hangup.stats.totals.counters`` and the dimension readers of
``hangup.stats.dimensions``, in SQL both SQLite and PostgreSQL accept (booleans are 0/1 integers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hangup.bounds import MAX_DURATION
from hangup.stats.buckets import DAY
from hangup.stats.dimensions import ALL, OTHER
from hangup.stats.totals import FAULT_DOMAINS, NER_DELIVERED_FAULTS, Totals
from hangup.stats.windows import Window
from hangup.store.database import to_paramstyle
from hangup.store.sql import where


def _in(values: frozenset[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in sorted(values)) + ")"


def _at_most(seconds: str) -> str:
    """``totals.counted_duration``'s bound in SQL both back ends accept (no LEAST in SQLite, no MIN(a, b) in
    PostgreSQL)."""
    return f"CASE WHEN {seconds} > {MAX_DURATION} THEN {MAX_DURATION} ELSE {seconds} END"


_TTA_KNOWN = "answered = 1 AND setup_time > 0 AND start_time >= setup_time"

#: SQL aggregate of each counter, in ``COUNTERS`` order.
COUNTER_SQL: tuple[str, ...] = (
    "COUNT(*)",
    "SUM(answered)",
    "SUM(normal)",
    f"SUM(CASE WHEN answered = 1 OR fault IN {_in(NER_DELIVERED_FAULTS)} THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END)",
    f"SUM(CASE WHEN answered = 1 THEN {_at_most('duration')} ELSE 0 END)",
    f"SUM(CASE WHEN {_TTA_KNOWN} THEN {_at_most('start_time - setup_time')} ELSE 0 END)",
    f"SUM(CASE WHEN {_TTA_KNOWN} THEN 1 ELSE 0 END)",
    "SUM(1 - normal)",
    *(f"SUM(CASE WHEN normal = 0 AND fault = '{d}' THEN 1 ELSE 0 END)" for d in FAULT_DOMAINS),
    "SUM(CASE WHEN answered = 1 AND answered_by = 'human' THEN 1 ELSE 0 END)",
)
SUMS = ", ".join(COUNTER_SQL)

#: SQL reading each dimension's value as text, as ``Dimension.key`` reads it from a record.
DIMENSION_SQL: dict[str, str] = {
    ALL: "''",
    "outcome": "outcome",
    "call_end_reason": "COALESCE(CAST(call_end_reason AS TEXT), '')",
    "terminate": "COALESCE(CAST(terminate AS TEXT), '')",
    "cause": "cause",
    "ended_by": "ended_by",
    "fault": "fault",
    "call_type": "call_type",
    "direction": "direction",
    "service": "CASE WHEN from_service_id <> '' THEN from_service_id ELSE to_service_id END",
    "provider": "provider",
    "route": "route",
    "destination_country": "to_country",
    "destination_prefix": "to_prefix",
    "origin_country": "from_country",
    "user": "from_user_id",
    "destination": "to_user_id",
    "ip_pair": "srcip || '>' || dstip",
}


def _where(window: Window) -> tuple[str, list[Any]]:
    """WHERE clause of a window (``?`` placeholders): the call log's own filter SQL plus the statistics-only
    dimensions."""
    w = where(window.call_query(), "?", with_cursor=False)
    clauses, params = ([w.sql[len(" WHERE ") :]] if w.sql else []), list(w.params)
    for name, value in sorted(window.extra_filters().items()):
        clauses.append(f"{DIMENSION_SQL[name]} = ?")
        params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _run(conn: Any, query: str, params: list[Any], paramstyle: str) -> list[Any]:
    """Run ``query``, written with ``?`` placeholders, in the driver's ``paramstyle``."""
    cur = conn.cursor()
    cur.execute(to_paramstyle(query, paramstyle), params)
    return list(cur.fetchall())


def totals(conn: Any, window: Window, paramstyle: str) -> Totals:
    """Totals of the calls in ``window``, counted from raw rows."""
    clause, params = _where(window)
    return Totals.from_row(_run(conn, f"SELECT {SUMS} FROM calls{clause}", params, paramstyle)[0])


def breakdown(conn: Any, window: Window, dim: str, paramstyle: str, failed_only: bool = False) -> dict[str, Totals]:
    """Totals per value of ``dim`` (``failed_only``: only calls that did not end normally, as top lists keep)."""
    expr = DIMENSION_SQL[dim]
    clause, params = _where(window)
    if failed_only:
        clause = f"{clause} AND normal = 0" if clause else " WHERE normal = 0"
    rows = _run(conn, f"SELECT {expr}, {SUMS} FROM calls{clause} GROUP BY {expr}", params, paramstyle)
    return {str(row[0]): Totals.from_row(row[1:]) for row in rows}


def kept_breakdown(conn: Any, window: Window, dim: str, paramstyle: str) -> dict[str, Totals]:
    """``breakdown`` as the rollups keep a capped dimension (``hangup.stats.fold``): a call under its value where
    the rollups hold that value's day row (its day admitted it), else under ``OTHER``."""
    expr = DIMENSION_SQL[dim]
    clause, params = _where(window)
    admitted = (f"EXISTS (SELECT 1 FROM stats_rollups r WHERE r.level = {DAY} AND r.dim = '{dim}' "
                f"AND r.bucket = ended_at - (ended_at % {DAY}) AND r.value = {expr})")
    value = f"CASE WHEN {admitted} THEN {expr} ELSE '{OTHER}' END"
    rows = _run(conn, f"SELECT {value}, {SUMS} FROM calls{clause} GROUP BY {value}", params, paramstyle)
    return {str(row[0]): Totals.from_row(row[1:]) for row in rows}


def series(conn: Any, window: Window, size: int, paramstyle: str) -> dict[int, Totals]:
    """Totals per bucket of ``size`` seconds."""
    bucket = f"ended_at - (ended_at % {int(size)})"
    clause, params = _where(window)
    rows = _run(conn, f"SELECT {bucket}, {SUMS} FROM calls{clause} GROUP BY {bucket}", params, paramstyle)
    return {int(row[0]): Totals.from_row(row[1:]) for row in rows}


def series_by_value(conn: Any, window: Window, size: int, dim: str, values: Sequence[str], paramstyle: str
                    ) -> dict[tuple[str, int], tuple[int, int]]:
    """(attempts, answered) per (value of ``dim``, bucket of ``size`` seconds), for the given values only."""
    bucket, expr = f"ended_at - (ended_at % {int(size)})", DIMENSION_SQL[dim]
    clause, params = _where(window)
    marks = ", ".join("?" * len(values))
    clause = f"{clause} AND {expr} IN ({marks})" if clause else f" WHERE {expr} IN ({marks})"
    rows = _run(conn, f"SELECT {expr}, {bucket}, COUNT(*), SUM(answered) FROM calls{clause} GROUP BY {expr}, {bucket}",
                [*params, *values], paramstyle)
    return {(str(row[0]), int(row[1])): (int(row[2]), int(row[3] or 0)) for row in rows}
