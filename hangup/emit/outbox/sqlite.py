"""The SQLite outbox: stdlib ``sqlite3``, WAL, one connection behind a lock, ``BEGIN IMMEDIATE`` for writes.

It shares the store's database file and its ``_migrations`` table: the emitter's migrations
(``hangup.emit.schema``) are applied here when missing and skipped by the store when already recorded.
Its statements are the portable ones of ``hangup.emit.outbox.sql``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hangup.emit import schema
from hangup.emit.outbox.base import Entry, NewEntry, State
from hangup.emit.outbox.sql import DUE, SELECT, Connection, SQLOutbox, entry_of, entry_values
from hangup.errors import StoreError
from hangup.store.migrations import MIGRATIONS_TABLE_DDL, render

DIALECT = "sqlite"
_DUE = f"SELECT {SELECT} {DUE}"
_LEASE = "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?"


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///PATH`` URL (a bare path is taken as it is)."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if "://" in url:
        raise StoreError(f"not a SQLite URL: {url!r} (expected sqlite:///PATH)")
    return url


class SQLiteOutbox(SQLOutbox):
    """``Outbox`` on a SQLite file."""

    dialect = DIALECT
    binds_arrays = False

    def __init__(self, url: str, *, synchronous: str = "FULL") -> None:
        self.url = url
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(sqlite_path(url), isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'NORMAL' if synchronous.upper() == 'NORMAL' else 'FULL'}")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self.migrate()

    # -- plumbing ---------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def migrate(self) -> list[str]:
        applied_now: list[str] = []
        with self._write() as conn:
            conn.execute(render(MIGRATIONS_TABLE_DDL, DIALECT))
            done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
            for migration in schema.MIGRATIONS:
                if migration.name in done:
                    continue
                for statement in migration.statements(DIALECT):
                    conn.execute(statement)
                conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (migration.name, time.time()))
                applied_now.append(migration.name)
        return applied_now

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- queue ------------------------------------------------------------------------------
    def _insert(self, db: Connection, new: NewEntry, now: float) -> tuple[int, bool]:
        created = db.execute(self._sql.insert_entry, entry_values(new, now)).rowcount == 1
        row = db.execute(self._sql.entry_id, (new.sid, new.destination)).fetchone()
        return int(row[0]), created

    def claim(self, limit: int, now: float, lease: float) -> list[Entry]:
        if limit <= 0:
            return []
        with self._write() as conn:
            rows = conn.execute(_DUE, (State.PENDING, now, limit)).fetchall()
            for row in rows:
                conn.execute(_LEASE, (now + lease, now, row[0]))
        return [entry_of(row, attempts_delta=1, next_attempt_at=now + lease) for row in rows]
