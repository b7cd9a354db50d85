"""The default store: one SQLite file in WAL mode, ``synchronous=FULL``, one group-commit writer thread.

Writes go through ``GroupCommitWriter`` (``BEGIN IMMEDIATE`` … ``COMMIT`` per batch, callers resolved
after COMMIT). Reads use one connection per reading thread; in WAL mode they see the last committed
state and never wait for the writer. Several processes may share the file (``serve --workers``): their
writers take turns on SQLite's write lock (``busy_timeout``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hangup.errors import StoreError
from hangup.records import CallRecord
from hangup.store import sql, staging
from hangup.store.base import (
    AddResult,
    AddStatus,
    CallQuery,
    Conflict,
    Page,
    QuarantineEntry,
    RowsWriteHook,
    StagedResult,
    WriteHook,
)
from hangup.store.migrations import MIGRATIONS_TABLE_DDL, all_migrations, render
from hangup.store.schema import CALL_COLUMNS, QUARANTINE_COLUMNS
from hangup.store.writer import GroupCommitWriter, Op, WriterBackedStore

DIALECT = "sqlite"
PH = "?"
_INSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join('?' * len(CALL_COLUMNS))}) "
    "ON CONFLICT DO NOTHING"
)
_UPDATE_CLASSIFICATION = (
    f"UPDATE calls SET {', '.join(c + ' = ?' for c in sql.CLASSIFICATION_COLUMNS)} WHERE id = ?"
)
_SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")
_CHECKPOINT_PAGES = 3000
# A bulk import's transactions (``add_staged``, ~100,000 calls each) dirty most leaf pages of the id and
# user indexes. A 512 MiB page cache keeps them between batches, and checkpointing every ~400 MB of WAL
# instead of ~12 MB copies a page every batch rewrites back once per checkpoint, not once per batch
# (a million-call import: 62 s → 35 s; docs/benchmarks.md, "Import"). No request waits on these commits.
_IMPORT_CACHE_KIB = 524288
_IMPORT_CHECKPOINT_PAGES = 100_000


def path_from_url(url: str) -> str:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or a bare path → the file path."""
    if not url.startswith("sqlite:"):
        return url
    path = urlsplit(url).path
    return path[1:] if path.startswith("/") else path


