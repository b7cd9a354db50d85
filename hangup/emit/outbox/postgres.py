"""The PostgreSQL outbox: the same contract as SQLite, for emitters on several nodes sharing one database.

``claim`` picks due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and pushes their lease forward in the
same statement, so two nodes claiming at once get disjoint rows and never wait on each other; a row
whose node died becomes due again when its lease runs out (at-least-once, receivers dedupe by
``sid``). Every method is one transaction on a pooled autocommit connection. The emitter's tables
come from its named migrations, applied here under the store's migration lock when missing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from hangup.emit import schema
from hangup.emit.outbox.base import Entry, NewEntry, StartedCall, State
from hangup.emit.outbox.sqlite import _COLUMNS, BODY_LIMIT, _entry
from hangup.errors import StoreError
from hangup.store.postgres import apply_migrations, conninfo_of

_CLAIM = (
    "WITH due AS (SELECT id FROM outbox WHERE state = %s AND next_attempt_at <= %s "
    "ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED) "
    "UPDATE outbox o SET next_attempt_at = %s, attempts = o.attempts + 1, updated_at = %s "
    f"FROM due WHERE o.id = due.id RETURNING {', '.join('o.' + c.strip() for c in _COLUMNS.split(','))}"
)


class PostgresOutbox:
    """``Outbox`` on PostgreSQL (see the module docstring)."""

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

    def migrate(self) -> list[str]:
        current = self._read("SELECT current_schema()")[0][0]
        return apply_migrations(self.conninfo, schema.MIGRATIONS, str(current))

    def close(self) -> None:
        self._pool.close()

    # -- queue ------------------------------------------------------------------------------
    def enqueue(self, entries: Sequence[NewEntry], now: float) -> list[tuple[int, bool]]:
        results: list[tuple[int, bool]] = []
        with self._write() as cur:
            for new in entries:
                cur.execute(
                    "INSERT INTO outbox (sid, destination, query, state, flags, attempts, created_at, "
                    "next_attempt_at, updated_at, last_error, response_body) "
                    "VALUES (%s, %s, %s, %s, %s, 0, %s, %s, %s, '', '') "
                    "ON CONFLICT (sid, destination) DO NOTHING RETURNING id",
                    (new.sid, new.destination, new.query, State.PENDING, ",".join(new.flags), now, now, now),
                )
                row = cur.fetchone()
                created = row is not None
                if row is None:  # a repeat: the first entry (committed, possibly by another node) stands
                    cur.execute(
                        "SELECT id FROM outbox WHERE sid = %s AND destination = %s", (new.sid, new.destination)
                    )
                    row = cur.fetchone()
                results.append((int(row[0]), created) if row else (0, False))
                cur.execute("DELETE FROM call_starts WHERE sid = %s", (new.sid,))
        return results

    def claim(self, limit: int, now: float, lease: float) -> list[Entry]:
        if limit <= 0:
            return []
        with self._write() as cur:
            cur.execute(_CLAIM, (State.PENDING, now, limit, now + lease, now))
            rows = cur.fetchall()
        return sorted((_entry(row) for row in rows), key=lambda e: e.id)

    def mark_delivered(self, entry_id: int, status: int, now: float) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE outbox SET state = %s, delivered_at = %s, updated_at = %s, last_status = %s, "
                "last_error = '' WHERE id = %s",
                (State.DELIVERED, now, now, status, entry_id),
            )

    def mark_retry(self, entry_id: int, next_attempt_at: float, status: int | None, error: str, now: float) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE outbox SET next_attempt_at = %s, updated_at = %s, last_status = %s, last_error = %s "
                "WHERE id = %s AND state = %s",
                (next_attempt_at, now, status, error, entry_id, State.PENDING),
            )

    def mark_dead(self, entry_id: int, status: int | None, error: str, body: str, now: float) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE outbox SET state = %s, updated_at = %s, last_status = %s, last_error = %s, "
                "response_body = %s WHERE id = %s",
                (State.DEAD, now, status, error, body[:BODY_LIMIT].replace("\x00", "\ufffd"), entry_id),
            )

    # -- inspection and repair ----------------------------------------------------------------
    def get(self, entry_id: int) -> Entry | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM outbox WHERE id = %s", (entry_id,))
        return _entry(rows[0]) if rows else None

    def entries(self, state: State | None = None, limit: int = 100, sid: str | None = None) -> list[Entry]:
        where: list[str] = []
        params: list[Any] = []
        if state is not None:
            where.append("state = %s")
            params.append(str(state))
        if sid is not None:
            where.append("sid = %s")
            params.append(sid)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._read(f"SELECT {_COLUMNS} FROM outbox {clause}ORDER BY id DESC LIMIT %s", (*params, limit))
        return [_entry(row) for row in rows]

    def counts(self) -> dict[State, int]:
        found = dict(self._read("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
        return {state: int(found.get(str(state), 0)) for state in State}

    def retry(self, entry_ids: Sequence[int] | None, now: float) -> int:
        sql = "UPDATE outbox SET state = %s, next_attempt_at = %s, updated_at = %s, attempts = 0 WHERE state = %s"
        params: list[Any] = [State.PENDING, now, now, State.DEAD]
        if entry_ids is not None:
            if not entry_ids:
                return 0
            sql += " AND id = ANY(%s)"
            params.append(list(entry_ids))
        with self._write() as cur:
            cur.execute(sql, params)
            return max(0, cur.rowcount)

    def purge(self, states: Sequence[State], older_than: float) -> int:
        if not states:
            return 0
        with self._write() as cur:
            cur.execute(
                "DELETE FROM outbox WHERE state = ANY(%s) AND updated_at < %s", ([str(s) for s in states], older_than)
            )
            return max(0, cur.rowcount)

    # -- started calls --------------------------------------------------------------------------
    def start_call(self, call: StartedCall) -> bool:
        with self._write() as cur:
            cur.execute("SELECT 1 FROM outbox WHERE sid = %s LIMIT 1", (call.sid,))
            if cur.fetchone():
                return False
            cur.execute(
                "INSERT INTO call_starts (sid, facts, created_at, deadline) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (sid) DO NOTHING",
                (call.sid, call.facts, call.created_at, call.deadline),
            )
            return cur.rowcount == 1

    def end_call(self, sid: str) -> None:
        with self._write() as cur:
            cur.execute("DELETE FROM call_starts WHERE sid = %s", (sid,))

    def due_starts(self, now: float, limit: int) -> list[StartedCall]:
        rows = self._read(
            "SELECT sid, facts, created_at, deadline FROM call_starts WHERE deadline <= %s ORDER BY deadline LIMIT %s",
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
            with self._write() as cur:
                cur.execute("DELETE FROM call_starts WHERE sid = ANY(%s)", (sorted(leftover),))
