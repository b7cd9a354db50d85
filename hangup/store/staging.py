"""Bulk imports into SQLite through a staging file.

A large import is read in a second process (``hangup.importer.parallel``). It writes each batch of ready
``calls`` rows, as Arrow columns through ADBC's SQLite driver, into a scratch SQLite file of its own: no
journal, no fsync, deleted once stored. The store's writer attaches the file, moves the batch into
``calls`` with one ``INSERT … SELECT`` and sums its rollups in SQL (``SourceWriteHook``), so no row passes
through Python in the storing process, and the reader never waits for the writer's locks. Only when
the batch holds calls the store already has (or one call twice) are those rows read, to tell repeats
from conflicts as ``add_many`` does.

Rows may carry an empty digest (``hangup.store.sql.row_digest``): it is computed here, when needed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

import adbc_driver_sqlite.dbapi as adbc
import pyarrow as pa

from hangup.records import CallRecord
from hangup.store import legs, sql
from hangup.store.base import AddStatus, SourceWriteHook, StagedResult, WriteHook
from hangup.store.digest import digest
from hangup.store.schema import CALL_COLUMNS, DEFERRED_INDEXES, call_column_types

TABLE = "staged_calls"
_SAME_FACTS = " AND ".join(f"c.{name} IS s.{name}" for name in sql.SAME_ROW_COLUMNS)
SUMS = "staged_rollups"
_COLUMNS = ", ".join(CALL_COLUMNS)
_ARROW_TYPES = {"integer": pa.int64(), "real": pa.float64(), "text": pa.string()}
#: The Arrow schema of a staged batch: ``calls`` columns, integers as int64, ``received_at`` as float64.
SCHEMA = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in call_column_types().items()])


def write(path: str, table: pa.Table, sums: pa.Table | None = None) -> int:
    """Create the staging file ``path`` holding ``table`` (``SCHEMA``'s columns) and, if given, the rollup
    ``sums`` of its rows (``hangup.stats.arrow_rollups.SCHEMA``); return its row count."""
    conn = sqlite3.connect(path)
    try:  # untyped columns: every value is kept as it was written
        # Large pages: the file is written once front to back and read once in order, and ~1 KB rows
        # take half the time to write into 64 KiB pages than into 4 KiB ones (docs/benchmarks.md, "Import").
        conn.execute("PRAGMA page_size=65536")
        conn.execute(f"CREATE TABLE {TABLE} ({_COLUMNS})")
        if sums is not None:
            conn.execute(f"CREATE TABLE {SUMS} ({', '.join(sums.column_names)})")
        conn.commit()
    finally:
        conn.close()
    with adbc.connect(path, autocommit=True) as ingest, ingest.cursor() as cursor:
        for pragma in ("journal_mode=OFF", "synchronous=OFF"):  # a scratch file: nothing to recover
            cursor.execute(f"PRAGMA {pragma}")
            cursor.fetchall()
        if table.num_rows:
            cursor.adbc_ingest(TABLE, table.select(list(CALL_COLUMNS)).cast(SCHEMA), mode="append")
        if sums is not None and sums.num_rows:
            cursor.adbc_ingest(SUMS, sums, mode="append")
    return int(table.num_rows)


def rows_table(rows: Sequence[sql.Row]) -> pa.Table:
    """``calls`` rows as ``hangup.store.sql.record_row`` builds them, as a table of ``SCHEMA``."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(CALL_COLUMNS)
    return pa.table([pa.array(values, type=field.type) for values, field in zip(columns, SCHEMA, strict=True)],
                    schema=SCHEMA)


def defer_indexes(conn: sqlite3.Connection) -> list[str]:
    """Drop the ``DEFERRED_INDEXES`` if ``calls`` is empty (a bulk load into a new store); the dropped."""
    if conn.execute("SELECT 1 FROM calls LIMIT 1").fetchone() is not None:
        return []
    present = _present_indexes(conn)
    dropped = [name for name in DEFERRED_INDEXES if name in present]
    for name in dropped:
        conn.execute(f"DROP INDEX {name}")
    return dropped


def missing_indexes(conn: sqlite3.Connection) -> list[str]:
    """The ``DEFERRED_INDEXES`` the store lacks (a bulk load is under way, or was stopped)."""
    present = _present_indexes(conn)
    return [name for name in DEFERRED_INDEXES if name not in present] if "calls" in present else []


def restore_indexes(conn: sqlite3.Connection, names: Sequence[str]) -> None:
    """Build the named ``DEFERRED_INDEXES`` (each by one sort of the table)."""
    for name in names:
        conn.execute(DEFERRED_INDEXES[name])


def _present_indexes(conn: sqlite3.Connection) -> set[str]:
    """Names of the ``calls`` table and its indexes, as the schema has them now."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'calls'").fetchall()
    return {name for (name,) in rows}


def move(conn: sqlite3.Connection, alias: str, hooks: Sequence[WriteHook]) -> StagedResult:
    """Store the rows of the staging file attached as ``alias`` (in the writer's transaction).

    New calls are inserted in staging order, so of one call staged twice the first is kept; every other
    row of a call the store holds is a duplicate or a conflict, recorded as ``add_many`` records it.
    """
    table, where = f"{alias}.{TABLE}", "1 = 1"
    stored_before = int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM calls").fetchone()[0])
    changes = conn.total_changes
    conn.execute(f"INSERT INTO calls ({_COLUMNS}) SELECT {_COLUMNS} FROM {table} ORDER BY rowid "
                 "ON CONFLICT DO NOTHING")
    inserted = conn.total_changes - changes
    staged = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    counts = {AddStatus.DUPLICATE: 0, AddStatus.CONFLICT: 0, AddStatus.LEG: 0}
    later_legs: list[int] = []
    if inserted < staged:
        later_legs = _repeats(conn, table, stored_before, counts)
        where = "rowid NOT IN (SELECT rowid FROM temp.staged_repeats)"
    # The reading process's rollup sums count every staged row: right only when every one was new.
    sums = f"{alias}.{SUMS}" if inserted == staged and _has_table(conn, alias, SUMS) else None
    if inserted:
        _run_hooks(conn, hooks, table, where, sums)
    # after the hooks: a further leg takes back what they counted for its call's row (``hangup.store.legs``)
    for rowid in later_legs:
        second = sql.row_record(conn.execute(f"SELECT {_COLUMNS} FROM {table} WHERE rowid = ?", (rowid,)).fetchone())
        status, first = legs.add_leg(conn, _stored(conn, second.id), second, hooks)
        counts[status] += 1
        if status is AddStatus.CONFLICT:
            record_conflict(conn, first, second)
    return StagedResult(inserted, counts[AddStatus.DUPLICATE], counts[AddStatus.CONFLICT], counts[AddStatus.LEG])


def _has_table(conn: sqlite3.Connection, alias: str, name: str) -> bool:
    return conn.execute(f"SELECT 1 FROM {alias}.sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def _repeats(conn: sqlite3.Connection, table: str, stored_before: int, counts: dict[AddStatus, int]) -> list[int]:
    """Find the staged rows that were not inserted (their call was stored before, or staged earlier in the
    batch), list them in ``temp.staged_repeats``, count the duplicates and conflicts among them and return
    the rows that may be further legs of their call (``hangup.store.legs``), to be stored after the hooks."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS staged_repeats (rowid INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM temp.staged_repeats")
    staged = conn.execute(f"SELECT rowid, id FROM {table} ORDER BY rowid").fetchall()
    older = _stored_before(conn, list({call_id for _, call_id in staged}), stored_before)
    seen: set[str] = set()
    repeats: list[int] = []
    for rowid, call_id in staged:
        if call_id in older or call_id in seen:
            repeats.append(rowid)
        else:
            seen.add(call_id)
    conn.executemany("INSERT INTO temp.staged_repeats VALUES (?)", [(rowid,) for rowid in repeats])
    # A repeat whose facts are the stored ones, value for value, is a duplicate without hashing either row
    # (re-running an import repeats every row); the others are compared by digest, which also tells an
    # ``extra`` written with its keys in another order.
    differing = conn.execute(
        f"SELECT s.rowid FROM {table} s JOIN temp.staged_repeats r ON r.rowid = s.rowid "
        f"LEFT JOIN calls c ON c.id = s.id WHERE c.id IS NULL OR NOT ({_SAME_FACTS})").fetchall()
    counts[AddStatus.DUPLICATE] += len(repeats) - len(differing)
    later_legs: list[int] = []
    for (rowid,) in differing:
        row = conn.execute(f"SELECT {_COLUMNS} FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
        kept = conn.execute(f"SELECT {_COLUMNS} FROM calls WHERE id = ?", (row[0],)).fetchone()
        if kept is not None and sql.row_digest(kept) == sql.row_digest(row):
            counts[AddStatus.DUPLICATE] += 1
            continue
        first, second = (sql.row_record(kept) if kept is not None else None), sql.row_record(row)
        if legs.are_legs(first, second):
            later_legs.append(rowid)
            continue
        counts[AddStatus.CONFLICT] += 1
        record_conflict(conn, first, second)
    return later_legs


def _stored(conn: sqlite3.Connection, call_id: str) -> CallRecord:
    """A call's row as it is now (an earlier leg of the batch may have changed it)."""
    return sql.row_record(conn.execute(f"SELECT {_COLUMNS} FROM calls WHERE id = ?", (call_id,)).fetchone())


def record_conflict(conn: sqlite3.Connection, first: CallRecord | None, second: CallRecord) -> None:
    """Keep a second delivery whose facts differ from the stored call's, with the differences; a version kept
    already (the same facts: a platform's retry of it) is not kept again (``CONFLICT_VERSION``)."""
    diff = sql.differences(first, second) if first is not None else {}
    conn.execute(
        "INSERT INTO call_conflicts (call_id, received_at, raw, differences, digest) VALUES (?, ?, ?, ?, ?)"
        + sql.CONFLICT_VERSION,
        (second.id, second.received_at, second.raw, json.dumps(diff, ensure_ascii=False), digest(second)),
    )


def _stored_before(conn: sqlite3.Connection, ids: list[str], stored_before: int, chunk: int = 500) -> set[str]:
    """Those of ``ids`` whose call was in the store before this batch (rowid at most ``stored_before``)."""
    found: set[str] = set()
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        marks = ", ".join("?" * len(part))
        rows = conn.execute(f"SELECT id FROM calls WHERE id IN ({marks}) AND rowid <= ?", [*part, stored_before])
        found.update(call_id for (call_id,) in rows)
    return found


def _run_hooks(conn: sqlite3.Connection, hooks: Sequence[WriteHook], table: str, where: str,
               sums: str | None) -> None:
    records = None
    for hook in hooks:
        if isinstance(hook, SourceWriteHook):
            hook.from_source(conn, table, where, [], sums)
            continue
        if records is None:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM {table} WHERE {where} ORDER BY rowid").fetchall()
            records = [sql.row_record(row) for row in rows]
        hook(conn, records)