class SQLiteStore(WriterBackedStore):
    """The SQLite implementation of ``hangup.store.base.Store``."""

    def __init__(self, url: str, *, synchronous: str = "FULL", batch_size: int = 256, migrate: bool = True) -> None:
        self.url = url
        options = dict(parse_qsl(urlsplit(url).query)) if url.startswith("sqlite:") else {}
        self.path = path_from_url(url.split("?", 1)[0])
        if not self.path or self.path == ":memory:":
            raise StoreError("the SQLite store needs a file path (WAL readers and the writer share it)")
        self.synchronous = options.get("synchronous", synchronous).upper()
        if self.synchronous not in _SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        self._hooks: list[WriteHook] = []
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        if migrate:
            self.migrate()
        self._wconn = self._connect()
        # The writer walks random-key B-trees (ids are UUIDs): keep their pages in memory, not the OS cache.
        self._wconn.execute("PRAGMA cache_size=-65536")
        # Checkpoint every ~12 MB of WAL instead of ~4 MB: a page rewritten by many commits is copied back
        # once, which takes CPU off every call. Not more: the checkpoint runs inside a commit and the calls
        # waiting on it wait for the copy too (~40 MB cost ~15 ms, the ingest p99; docs/benchmarks.md, "Ingest").
        self._wconn.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")
        self._stages: dict[str, str] = {}  # staging file → schema name it is attached as (bulk imports)
        self._attached = 0
        self._bulk = False  # inside bulk_load: staged batches commit without waiting for the disk
        self._writer = GroupCommitWriter(self._run_batch, max_batch=batch_size)

    # -- connections ---------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        self._writer.close()
        self._wconn.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    # -- migrations ----------------------------------------------------------------------
    def migrate(self) -> list[str]:
        conn = self._connect()
        applied_now: list[str] = []
        try:
            conn.execute(render(MIGRATIONS_TABLE_DDL, DIALECT))
            for migration in all_migrations():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    done = conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (migration.name,)).fetchone()
                    if done is None:
                        for statement in migration.statements(DIALECT):
                            conn.execute(statement)
                        conn.execute("INSERT INTO _migrations VALUES (?, ?)", (migration.name, time.time()))
                        applied_now.append(migration.name)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            if staging.missing_indexes(conn):  # a bulk load was stopped before it built them
                conn.execute("BEGIN IMMEDIATE")
                staging.restore_indexes(conn, staging.missing_indexes(conn))
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"migration failed: {exc}") from exc
        finally:
            conn.close()
        return applied_now

    def applied_migrations(self) -> list[str]:
        rows = self._reader().execute("SELECT name FROM _migrations ORDER BY name").fetchall()
        return [r[0] for r in rows]

    # -- the writer's transaction --------------------------------------------------------
    def _run_batch(self, ops: Sequence[Op]) -> list[Any]:
        stages = [payload for kind, payload in ops if kind == "staged"]
        try:
            if stages:
                self._attach_stages(stages)  # ATTACH and DETACH cannot run inside a transaction
            return self._transaction(ops)
        except sqlite3.Error as exc:
            raise StoreError(f"the store could not commit: {exc}") from exc
        finally:
            if stages:
                self._detach_stages(stages)

    def _transaction(self, ops: Sequence[Op]) -> list[Any]:
        conn = self._wconn
        conn.execute("BEGIN IMMEDIATE")
        try:
            results: list[Any] = [None] * len(ops)
            rows: list[sql.Row] = []
            records: list[CallRecord | None] = []  # None: a "rows" op's call, rebuilt from its row when needed
            spans: list[tuple[int, int, int]] = []  # (op index, first row, how many) of the call ops
            for i, (kind, payload) in enumerate(ops):
                if kind in _CALL_OPS:
                    batch_rows, batch_records = _call_op_rows(kind, payload)
                    spans.append((i, len(rows), len(batch_rows)))
                    rows.extend(batch_rows)
                    records.extend(batch_records)
            statuses, inserted = self._insert_rows(conn, rows, records) if rows else ([], [])
            for i, start, count in spans:
                results[i] = statuses[start] if ops[i][0] == "call" else statuses[start:start + count]
            for i, (kind, payload) in enumerate(ops):
                if kind == "staged":
                    results[i] = staging.move(conn, self._stages[payload], self._hooks)
                elif kind not in _CALL_OPS:
                    results[i] = _OTHER_OPS[kind](conn, payload)
            if inserted:
                _run_hooks(self._hooks, conn, rows, records, inserted)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _attach_stages(self, paths: list[str]) -> None:
        if self._bulk:
            self._wconn.execute("PRAGMA synchronous=NORMAL")
        self._wconn.execute(f"PRAGMA cache_size=-{_IMPORT_CACHE_KIB}")
        self._wconn.execute(f"PRAGMA wal_autocheckpoint={_IMPORT_CHECKPOINT_PAGES}")
        for path in paths:
            if path not in self._stages:
                self._attached += 1
                alias = f"stage{self._attached}"
                self._wconn.execute(f"ATTACH DATABASE ? AS {alias}", (path,))
                self._stages[path] = alias

    def _detach_stages(self, paths: list[str]) -> None:
        for path in paths:
            if path in self._stages:
                self._wconn.execute(f"DETACH DATABASE {self._stages.pop(path)}")
        self._wconn.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")
        self._wconn.execute(f"PRAGMA synchronous={self.synchronous}")

    def _insert_rows(self, conn: sqlite3.Connection, rows: list[sql.Row], records: list[CallRecord | None]
                     ) -> tuple[list[AddResult], list[int]]:
        """Insert the new calls; tell repeats (same digest) from conflicts (recorded); keep the first.

        Returns each row's result and the indexes of the rows inserted now.
        """
        known = _stored_digests(conn, list({row[0] for row in rows}))
        first_in_batch: dict[str, int] = {}
        inserted: list[int] = []
        statuses: list[AddResult] = []
        for index, row in enumerate(rows):
            call_id = row[0]
            stored_digest = known.get(call_id)
            if stored_digest is None:
                known[call_id] = row[-1]  # empty for an imported row: computed if a repeat needs it
                first_in_batch[call_id] = index
                inserted.append(index)
                statuses.append(AddResult(call_id, AddStatus.INSERTED))
                continue
            if not stored_digest:
                stored_digest = known[call_id] = sql.row_digest(rows[first_in_batch[call_id]])
            if stored_digest == sql.row_digest(row):
                statuses.append(AddResult(call_id, AddStatus.DUPLICATE))
            else:
                first_index = first_in_batch.get(call_id)
                first = (self._get_with(conn, call_id) if first_index is None
                         else _record_at(rows, records, first_index))
                staging.record_conflict(conn, first, _record_at(rows, records, index))
                statuses.append(AddResult(call_id, AddStatus.CONFLICT))
        conn.executemany(_INSERT_CALL, [rows[index] for index in inserted])
        return statuses, inserted

    @staticmethod
    def _get_with(conn: sqlite3.Connection, call_id: str) -> CallRecord | None:
        row = conn.execute(f"SELECT {sql.SELECT_COLUMNS} FROM calls WHERE id = ?", (call_id,)).fetchone()
        return sql.row_record(row) if row else None

    # -- writes --------------------------------------------------------------------------
    def add_rows(self, rows: Sequence[sql.Row]) -> list[AddResult]:
        """Store a batch of ``calls`` rows as ``sql.record_row`` builds them (imports read in another process)."""
        if not rows:
            return []
        results: list[AddResult] = self._writer.run_sync(("rows", list(rows)))
        return results

    def staging_dir(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))

    def add_staged(self, path: str) -> StagedResult:
        """Store the rows of a staging file (``hangup.store.staging``) in one transaction; the file is
        attached for it and detached after, so it can be deleted."""
        result: StagedResult = self._writer.run_sync(("staged", path))
        return result

    @contextlib.contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Around a bulk import of staging files (``hangup import``).

        Inside, a staged batch commits without waiting for the disk (``synchronous=NORMAL``: a crash
        leaves the store consistent; a power loss may cost the last batches, which running the import
        again adds, as it deduplicates), and into an empty store the ``DEFERRED_INDEXES`` are built once
        at the end instead of row by row. On leaving, the WAL and the database file are synced, so what
        the import reports as stored is on disk.
        """
        self._writer.run_sync(("defer_indexes", None))
        self._bulk = True
        try:
            yield
        finally:
            self._bulk = False
            self._writer.run_sync(("restore_indexes", None))
            _sync_to_disk(self.path)

    def ping(self) -> None:
        self._writer.run_sync(("ping", None))  # a write transaction: proves the write lock can be taken

    async def aping(self) -> None:
        await self._writer.run_async(("ping", None))

    # -- reads ---------------------------------------------------------------------------
    def get(self, call_id: str) -> CallRecord | None:
        conn = self._reader()
        found = self._get_with(conn, call_id)
        if found is None:
            row = conn.execute(
                f"SELECT {sql.SELECT_COLUMNS} FROM calls WHERE provider_call_id = ? AND provider_call_id <> id "
                "ORDER BY received_at LIMIT 1",
                (call_id,),
            ).fetchone()
            found = sql.row_record(row) if row else None
        return found

    def query(self, query: CallQuery) -> Page:
        statement, params, limit = sql.page_sql(query, PH)
        return sql.page_of(self._reader().execute(statement, params).fetchall(), limit)

    def iter_calls(self, query: CallQuery, batch: int = 1000) -> Iterator[CallRecord]:
        return sql.iter_pages(self.query, query, batch)

    def count(self, query: CallQuery | None = None) -> int:
        w = sql.where(query or CallQuery(), PH, with_cursor=False)
        row = self._reader().execute(f"SELECT COUNT(*) FROM calls{w.sql}", w.params).fetchone()
        return int(row[0])

    def conflicts(self, call_id: str | None = None, limit: int = 100) -> list[Conflict]:
        base = "SELECT id, call_id, received_at, raw, differences FROM call_conflicts"
        if call_id is None:
            rows = self._reader().execute(f"{base} ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        else:
            rows = self._reader().execute(f"{base} WHERE call_id = ? ORDER BY id LIMIT ?", (call_id, limit)).fetchall()
        return [Conflict(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def quarantined(self, limit: int = 100, offset_id: int | None = None) -> list[QuarantineEntry]:
        columns = "id, " + ", ".join(QUARANTINE_COLUMNS)
        if offset_id is None:
            rows = self._reader().execute(f"SELECT {columns} FROM quarantine ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self._reader().execute(
                f"SELECT {columns} FROM quarantine WHERE id < ? ORDER BY id DESC LIMIT ?", (offset_id, limit)
            )
        return [sql.quarantine_entry(r) for r in rows.fetchall()]

    def quarantine_entry(self, quarantine_id: int) -> QuarantineEntry | None:
        columns = "id, " + ", ".join(QUARANTINE_COLUMNS)
        row = self._reader().execute(f"SELECT {columns} FROM quarantine WHERE id = ?", (quarantine_id,)).fetchone()
        return sql.quarantine_entry(row) if row else None

    def quarantine_count(self) -> int:
        return int(self._reader().execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])



# -- operations other than inserting calls ------------------------------------------------
_CALL_OPS = ("call", "calls", "rows")


def _call_op_rows(kind: str, payload: Any) -> tuple[list[sql.Row], list[CallRecord | None]]:
    """The rows of a call op and its records (``None`` for an op that brought rows only)."""
    if kind == "call":
        return [sql.record_row(payload)], [payload]
    if kind == "calls":
        return [sql.record_row(record) for record in payload], list(payload)
    return payload, [None] * len(payload)


def _run_hooks(hooks: list[WriteHook], conn: sqlite3.Connection, rows: list[sql.Row],
               records: list[CallRecord | None], inserted: list[int]) -> None:
    """Each hook with the inserted calls: records where the batch brought them; else rows to a hook taking
    them, and records rebuilt from the rows (once) for the others."""
    from_rows = any(records[index] is None for index in inserted)
    calls: list[CallRecord] | None = None
    for hook in hooks:
        if from_rows and isinstance(hook, RowsWriteHook):
            hook.from_rows(conn, [rows[index] for index in inserted])
            continue
        if calls is None:
            calls = [_record_at(rows, records, index) for index in inserted]
        hook(conn, calls)


def _record_at(rows: list[sql.Row], records: list[CallRecord | None], index: int) -> CallRecord:
    record = records[index]
    return sql.row_record(rows[index]) if record is None else record


def _stored_digests(conn: sqlite3.Connection, ids: list[str], chunk: int = 1000) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        marks = ", ".join("?" * len(part))
        found.update(conn.execute(f"SELECT id, digest FROM calls WHERE id IN ({marks})", part).fetchall())
    for call_id in [call_id for call_id, stored in found.items() if not stored]:  # stored by a bulk import
        found[call_id] = sql.row_digest(
            conn.execute(f"SELECT {sql.SELECT_COLUMNS} FROM calls WHERE id = ?", (call_id,)).fetchone())
    return found


def _insert_quarantine(conn: sqlite3.Connection, e: QuarantineEntry) -> int:
    cursor = conn.execute(
        f"INSERT INTO quarantine ({', '.join(QUARANTINE_COLUMNS)}) VALUES ({', '.join('?' * 12)})",
        (
            e.received_at, e.provider, e.method, e.path, e.query, base64.b64encode(e.body).decode("ascii"),
            json.dumps(e.headers, ensure_ascii=False), e.client, e.status, json.dumps(e.error, ensure_ascii=False),
            e.replayed_at, e.replay_result,
        ),
    )
    return int(cursor.lastrowid or 0)


def _mark_replayed(conn: sqlite3.Connection, payload: tuple[int, str]) -> None:
    quarantine_id, result = payload
    conn.execute(
        "UPDATE quarantine SET replayed_at = ?, replay_result = ? WHERE id = ?", (time.time(), result, quarantine_id)
    )


def _reclassify(conn: sqlite3.Connection, records: list[CallRecord]) -> int:
    before = conn.total_changes
    conn.executemany(_UPDATE_CLASSIFICATION, [sql.classification_row(r) for r in records])
    return conn.total_changes - before


def _restore_indexes(conn: sqlite3.Connection, payload: None) -> None:
    staging.restore_indexes(conn, staging.missing_indexes(conn))


def _sync_to_disk(path: str) -> None:
    """fsync the store's WAL and database file: what ``synchronous=FULL`` commits would have done."""
    for name in (f"{path}-wal", path):
        try:
            fd = os.open(name, os.O_RDONLY)
        except FileNotFoundError:  # no WAL: everything was checkpointed into the database file
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _ping(conn: sqlite3.Connection, payload: None) -> None:
    conn.execute("SELECT 1").fetchone()


def _run_task(conn: sqlite3.Connection, task: Any) -> Any:
    return task(conn)  # ``WriterBackedStore.run_in_writer``


_OTHER_OPS: dict[str, Any] = {
    "quarantine": _insert_quarantine,
    "replayed": _mark_replayed,
    "reclassify": _reclassify,
    "ping": _ping,
    "task": _run_task,
    "defer_indexes": lambda conn, payload: staging.defer_indexes(conn),
    "restore_indexes": _restore_indexes,
}
