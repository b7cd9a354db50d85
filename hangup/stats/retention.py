"""Retention of minute rollups: minute rows answer recent ranges only, so rows older than a few days go.

Minute rows make a range's edges exact to the minute; hour and day rows live as long as the calls.
With ``minute_rollup_days`` (``HANGUP_MINUTE_ROLLUP_DAYS``) = N, the *minute horizon* is N days before
now, floored to the hour. A range edge older than the horizon is widened to a whole hour, so no answer
reads a minute row before it, and minute buckets are refused for ranges that start before it; the prune
deletes minute rows only before the horizon less ``GRACE`` (``horizon``, ``widen``, ``prune_before`` and
``GRACE`` are in ``hangup.stats.buckets``, where the rollup write hook reads them too). Which rows
an answer reads thus depends on the setting and the clock, never on whether a prune has run yet.

The prune deletes in chunks of about ``CHUNK_ROWS`` rows, one dimension's oldest buckets at a time
(a range of the primary key ``(level, dim, bucket, value)``). On SQLite each chunk is an operation of
the store's writer, queued in line with the calls, so the write lock is never held for more than one
chunk; on PostgreSQL chunks run on a connection of their own, one node at a time, as the partition
maintenance does.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from hangup.errors import StoreError
from hangup.stats.buckets import MINUTE, prune_before
from hangup.stats.db import StatsDB
from hangup.stats.rollups import TABLE, sql
from hangup.store import Store
from hangup.store.database import paramstyle_of
from hangup.store.postgres_schema import lock_key
from hangup.store.url import parse_url
from hangup.store.writer import WriterBackedStore

#: ``HANGUP_MINUTE_ROLLUP_DAYS``' default: the dashboard's 7-day range and the longest minute series (2,000
#: minutes) ending up to a day ago stay exact to the minute (``tests/stats/test_retention.py`` keeps it equal).
DEFAULT_DAYS = 8
#: Rows one chunk deletes (a few milliseconds of the writer's time).
CHUNK_ROWS = 2000
#: How often ``hangup serve`` prunes.
PRUNE_SECONDS = 3600.0

#: ``task(connection)`` inside one transaction; returns the rows it deleted.
Task = Callable[[Any], int]

_NEXT_DIM = f"SELECT dim FROM {TABLE} WHERE level = {MINUTE} AND dim > ? ORDER BY dim LIMIT 1"
_NTH_BUCKET = (
    f"SELECT bucket FROM {TABLE} WHERE level = {MINUTE} AND dim = ? AND bucket < ? ORDER BY bucket LIMIT 1 OFFSET ?"
)
_DELETE = f"DELETE FROM {TABLE} WHERE level = {MINUTE} AND dim = ? AND bucket < ?"


# -- pruning ------------------------------------------------------------------------------
def prune(store: Store, days: int, now: float | None = None, *, rows: int = CHUNK_ROWS,
          stop: threading.Event | None = None) -> int:
    """Delete the minute rollup rows of ``store`` past ``days`` of retention, chunk by chunk; return how many.

    ``stop``, when set, ends the run after the chunk in progress (the server is shutting down).
    """
    cutoff = prune_before(time.time() if now is None else now, days)
    if cutoff is None:
        return 0
    task = functools.partial(prune_chunk, cutoff=cutoff, rows=rows)
    total = 0
    with _runner(store) as run:
        while stop is None or not stop.is_set():
            deleted = run(task)
            if not deleted:
                break
            total += deleted
    return total


def prune_chunk(conn: Any, cutoff: int, rows: int) -> int:
    """Delete about ``rows`` minute rows with buckets before ``cutoff``, oldest first in each dimension;
    return how many (0 when none is left). Run inside the caller's transaction."""
    style = paramstyle_of(conn)
    deleted = 0
    for dim in _minute_dims(conn, style):
        if deleted >= rows:
            break
        end = _chunk_end(conn, style, dim, cutoff, rows - deleted)
        if end is not None:
            deleted += conn.execute(sql(_DELETE, style), (dim, end)).rowcount
    return deleted


def _minute_dims(conn: Any, style: str) -> Iterator[str]:
    """Every dimension with minute rows: one seek per dimension, not a scan of the rows."""
    dim = ""  # the grand total, the smallest text
    yield dim
    while (row := conn.execute(sql(_NEXT_DIM, style), (dim,)).fetchone()) is not None:
        dim = row[0]
        yield dim


def _chunk_end(conn: Any, style: str, dim: str, cutoff: int, budget: int) -> int | None:
    """Where the next deletion of ``dim`` stops: at most ``budget`` rows, yet at least one whole minute
    (so a chunk always gets somewhere); ``None`` when ``dim`` has no row before ``cutoff``."""
    query = sql(_NTH_BUCKET, style)
    first = conn.execute(query, (dim, cutoff, 0)).fetchone()
    if first is None:
        return None
    nth = conn.execute(query, (dim, cutoff, budget)).fetchone()
    return cutoff if nth is None else max(int(nth[0]), int(first[0]) + MINUTE)


@contextlib.contextmanager
def _runner(store: Store) -> Iterator[Callable[[Task], int]]:
    """``run(task)`` for ``store``'s back end: its writer on SQLite, an own connection on PostgreSQL."""
    if parse_url(store.url).dialect != "sqlite":
        with _postgres_runner(store.url) as run:
            yield run
    elif isinstance(store, WriterBackedStore):
        yield store.run_in_writer
    else:
        raise StoreError(f"{type(store).__name__} has no writer to prune minute rollups through")


@contextlib.contextmanager
def _postgres_runner(url: str) -> Iterator[Callable[[Task], int]]:
    db = StatsDB(url)
    conn = db.connect()
    try:
        key = lock_key("minute-rollups", conn.execute("SELECT current_schema()").fetchone()[0])

        def run(task: Task) -> int:
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '10s'")
                if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone()[0]:
                    return 0  # another node is pruning this round
                return task(conn)

        yield run
    finally:
        conn.close()
        db.close()
