"""The SQLite outbox: stdlib ``sqlite3``, WAL, one connection behind a lock, ``BEGIN IMMEDIATE`` for writes.

It shares the store's database file and its ``_migrations`` table: the emitter's migrations
(``hangup.emit.schema``) are applied here when missing and skipped by the store when already recorded.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hangup.emit import schema
from hangup.emit.outbox.base import Entry, NewEntry, StartedCall, State
from hangup.errors import StoreError
from hangup.store.migrations import MIGRATIONS_TABLE_DDL, render

DIALECT = "sqlite"
BODY_LIMIT = 2048  # characters of a dead-lettering answer kept for inspection
_COLUMNS = (
    "id, sid, destination, query, state, flags, attempts, created_at, next_attempt_at, updated_at, delivered_at, "
    "last_status, last_error, response_body"
)


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///PATH`` URL (a bare path is taken as it is)."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if "://" in url:
        raise StoreError(f"not a SQLite URL: {url!r} (expected sqlite:///PATH)")
    return url


class SQLiteOutbox:
    """``Outbox`` on a SQLite file."""

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
    def enqueue(self, entries: Sequence[NewEntry], now: float) -> list[tuple[int, bool]]:
        results: list[tuple[int, bool]] = []
        with self._write() as conn:
            for new in entries:
                cursor = conn.execute(
                    "INSERT INTO outbox (sid, destination, query, state, flags, attempts, created_at, "
                    "next_attempt_at, updated_at, last_error, response_body) "
                    "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, '', '') "
                    "ON CONFLICT (sid, destination) DO NOTHING",
                    (new.sid, new.destination, new.query, State.PENDING, ",".join(new.flags), now, now, now),
                )
                created = cursor.rowcount == 1
                row = conn.execute(
                    "SELECT id FROM outbox WHERE sid = ? AND destination = ?", (new.sid, new.destination)
                ).fetchone()
                results.append((int(row[0]), created))
                conn.execute("DELETE FROM call_starts WHERE sid = ?", (new.sid,))
        return results

    def claim(self, limit: int, now: float, lease: float) -> list[Entry]:
        if limit <= 0:
            return []
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE state = ? AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, id LIMIT ?",
                (State.PENDING, now, limit),
            ).fetchall()
            for row in rows:
                conn.execute(
                    "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?",
                    (now + lease, now, row[0]),
                )
        return [_entry(row, attempts_delta=1, next_attempt_at=now + lease) for row in rows]

    def mark_delivered(self, entry_id: int, status: int, now: float) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET state = ?, delivered_at = ?, updated_at = ?, last_status = ?, last_error = '' "
                "WHERE id = ?",
                (State.DELIVERED, now, now, status, entry_id),
            )

    def mark_retry(self, entry_id: int, next_attempt_at: float, status: int | None, error: str, now: float) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET next_attempt_at = ?, updated_at = ?, last_status = ?, last_error = ? "
                "WHERE id = ? AND state = ?",
                (next_attempt_at, now, status, error, entry_id, State.PENDING),
            )

    def mark_dead(self, entry_id: int, status: int | None, error: str, body: str, now: float) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outbox SET state = ?, updated_at = ?, last_status = ?, last_error = ?, response_body = ? "
                "WHERE id = ?",
                (State.DEAD, now, status, error, body[:BODY_LIMIT], entry_id),
            )

    # -- inspection and repair ----------------------------------------------------------------
    def get(self, entry_id: int) -> Entry | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (entry_id,))
        return _entry(rows[0]) if rows else None

    def entries(self, state: State | None = None, limit: int = 100, sid: str | None = None) -> list[Entry]:
        where: list[str] = []
        params: list[str] = []
        if state is not None:
            where.append("state = ?")
            params.append(str(state))
        if sid is not None:
            where.append("sid = ?")
            params.append(sid)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._read(f"SELECT {_COLUMNS} FROM outbox {clause}ORDER BY id DESC LIMIT ?", (*params, limit))
        return [_entry(row) for row in rows]

    def counts(self) -> dict[State, int]:
        found = dict(self._read("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
        return {state: int(found.get(str(state), 0)) for state in State}

    def retry(self, entry_ids: Sequence[int] | None, now: float) -> int:
        with self._write() as conn:
            sql = "UPDATE outbox SET state = ?, next_attempt_at = ?, updated_at = ?, attempts = 0 WHERE state = ?"
            params: list[Any] = [State.PENDING, now, now, State.DEAD]
            if entry_ids is not None:
                if not entry_ids:
                    return 0
                sql += f" AND id IN ({', '.join('?' for _ in entry_ids)})"
                params.extend(entry_ids)
            return int(conn.execute(sql, params).rowcount)

    def purge(self, states: Sequence[State], older_than: float) -> int:
        if not states:
            return 0
        marks = ", ".join("?" for _ in states)
        with self._write() as conn:
            sql = f"DELETE FROM outbox WHERE state IN ({marks}) AND updated_at < ?"
            return int(conn.execute(sql, (*[str(s) for s in states], older_than)).rowcount)

    # -- started calls --------------------------------------------------------------------------
    def start_call(self, call: StartedCall) -> bool:
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM outbox WHERE sid = ? LIMIT 1", (call.sid,)).fetchone():
                return False
            cursor = conn.execute(
                "INSERT INTO call_starts (sid, facts, created_at, deadline) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sid) DO NOTHING",
                (call.sid, call.facts, call.created_at, call.deadline),
            )
            return cursor.rowcount == 1

    def end_call(self, sid: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM call_starts WHERE sid = ?", (sid,))

    def due_starts(self, now: float, limit: int) -> list[StartedCall]:
        rows = self._read(
            "SELECT sid, facts, created_at, deadline FROM call_starts WHERE deadline <= ? ORDER BY deadline LIMIT ?",
            (now, limit),
        )
        return [StartedCall(str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]

    def started_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM call_starts")[0][0])

    def close_orphans(self, sids: Sequence[str], entries: Sequence[NewEntry], now: float) -> None:
        # enqueue forgets the started call of every entry in the same transaction
        self.enqueue(entries, now)
        leftover = set(sids) - {e.sid for e in entries}
        if leftover:
            with self._write() as conn:
                conn.executemany("DELETE FROM call_starts WHERE sid = ?", [(sid,) for sid in leftover])


def _entry(row: tuple[Any, ...], attempts_delta: int = 0, next_attempt_at: float | None = None) -> Entry:
    return Entry(
        id=int(row[0]),
        sid=row[1],
        destination=row[2],
        query=row[3],
        state=State(row[4]),
        flags=tuple(f for f in str(row[5]).split(",") if f),
        attempts=int(row[6]) + attempts_delta,
        created_at=float(row[7]),
        next_attempt_at=float(row[8]) if next_attempt_at is None else next_attempt_at,
        updated_at=float(row[9]),
        delivered_at=None if row[10] is None else float(row[10]),
        last_status=None if row[11] is None else int(row[11]),
        last_error=row[12],
        response_body=row[13],
    )
