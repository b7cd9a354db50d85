"""Secondary indexes of ``calls`` and ``call_keys`` built once after an import into an empty PostgreSQL store.

Each of the secondary indexes of ``calls`` and ``call_keys`` (``postgres_schema.CALLS_MIGRATION``) costs
an import about as much as the row itself: measured on 100,000 imported ``Master.csv`` rows, the ``INSERT … SELECT``
into ``calls`` took 2.4 s with them and 0.7 s without. Into an empty store (no call claimed yet),
``hangup import`` drops them at its start and builds each once at its end from the sorted rows, as the
SQLite store does with ``schema.DEFERRED_INDEXES``. The primary keys stay: claims and dedup need them.

A store whose import stopped before its end (a crash, a kill) would be left without them, so every
``PostgresStore`` that migrates builds the missing ones when it starts. Dropping and building happen
under an advisory lock of the schema, so two nodes never do both at once; a node that imports into a
store another node has begun filling finds calls claimed and keeps the indexes.
"""

from __future__ import annotations

from typing import Any

from hangup.store import postgres_schema as pgschema

#: ``name → CREATE INDEX IF NOT EXISTS …`` of each secondary index of ``calls`` and ``call_keys``.
DEFERRED: dict[str, str] = {
    statement.split()[2]: statement.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1)
    for statement in pgschema.CALLS_MIGRATION
    if statement.startswith("CREATE INDEX ")
}


def _lock(conn: Any, schema: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (pgschema.lock_key("indexes", schema),))


def _present(conn: Any) -> set[str]:
    rows = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename IN ('calls', 'call_keys')"
    ).fetchall()
    return {str(row[0]) for row in rows}


def defer(conn: Any, schema: str) -> list[str]:
    """In the open transaction of ``conn``: drop the deferred indexes if no call is stored; return those
    dropped."""
    _lock(conn, schema)
    if conn.execute("SELECT EXISTS (SELECT 1 FROM call_keys)").fetchone()[0]:
        return []
    dropped = sorted(_present(conn) & DEFERRED.keys())
    for name in dropped:
        conn.execute(f"DROP INDEX {name}")
    return dropped


def restore(conn: Any, schema: str) -> list[str]:
    """In the open transaction of ``conn``: build the deferred indexes that are missing; return them."""
    _lock(conn, schema)
    missing = sorted(DEFERRED.keys() - _present(conn))
    for name in missing:
        conn.execute(DEFERRED[name])
    return missing
