"""Portable SQL of the outbox: one statement table for both back ends, and the methods that only run it.

Statements are written once, with ``?`` for every parameter, in SQL that SQLite and PostgreSQL both accept;
the store's ``Database`` of the URL puts them in its driver's style, reads them and runs every write as one
transaction (on SQLite an operation of the file's one writer, committed with the calls). A list of values
is matched the way each driver binds it (``SQLOutbox._any_of``): expanded into ``IN (?, …)`` on SQLite,
bound as one array to ``= ANY(?)`` on PostgreSQL. ``SQLOutbox`` is every ``Outbox`` method that only runs
these statements; a back end adds how it inserts an entry and learns its id, ``claim`` and ``migrate``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol, TypeVar

from hangup.emit.outbox.base import Entry, NewEntry, StartedCall, State
from hangup.store.database import Database, to_paramstyle

T = TypeVar("T")

BODY_LIMIT = 2048  # characters of a dead-lettering answer kept for inspection
COLUMNS: tuple[str, ...] = (
    "id", "sid", "destination", "query", "state", "flags", "attempts", "created_at", "next_attempt_at", "updated_at",
    "delivered_at", "last_status", "last_error", "response_body",
)  # fmt: skip
SELECT = ", ".join(COLUMNS)
#: The pending entries due at a time, oldest first: the rows ``claim`` leases on either back end.
DUE = "FROM outbox WHERE state = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?"


@dataclass(frozen=True, slots=True)
class Statements:
    """The outbox's fixed statements, one field each; ``PORTABLE`` is the table as written."""

    insert_entry: str
    entry_id: str
    forget_start: str
    delivered: str
    retry_later: str
    dead: str
    get: str
    counts: str
    sid_known: str
    remember_start: str
    due_starts: str
    started_count: str

    def in_paramstyle(self, paramstyle: str) -> Statements:
        return Statements(**{f.name: to_paramstyle(getattr(self, f.name), paramstyle) for f in fields(self)})


PORTABLE = Statements(
    insert_entry=(
        "INSERT INTO outbox (sid, destination, query, state, flags, attempts, created_at, next_attempt_at, "
        "updated_at, last_error, response_body) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, '', '') "
        "ON CONFLICT (sid, destination) DO NOTHING"
    ),
    entry_id="SELECT id FROM outbox WHERE sid = ? AND destination = ?",
    forget_start="DELETE FROM call_starts WHERE sid = ?",
    delivered=(
        "UPDATE outbox SET state = ?, delivered_at = ?, updated_at = ?, last_status = ?, last_error = '' WHERE id = ?"
    ),
    retry_later=(
        "UPDATE outbox SET next_attempt_at = ?, updated_at = ?, last_status = ?, last_error = ? "
        "WHERE id = ? AND state = ?"
    ),
    dead=(
        "UPDATE outbox SET state = ?, updated_at = ?, last_status = ?, last_error = ?, response_body = ? WHERE id = ?"
    ),
    get=f"SELECT {SELECT} FROM outbox WHERE id = ?",
    counts="SELECT state, COUNT(*) FROM outbox GROUP BY state",
    sid_known="SELECT 1 FROM outbox WHERE sid = ? LIMIT 1",
    remember_start=(
        "INSERT INTO call_starts (sid, facts, created_at, deadline) VALUES (?, ?, ?, ?) ON CONFLICT (sid) DO NOTHING"
    ),
    due_starts="SELECT sid, facts, created_at, deadline FROM call_starts WHERE deadline <= ? ORDER BY deadline LIMIT ?",
    started_count="SELECT COUNT(*) FROM call_starts",
)
STATEMENTS = {style: PORTABLE.in_paramstyle(style) for style in ("qmark", "format")}


def entry_values(new: NewEntry, now: float) -> tuple[Any, ...]:
    """The parameters of ``insert_entry``."""
    return (new.sid, new.destination, new.query, State.PENDING, ",".join(new.flags), now, now, now)


