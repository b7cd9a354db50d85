"""The SQLite outbox: the store's file, written by its one writer (``hangup.store.database``).

It shares the store's database file and its ``_migrations`` table: the emitter's migrations
(``hangup.emit.schema``) are applied here when missing and skipped by the store when already recorded.
Every write is an operation of the file's writer, so outbox rows and calls never compete for SQLite's
write lock within a process. Its statements are the portable ones of ``hangup.emit.outbox.sql``.
"""

from __future__ import annotations

import time
from typing import Any

from hangup.emit import schema
from hangup.emit.outbox.base import Entry, NewEntry, State
from hangup.emit.outbox.sql import DUE, SELECT, Connection, SQLOutbox, entry_of, entry_values
from hangup.store.migrations import MIGRATIONS_TABLE_DDL, render

DIALECT = "sqlite"
_DUE = f"SELECT {SELECT} {DUE}"
_LEASE = "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?"


class SQLiteOutbox(SQLOutbox):
    """``Outbox`` on a SQLite file; ``synchronous`` as for the store (the URL's own option wins)."""

    binds_arrays = False

    def __init__(self, url: str, *, synchronous: str | None = None) -> None:
        super().__init__(url, synchronous=synchronous)

    def migrate(self) -> list[str]:
        return self._write(_migrate)

    # -- queue ------------------------------------------------------------------------------
    def _insert(self, db: Connection, new: NewEntry, now: float) -> tuple[int, bool]:
        created = db.execute(self._sql.insert_entry, entry_values(new, now)).rowcount == 1
        row = db.execute(self._sql.entry_id, (new.sid, new.destination)).fetchone()
        return int(row[0]), created

    def claim(self, limit: int, now: float, lease: float) -> list[Entry]:
        if limit <= 0:
            return []

        def task(db: Connection) -> list[Any]:
            rows = db.execute(_DUE, (State.PENDING, now, limit)).fetchall()
            for row in rows:
                db.execute(_LEASE, (now + lease, now, row[0]))
            return rows

        return [entry_of(row, attempts_delta=1, next_attempt_at=now + lease) for row in self._write(task)]


def _migrate(conn: Any) -> list[str]:
    conn.execute(render(MIGRATIONS_TABLE_DDL, DIALECT))
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    applied_now: list[str] = []
    for migration in schema.MIGRATIONS:
        if migration.name in done:
            continue
        for statement in migration.statements(DIALECT):
            conn.execute(statement)
        conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (migration.name, time.time()))
        applied_now.append(migration.name)
    return applied_now
