"""The default store: one SQLite file in WAL mode, ``synchronous=FULL``, written by its database's one writer.

Writes are operations of the file's ``GroupCommitWriter`` (``hangup.store.database``: ``BEGIN
IMMEDIATE`` … ``COMMIT`` per batch, callers resolved after COMMIT), shared with everything else that
writes the file (outbox, alert state, rollup maintenance); the store is the ``WritePart`` that runs
its own operations in that transaction. Reads (``hangup.store.shared``) use one connection per reading
thread; in WAL mode they see the last committed state and never wait for the writer. Several processes
may share the file (``serve --workers``): their writers take turns on SQLite's write lock (``busy_timeout``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import Any

from hangup.errors import StoreError
from hangup.records import CallRecord
from hangup.store import legs, sql, staging
from hangup.store.base import (
    AddResult,
    AddStatus,
    QuarantineEntry,
    RowsWriteHook,
    StagedResult,
    WriteHook,
)
from hangup.store.database import CHECKPOINT_PAGES, Database, WritePart
from hangup.store.digest import stale
from hangup.store.migrations import MIGRATIONS_TABLE_DDL, Migration, ordered, render
from hangup.store.schema import CALL_COLUMNS, HEARTBEAT_UPSERT
from hangup.store.schema import MIGRATIONS as STORE_MIGRATIONS
from hangup.store.shards import writer_shard
from hangup.store.shared import INSERT_QUARANTINE, SharedReads, quarantine_values
from hangup.store.writer import Op, WriterBackedStore, WriterLane, joining

DIALECT = "sqlite"
_INSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join('?' * len(CALL_COLUMNS))}) "
    "ON CONFLICT DO NOTHING"
)
_UPDATE_CLASSIFICATION = (
    f"UPDATE calls SET {', '.join(c + ' = ?' for c in sql.CLASSIFICATION_COLUMNS)} WHERE id = ?"
)
# A bulk import's transactions (``add_staged``, ~100,000 calls each) dirty most leaf pages of the id and
# user indexes. A page cache the size of the indexes keeps them between batches, and checkpointing every
# ~400 MB of WAL instead of ~12 MB copies a page every batch rewrites back once per checkpoint, not once per
# batch (a million-call import: 62 s → 35 s; docs/benchmarks.md, "Import"). No request waits on these
# commits. The cache is no larger than what a batch can dirty: the indexes (~150 bytes per call stored; the
# table's own pages are written once), or a page per staged call in each random-key index, whichever is
# less, so a capture's batches of a few thousand large calls keep the import's memory small
# (docs/benchmarks.md, "SIP").
_IMPORT_CACHE_KIB = (16384, 524288)  # least, most
_IMPORT_CACHE_BYTES_PER_CALL = 256
_IMPORT_CACHE_KIB_PER_STAGED = 12  # three random-key indexes, a 4 KiB page each
_IMPORT_CHECKPOINT_PAGES = 100_000


class SQLiteStore(SharedReads, WriterBackedStore, WritePart):
    """The SQLite implementation of ``hangup.store.base.Store``.

    ``migrations`` are the named migrations the store applies (default: the call store's own tables;
    ``hangup.composition`` hands in every package's).
    """

    def __init__(self, url: str, *, synchronous: str | None = None, batch_size: int = 256, migrate: bool = True,
                 migrations: Sequence[Migration] | None = None) -> None:
        self.url = url
        self.migrations = ordered(STORE_MIGRATIONS if migrations is None else migrations)
        self.database = Database(url, synchronous=synchronous, batch_size=batch_size)
        self.path = self.database.sqlite_path
        self._hooks: list[WriteHook] = []
        self._stages: dict[str, str] = {}  # staging file → schema name it is attached as (bulk imports)
        self._attached = 0
        self._bulk = False  # inside bulk_load: staged batches commit without waiting for the disk
        self._writer = WriterLane(self.database.writer, self)
        self._staged = _StagedPart(self)  # its own part: the calls' part needs no ATTACH step per batch
        if migrate:
            try:
                self.migrate()
            except BaseException:
                self.database.close()
                raise

    @property
    def synchronous(self) -> str:
        return self.database.synchronous

    def close(self) -> None:
        self.database.close()

    # -- migrations ----------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the pending migrations in one writer transaction; their names."""
        return self.database.write(functools.partial(_migrate, migrations=self.migrations))

    # -- the writer's transaction (this store's part of it) ------------------------------
    def run(self, conn: sqlite3.Connection, payloads: list[Any]) -> list[Any]:
        return joining(conn, payloads, lambda ops: self._run(conn, ops))

    def _run(self, conn: sqlite3.Connection, ops: Sequence[Op]) -> list[Any]:
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
        statuses, inserted, later_legs = self._insert_rows(conn, rows, records) if rows else ([], [], [])
        if inserted:
            _run_hooks(self._hooks, conn, rows, records, inserted)
        # after the hooks: a further leg takes back what they counted for its call's row (``hangup.store.legs``)
        for index in later_legs:
            statuses[index] = self._add_leg(conn, _record_at(rows, records, index))
        for i, start, count in spans:
            results[i] = statuses[start] if ops[i][0] == "call" else statuses[start:start + count]
        for i, (kind, payload) in enumerate(ops):
            if kind not in _CALL_OPS:
                results[i] = _OTHER_OPS[kind](conn, payload)
        return results

    def _attach_stages(self, conn: sqlite3.Connection, paths: list[str]) -> None:
        if self._bulk:
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint={_IMPORT_CHECKPOINT_PAGES}")
        staged = 0
        for path in paths:
            if path not in self._stages:
                self._attached += 1
                alias = f"stage{self._attached}"
                conn.execute(f"ATTACH DATABASE ? AS {alias}", (path,))
                self._stages[path] = alias
            staged += int(conn.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {self._stages[path]}.{staging.TABLE}"
                                       ).fetchone()[0])
        calls = staged + int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM calls").fetchone()[0])
        least, most = _IMPORT_CACHE_KIB
        wanted = min(calls * _IMPORT_CACHE_BYTES_PER_CALL // 1024, staged * _IMPORT_CACHE_KIB_PER_STAGED)
        conn.execute(f"PRAGMA cache_size=-{min(max(wanted, least), most)}")

    def _detach_stages(self, conn: sqlite3.Connection, paths: list[str]) -> None:
        for path in paths:
            if path in self._stages:
                conn.execute(f"DETACH DATABASE {self._stages.pop(path)}")
        conn.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")

    def _insert_rows(self, conn: sqlite3.Connection, rows: list[sql.Row], records: list[CallRecord | None]
                     ) -> tuple[list[AddResult], list[int], list[int]]:
        """Insert the new calls; tell repeats (same digest) from conflicts (recorded); keep the first.

        Returns each row's result, the indexes of the rows inserted now, and those of the rows that may be
        further legs of a stored call (``_add_leg``, once the write hooks have counted the inserted calls).
        """
        known = _stored_digests(conn, list({row[0] for row in rows}))
        first_in_batch: dict[str, int] = {}
        inserted: list[int] = []
        statuses: list[AddResult] = []
        later_legs: list[int] = []  # rows that are further legs of a call: stored once the calls are in
        for index, row in enumerate(rows):
            call_id = row[0]
            stored_digest = known.get(call_id)
            if stored_digest is None:
                known[call_id] = row[-1]  # empty for an imported row: computed if a repeat needs it
                first_in_batch[call_id] = index
                inserted.append(index)
                statuses.append(AddResult(call_id, AddStatus.INSERTED))
                continue
            if stale(stored_digest):
                stored_digest = known[call_id] = sql.row_digest(rows[first_in_batch[call_id]])
            if stored_digest == sql.row_digest(row):
                statuses.append(AddResult(call_id, AddStatus.DUPLICATE))
            else:
                first_index = first_in_batch.get(call_id)
                first = (self._get_with(conn, call_id) if first_index is None
                         else _record_at(rows, records, first_index))
                second = _record_at(rows, records, index)
                if legs.are_legs(first, second):
                    later_legs.append(index)
                    statuses.append(AddResult(call_id, AddStatus.LEG))
                    continue
                staging.record_conflict(conn, first, second)
                statuses.append(AddResult(call_id, AddStatus.CONFLICT))
        conn.executemany(_INSERT_CALL, [rows[index] for index in inserted])
        return statuses, inserted, later_legs

    def _add_leg(self, conn: sqlite3.Connection, leg: CallRecord) -> AddResult:
        """Store a further leg of a stored call (``hangup.store.legs``), against the call's row as it is now."""
        kept = self._get_with(conn, leg.id)
        if kept is None:  # cannot happen: the call was stored before or earlier in this transaction
            raise StoreError(f"call {leg.id} vanished while storing its leg {leg.leg_id}")
        status, against = legs.add_leg(conn, kept, leg, self._hooks)
        if status is AddStatus.CONFLICT:
            staging.record_conflict(conn, against, leg)
        return AddResult(leg.id, status)

    @staticmethod
    def _get_with(conn: sqlite3.Connection, call_id: str) -> CallRecord | None:
        row = conn.execute(f"SELECT {sql.SELECT_COLUMNS} FROM calls WHERE id = ?", (call_id,)).fetchone()
        return sql.row_record(row) if row else None

    # -- writes --------------------------------------------------------------------------
    def staging_dir(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))

    def add_staged(self, path: str) -> StagedResult:
        """Store the rows of a staging file (``hangup.store.staging``) in one transaction; the file is
        attached for it and detached after, so it can be deleted."""
        result: StagedResult = self.database.writer.run_sync((self._staged, path))
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

    # -- reads (the rest are ``SharedReads``) -------------------------------------------------
    def get(self, call_id: str) -> CallRecord | None:
        with self.database.reading() as conn:
            found = self._get_with(conn, call_id)
            if found is None:
                row = conn.execute(
                    f"SELECT {sql.SELECT_COLUMNS} FROM calls WHERE provider_call_id = ? AND provider_call_id <> id "
                    "ORDER BY received_at LIMIT 1",
                    (call_id,),
                ).fetchone()
                found = sql.row_record(row) if row else None
        return found


