"""Writer shards: each writer adds to rows of its own, so nodes never wait on each other's row locks.

Every node's transaction used to upsert the same grand-total rollup rows (this minute, hour and day) and
held their row locks until it committed, so the writers of several nodes sharing one PostgreSQL database
took turns. A writer therefore owns ``shard``, a small integer held by one writer connection at a time,
and the rows everybody used to share are keyed by it: the rollups' key ends in it (``hangup.stats.rollups``;
a reader sums the shards, every rollup read is a ``SUM … GROUP BY`` already, so answers do not change) and
``/readyz`` rewrites the ``heartbeat`` row of its writer's shard (``hangup.store.schema``). A bucket has at
most as many rollup rows per key, and ``heartbeat`` at most as many rows, as writers ever ran at once, and
never more than ``MAX_SHARDS``.

A PostgreSQL writer claims its shard when it first writes rollups or beats: the lowest free number of
``0 … MAX_SHARDS - 1``, held as a session-level advisory lock (PostgreSQL 15 manual §13.3.5) keyed by
the schema, so two live writers never hold the same one and a restarted or reconnected writer takes a
free number again (usually the one it had). No setting is needed, and two nodes configured alike can
not collide. SQLite has one writer per database, so it writes shard 0 only.
"""

from __future__ import annotations

import weakref
from typing import Any

from hangup.store.postgres_schema import lock_key

#: Shards a schema can have; a writer finding all held (more writers than this) shares one by backend id.
MAX_SHARDS = 64

_CLAIMED: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def writer_shard(conn: Any, postgres: bool) -> int:
    """The shard the writer on ``conn`` adds its sums to (claimed on first use on PostgreSQL)."""
    if not postgres:
        return 0
    found = _CLAIMED.get(conn)
    if found is None:
        found = _CLAIMED[conn] = _claim(conn.cursor())
    return found


def _claim(cur: Any) -> int:
    cur.execute("SELECT current_schema(), pg_backend_pid()")
    schema, pid = cur.fetchone()
    key = lock_key("rollup-shard", schema)
    for shard in range(MAX_SHARDS):
        cur.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", (key, shard))
        if cur.fetchone()[0]:
            return shard
    return int(pid) % MAX_SHARDS
