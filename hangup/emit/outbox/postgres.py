"""The PostgreSQL outbox: the same contract as SQLite, for emitters on several nodes sharing one database.

``claim`` picks due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and pushes their lease forward in the
same statement, so two nodes claiming at once get disjoint rows and never wait on each other; a row
whose node died becomes due again when its lease runs out (at-least-once, receivers dedupe by
``sid``). Every method is one transaction on a pooled autocommit connection. The emitter's tables
come from its named migrations, applied here under the store's migration lock when missing. The other
statements are the portable ones of ``hangup.emit.outbox.sql``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from hangup.emit import schema
from hangup.emit.outbox.base import Entry, NewEntry, State
from hangup.emit.outbox.sql import COLUMNS, DUE, STATEMENTS, Connection, SQLOutbox, entry_of, entry_values, render
from hangup.errors import StoreError
from hangup.store.postgres import apply_migrations, conninfo_of

DIALECT = "postgresql"
_CLAIM = render(
    f"WITH due AS (SELECT id {DUE} FOR UPDATE SKIP LOCKED) "
    "UPDATE outbox o SET next_attempt_at = ?, attempts = o.attempts + 1, updated_at = ? "
    f"FROM due WHERE o.id = due.id RETURNING {', '.join('o.' + c for c in COLUMNS)}",
    DIALECT,
)
# RETURNING gives a new entry's id in the insert's own round trip
_INSERT_ENTRY = STATEMENTS[DIALECT].insert_entry + " RETURNING id"


class PostgresOutbox(SQLOutbox):
    """``Outbox`` on PostgreSQL (see the module docstring)."""

    dialect = DIALECT
    binds_arrays = True

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self.url = url
        self.conninfo = conninfo_of(url)
        try:
            self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                self.conninfo, min_size=1, max_size=max(1, pool_size), kwargs={"autocommit": True}, open=True,
                name="hangup-outbox", check=ConnectionPool.check_connection,
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the outbox at {url}: {exc}") from exc
        self.migrate()

    # -- plumbing ---------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[psycopg.Cursor[Any]]:
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            raise StoreError(f"outbox write failed: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._pool.connection() as conn:
                return conn.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"outbox read failed: {exc}") from exc

    def _text(self, value: str) -> str:
        return value.replace("\x00", "\ufffd")  # a PostgreSQL text value cannot hold NUL

    def migrate(self) -> list[str]:
        current = self._read("SELECT current_schema()")[0][0]
        return apply_migrations(self.conninfo, schema.MIGRATIONS, str(current))

    def close(self) -> None:
        self._pool.close()

    # -- queue ------------------------------------------------------------------------------
    def _insert(self, db: Connection, new: NewEntry, now: float) -> tuple[int, bool]:
        row = db.execute(_INSERT_ENTRY, entry_values(new, now)).fetchone()
        created = row is not None
        if row is None:  # a repeat: the first entry (committed, possibly by another node) stands
            row = db.execute(self._sql.entry_id, (new.sid, new.destination)).fetchone()
        return (int(row[0]), created) if row else (0, False)

    def claim(self, limit: int, now: float, lease: float) -> list[Entry]:
        if limit <= 0:
            return []
        with self._write() as cur:
            cur.execute(_CLAIM, (State.PENDING, now, limit, now + lease, now))
            rows = cur.fetchall()
        return sorted((entry_of(row) for row in rows), key=lambda e: e.id)