class _StagedPart(WritePart):
    """Staging files of a store (``add_staged``): attached before the transaction, moved in, detached after
    (``ATTACH`` and ``DETACH`` cannot run inside a transaction)."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    def prepare(self, conn: sqlite3.Connection, payloads: list[Any]) -> None:
        self._store._attach_stages(conn, payloads)

    def run(self, conn: sqlite3.Connection, payloads: list[Any]) -> list[Any]:
        return [staging.move(conn, self._store._stages[path], self._store._hooks) for path in payloads]

    def finish(self, conn: sqlite3.Connection, payloads: list[Any]) -> None:
        self._store._detach_stages(conn, payloads)


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
    # stored by a bulk import (no digest) or by an earlier release (one of an earlier definition)
    for call_id in [call_id for call_id, stored in found.items() if stale(stored)]:
        found[call_id] = sql.row_digest(
            conn.execute(f"SELECT {sql.SELECT_COLUMNS} FROM calls WHERE id = ?", (call_id,)).fetchone())
    return found


def _insert_quarantine(conn: sqlite3.Connection, e: QuarantineEntry) -> int:
    return int(conn.execute(INSERT_QUARANTINE, quarantine_values(e)).lastrowid or 0)


def _mark_replayed(conn: sqlite3.Connection, payload: tuple[int, str]) -> None:
    quarantine_id, result = payload
    conn.execute(
        "UPDATE quarantine SET replayed_at = ?, replay_result = ? WHERE id = ?", (time.time(), result, quarantine_id)
    )


def _reclassify(conn: sqlite3.Connection, records: list[CallRecord]) -> int:
    before = conn.total_changes
    conn.executemany(_UPDATE_CLASSIFICATION, [sql.classification_row(r) for r in records])
    return conn.total_changes - before


def _migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply those of ``migrations`` not yet recorded (inside the writer's transaction); their names."""
    conn.execute(render(MIGRATIONS_TABLE_DDL, DIALECT))
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    applied_now: list[str] = []
    for migration in migrations:
        if migration.name not in done:
            for statement in migration.statements(DIALECT):
                conn.execute(statement)
            conn.execute("INSERT INTO _migrations VALUES (?, ?)", (migration.name, time.time()))
            applied_now.append(migration.name)
    missing = staging.missing_indexes(conn)
    if missing:  # a bulk load was stopped before it built them
        staging.restore_indexes(conn, missing)
    return applied_now


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
    conn.execute(HEARTBEAT_UPSERT, (writer_shard(conn, False), time.time()))


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