def entry_of(row: Sequence[Any], attempts_delta: int = 0, next_attempt_at: float | None = None) -> Entry:
    """An entry from a row of ``COLUMNS``."""
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


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What a write transaction hands out: a ``sqlite3.Connection`` or a psycopg connection."""

    def execute(self, sql: str, params: Sequence[Any], /) -> Cursor: ...


class SQLOutbox(ABC):
    """The ``Outbox`` methods both back ends share (see the module docstring)."""

    #: Whether the driver binds a list as one SQL array (``= ANY(?)``) rather than one parameter per value.
    binds_arrays: ClassVar[bool]

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.database = Database(url, **options)
        self._sql = STATEMENTS[self.database.paramstyle]
        try:
            self.migrate()
        except BaseException:
            self.database.close()
            raise

    @abstractmethod
    def migrate(self) -> list[str]:
        """Create the emitter's tables when missing; the names of the migrations applied now."""

    @abstractmethod
    def _insert(self, db: Connection, new: NewEntry, now: float) -> tuple[int, bool]:
        """Insert an entry unless its sid and destination are already queued; ``(id, created)``."""

    def _write(self, task: Callable[[Connection], T]) -> T:
        """``task(connection)`` in one committed transaction (rolled back when it raises)."""
        return self.database.write(task)

    def _read(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of a ``?``-placeholder statement."""
        return self.database.read(statement, params)

    def _text(self, value: str) -> str:
        """``value`` as the database can store it."""
        return value

    def _any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A portable condition matching ``column`` against ``values``, and its parameters."""
        if self.binds_arrays:
            return f"{column} = ANY(?)", [list(values)]
        return f"{column} IN ({', '.join('?' for _ in values)})", list(values)

    def close(self) -> None:
        self.database.close()

    # -- queue ------------------------------------------------------------------------------
    def enqueue(self, entries: Sequence[NewEntry], now: float) -> list[tuple[int, bool]]:
        def task(db: Connection) -> list[tuple[int, bool]]:
            results: list[tuple[int, bool]] = []
            for new in entries:
                results.append(self._insert(db, new, now))
                db.execute(self._sql.forget_start, (new.sid,))
            return results

        return self._write(task)

    def _run(self, statement: str, params: Sequence[Any]) -> int:
        """Run one statement of ``self._sql`` in a transaction of its own; the rows it changed."""
        return self._write(lambda db: max(0, db.execute(statement, params).rowcount))

    def mark_delivered(self, entry_id: int, status: int, now: float) -> None:
        self._run(self._sql.delivered, (State.DELIVERED, now, now, status, entry_id))

    def mark_retry(self, entry_id: int, next_attempt_at: float, status: int | None, error: str, now: float) -> None:
        self._run(self._sql.retry_later, (next_attempt_at, now, status, error, entry_id, State.PENDING))

    def mark_dead(self, entry_id: int, status: int | None, error: str, body: str, now: float) -> None:
        self._run(self._sql.dead, (State.DEAD, now, status, error, self._text(body[:BODY_LIMIT]), entry_id))

    # -- inspection and repair ----------------------------------------------------------------
    def get(self, entry_id: int) -> Entry | None:
        rows = self._read(PORTABLE.get, (entry_id,))
        return entry_of(rows[0]) if rows else None

    def entries(self, state: State | None = None, limit: int = 100, sid: str | None = None) -> list[Entry]:
        where: list[str] = []
        params: list[Any] = []
        if state is not None:
            where.append("state = ?")
            params.append(str(state))
        if sid is not None:
            where.append("sid = ?")
            params.append(sid)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        sql = f"SELECT {SELECT} FROM outbox {clause}ORDER BY id DESC LIMIT ?"
        return [entry_of(row) for row in self._read(sql, (*params, limit))]

    def counts(self) -> dict[State, int]:
        found = dict(self._read(PORTABLE.counts))
        return {state: int(found.get(str(state), 0)) for state in State}

    def retry(self, entry_ids: Sequence[int] | None, now: float) -> int:
        sql = "UPDATE outbox SET state = ?, next_attempt_at = ?, updated_at = ?, attempts = 0 WHERE state = ?"
        params: list[Any] = [State.PENDING, now, now, State.DEAD]
        if entry_ids is not None:
            if not entry_ids:
                return 0
            match, ids = self._any_of("id", entry_ids)
            sql += f" AND {match}"
            params.extend(ids)
        return self._run(self.database.sql(sql), params)

    def purge(self, states: Sequence[State], older_than: float) -> int:
        if not states:
            return 0
        match, params = self._any_of("state", [str(s) for s in states])
        sql = self.database.sql(f"DELETE FROM outbox WHERE {match} AND updated_at < ?")
        return self._run(sql, (*params, older_than))

    # -- started calls --------------------------------------------------------------------------
    def start_call(self, call: StartedCall) -> bool:
        def task(db: Connection) -> bool:
            if db.execute(self._sql.sid_known, (call.sid,)).fetchone():
                return False
            params = (call.sid, call.facts, call.created_at, call.deadline)
            return db.execute(self._sql.remember_start, params).rowcount == 1

        return self._write(task)

    def end_call(self, sid: str) -> None:
        self._run(self._sql.forget_start, (sid,))

    def due_starts(self, now: float, limit: int) -> list[StartedCall]:
        rows = self._read(PORTABLE.due_starts, (now, limit))
        return [StartedCall(str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]

    def started_count(self) -> int:
        return int(self._read(PORTABLE.started_count)[0][0])

    def close_orphans(self, sids: Sequence[str], entries: Sequence[NewEntry], now: float) -> None:
        # enqueue forgets the started call of every entry in the same transaction
        self.enqueue(entries, now)
        leftover = set(sids) - {e.sid for e in entries}
        if leftover:
            match, params = self._any_of("sid", sorted(leftover))
            self._run(self.database.sql(f"DELETE FROM call_starts WHERE {match}"), params)
