"""Bulk imports into PostgreSQL: a batch of ready ``calls`` rows moved by COPY and set-based statements.

``hangup import`` of a large file hands the store batches of rows (``Store.add_rows``). Inside the
writer's transaction a batch is copied (``COPY``) into a session table, ``pg_temp.bulk_calls`` (each row
with its position, ``seq``; emptied at every commit), and stored by a few statements instead of one per
call, with the same outcome as ``add_many`` (``hangup.store.postgres_writes``):

1. the first row of each id is claimed in ``call_keys`` by one ``INSERT … SELECT … ON CONFLICT DO
   NOTHING RETURNING``, ids in code-point order (``COLLATE "C"``, the order ``claim_ids`` sorts them in),
   so nodes writing the same calls at once never wait on each other in a cycle and each call is claimed
   by one of them; the positions claimed go to ``pg_temp.bulk_new``;
2. those rows go into ``calls`` with one ``INSERT … SELECT`` (the store made their months' partitions);
3. the write hooks count them: a ``SourceWriteHook`` (the rollups) in SQL from the session table, so no
   row passes through Python again; other hooks get the inserted rows or records.

Only rows that were not claimed (a call stored before, or one earlier in the batch) are looked at in
Python, to tell duplicates from conflicts. A repeat whose facts equal, column for column, those of a
call stored with a stale digest (none: an earlier import; or an earlier release's, ``hangup.store.digest``)
is a duplicate without hashing either row; the others are compared by digest (``sql.row_digest``), as
``add_many`` compares them.

A ``Master.csv`` import sends its batches as ``COPY`` text instead (``add_copied``, ``hangup.store.copy_batch``):
the ids are claimed from a narrow table of the batch's keys (``pg_temp.bulk_keys``), and a batch whose
every row is new goes straight into ``calls`` by ``COPY`` with its rollups added from the reading
process's sums; any other goes through the session table as above.

Rows keep an empty digest (it is computed when a repeat needs it), except rows holding NUL: PostgreSQL
text cannot hold it, so they are stored with U+FFFD (``text_safe``) and their digest is computed first,
from the values as they came.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

import psycopg

from hangup.records import CallRecord
from hangup.store import sql
from hangup.store.base import AddResult, AddStatus, CopyBatch, RowsWriteHook, SourceWriteHook, StagedResult, WriteHook
from hangup.store.digest import stale_sql
from hangup.store.postgres_writes import get_call, not_repeated, stored_digests
from hangup.store.schema import CALL_COLUMNS, call_column_types
from hangup.store.sql import text_safe

TABLE = "pg_temp.bulk_calls"
#: Memory of each sort or hash of a batch's statements (a 100,000-row batch needs a few tens of MB).
WORK_MEM = "64MB"
NEW = "pg_temp.bulk_new"
#: The claim keys of a batch of COPY text (``seq, id, ended_at, digest``): a narrow table to claim from.
KEYS = "pg_temp.bulk_keys"
#: The reading process's rollup sums of a batch (``hangup.stats.arrow_rollups.SCHEMA``'s columns).
SUMS = "pg_temp.bulk_sums"
_COLUMNS = ", ".join(CALL_COLUMNS)
_CREATE = (
    # Numbers rows copied without their position (COPY text, ``add_copied``) in the order they came.
    "CREATE TEMP SEQUENCE IF NOT EXISTS bulk_seq MINVALUE 0",
    # LIKE calls: the same column types, so the rollup SQL reads the values as it would read calls.
    "CREATE TEMP TABLE IF NOT EXISTS bulk_calls (seq BIGINT NOT NULL DEFAULT nextval('pg_temp.bulk_seq'), "
    "LIKE calls) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS bulk_new (seq BIGINT NOT NULL) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS bulk_keys (seq BIGINT NOT NULL, id TEXT NOT NULL, ended_at BIGINT NOT NULL, "
    "digest TEXT NOT NULL) ON COMMIT DELETE ROWS",
)
# LIKE the rollups table (made with them, hence only when a hook takes sums): the columns the sums are added to.
_CREATE_SUMS = "CREATE TEMP TABLE IF NOT EXISTS bulk_sums (LIKE stats_rollups INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
_COPY = f"COPY {TABLE} (seq, {_COLUMNS}) FROM STDIN"


def _claim_from(table: str) -> str:
    """Claim the first row of each id of ``table`` (``seq, id, ended_at, digest``); positions to ``NEW``."""
    return (
        f"WITH firsts AS MATERIALIZED (SELECT DISTINCT ON (id COLLATE \"C\") seq, id, ended_at, digest FROM {table} "
        "ORDER BY id COLLATE \"C\", seq), "
        "claimed AS (INSERT INTO call_keys (id, ended_at, digest) SELECT id, ended_at, digest FROM firsts "
        "ORDER BY id COLLATE \"C\" ON CONFLICT (id) DO NOTHING RETURNING id) "
        f"INSERT INTO {NEW} (seq) SELECT f.seq FROM firsts f JOIN claimed c ON c.id = f.id"
    )


_CLAIM = _claim_from(TABLE)
_CLAIM_KEYS = _claim_from(KEYS)
_COPY_KEYS = f"COPY {KEYS} (seq, id, ended_at, digest) FROM STDIN (FORMAT csv)"
_COPY_ROWS = f"COPY {TABLE} ({_COLUMNS}) FROM STDIN (FORMAT csv)"
_COPY_CALLS = f"COPY calls ({_COLUMNS}) FROM STDIN (FORMAT csv)"
_INSERT_ALL = f"INSERT INTO calls ({_COLUMNS}) SELECT {_COLUMNS} FROM {TABLE}"
_ONLY_NEW = f"seq IN (SELECT seq FROM {NEW})"
_INSERT_NEW = f"{_INSERT_ALL} WHERE {_ONLY_NEW}"
_SAME_FACTS = " AND ".join(f"b.{name} IS NOT DISTINCT FROM c.{name}" for name in sql.SAME_ROW_COLUMNS)
#: Positions of repeats of stored calls whose facts equal the stored ones and whose stored digest is stale
#: (none, or an earlier definition's): the digest ``add_many`` would compute from the stored row is then the
#: repeat's own.
_SAME_AS_STORED = (
    f"SELECT b.seq FROM unnest(%s::bigint[]) AS p (seq) JOIN {TABLE} b ON b.seq = p.seq "
    "JOIN call_keys k ON k.id = b.id JOIN calls c ON c.id = b.id AND c.ended_at = k.ended_at "
    f"WHERE {stale_sql('k.digest')} AND {_SAME_FACTS}"
)
_TEXT_COLUMNS = tuple(i for i, kind in enumerate(call_column_types().values()) if kind == "text")
_DIGEST = len(CALL_COLUMNS) - 1
_ended_at = itemgetter(CALL_COLUMNS.index("ended_at"))


def add_rows(cur: Any, rows: Sequence[sql.Row], hooks: Sequence[WriteHook]) -> list[AddResult]:
    """Store a batch of ``calls`` rows in the open transaction of ``cur`` and run the write hooks on the
    calls it inserted; one result per row, in order (the first row of an id is the one kept)."""
    if not rows:
        return []
    _prepare(cur)
    dirty = _copy(cur, rows)
    cur.execute(_CLAIM)
    if cur.rowcount == len(rows):
        cur.execute(_INSERT_ALL)
        _run_hooks(cur.connection, hooks, rows, "true")
        return [AddResult(row[0], AddStatus.INSERTED) for row in rows]
    return _claimed_some(cur, rows, hooks, dirty)


def add_copied(cur: Any, batch: CopyBatch, hooks: Sequence[WriteHook]) -> StagedResult:
    """``add_rows`` of a batch of ``COPY`` text (``hangup.store.copy_batch``): its ids are claimed from its
    keys alone; when every one is new and every hook takes the reading process's rollup sums, the rows
    are copied straight into ``calls`` and no row passes through Python. Otherwise they are copied into
    the session table first, and read back to tell repeats apart as ``add_rows`` does."""
    _prepare(cur)
    cur.execute(f"DELETE FROM {KEYS}")
    with cur.copy(_COPY_KEYS) as copy:
        copy.write(batch.keys)
    cur.execute(_CLAIM_KEYS)
    every = cur.rowcount == batch.count
    if every and all(isinstance(hook, SourceWriteHook) for hook in hooks):
        # Every row is new and no hook reads them: straight into calls, as a plain COPY would store them.
        with cur.copy(_COPY_CALLS) as copy:
            copy.write(batch.rows)
        _copied_hooks(cur, hooks, batch)
        return StagedResult(batch.count, 0, 0)
    cur.execute("SELECT setval('pg_temp.bulk_seq', 0, false)")  # positions from 0, as the keys number them
    with cur.copy(_COPY_ROWS) as copy:
        copy.write(batch.rows)
    if every:
        cur.execute(_INSERT_ALL)
        _copied_hooks(cur, hooks, batch)
        return StagedResult(batch.count, 0, 0)
    cur.execute(f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY seq")
    results = _claimed_some(cur, [tuple(row) for row in cur.fetchall()], hooks, set())
    statuses = Counter(str(result.status) for result in results)
    return StagedResult(statuses[AddStatus.INSERTED], statuses[AddStatus.DUPLICATE], statuses[AddStatus.CONFLICT],
                        statuses[AddStatus.LEG])


def _prepare(cur: Any) -> None:
    """Empty session tables for a batch in the open transaction."""
    # The batch's sorts and hash aggregates (claims, rollup sums) stay in memory instead of spilling to disk.
    cur.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    for create in _CREATE:
        cur.execute(create)
    for table in (TABLE, NEW):  # two batches may share a transaction; a commit empties them
        cur.execute(f"DELETE FROM {table}")


def _copied_hooks(cur: Any, hooks: Sequence[WriteHook], batch: CopyBatch) -> None:
    """The write hooks on a batch whose every row was inserted: the reading process's sums where a hook
    takes them, else the rows from the session table."""
    rows: list[sql.Row] | None = None
    for hook in hooks:
        if isinstance(hook, SourceWriteHook):
            cur.execute(_CREATE_SUMS)
            cur.execute(f"DELETE FROM {SUMS}")
            with cur.copy(f"COPY {SUMS} ({', '.join(batch.sum_columns)}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(batch.sums)
            hook.from_source(cur.connection, TABLE, "true", [], SUMS)
            continue
        if rows is None:
            cur.execute(f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY seq")
            rows = [tuple(row) for row in cur.fetchall()]
        _run_hooks(cur.connection, [hook], rows, "true")


def _claimed_some(cur: Any, rows: Sequence[sql.Row], hooks: Sequence[WriteHook], dirty: set[int]) -> list[AddResult]:
    """``add_rows`` of a batch some rows of which the claim did not take: stores the claimed ones."""
    cur.execute(f"SELECT seq FROM {NEW} ORDER BY seq")
    new = [int(r[0]) for r in cur.fetchall()]
    if new:
        cur.execute(_INSERT_NEW)
    if new:  # before the repeats: a further leg takes back what the hooks counted for its call's row
        _run_hooks(cur.connection, hooks, [rows[i] for i in new], _ONLY_NEW)
    return _repeats(cur, rows, new, dirty, hooks)


def _copy(cur: Any, rows: Sequence[sql.Row]) -> set[int]:
    """COPY ``rows`` into the session table; return the positions of rows that held NUL."""
    try:
        # psycopg refuses a NUL before sending it; the savepoint lets the COPY start again without it.
        with cur.connection.transaction():
            _write(cur, rows, set())
        return set()
    except psycopg.DataError:
        dirty = _with_nul(rows)
        if not dirty:
            raise
    _write(cur, rows, dirty)
    return dirty


def _write(cur: Any, rows: Sequence[sql.Row], dirty: set[int]) -> None:
    with cur.copy(_COPY) as copy:
        if dirty:
            for seq, row in enumerate(rows):
                copy.write_row((seq, *(_safe(row) if seq in dirty else row)))
        else:
            for seq, row in enumerate(rows):
                copy.write_row((seq, *row))


def _with_nul(rows: Sequence[sql.Row]) -> set[int]:
    """Positions of the rows with a NUL in a text column (checked a whole column at a time, in C)."""
    columns = list(zip(*rows, strict=True))
    dirty: set[int] = set()
    for index in _TEXT_COLUMNS:
        column = columns[index]
        try:
            clean = not any(map(str.__contains__, filter(None, column), repeat("\x00")))
        except TypeError:  # a value that is not text: look at each
            clean = False
        if not clean:
            dirty.update(i for i, value in enumerate(column) if isinstance(value, str) and "\x00" in value)
    return dirty


def _safe(row: sql.Row) -> sql.Row:
    """The row as PostgreSQL can hold it, with the digest of the values as they came."""
    digest = sql.row_digest(row)
    return (*(text_safe(value) for value in row[:_DIGEST]), digest)


def _repeats(cur: Any, rows: Sequence[sql.Row], new: list[int], dirty: set[int], hooks: Sequence[WriteHook]
             ) -> list[AddResult]:
    """Results of a batch some rows of which were not claimed: duplicates and (recorded) conflicts."""
    first = {rows[i][0]: i for i in new}
    is_new = set(new)
    later = [i for i in range(len(rows)) if i not in is_new]
    of_stored = [i for i in later if rows[i][0] not in first]
    same = _same_as_stored(cur, [i for i in of_stored if i not in dirty])
    known = stored_digests(cur, list({rows[i][0] for i in of_stored if i not in same}))
    results = [AddResult(row[0], AddStatus.INSERTED) for row in rows]
    for i in later:
        call_id = rows[i][0]
        kept: CallRecord | None = None
        if i in same:
            equal = True
        elif call_id in first:  # a repeat of a call this batch inserts
            equal = sql.row_digest(rows[first[call_id]]) == sql.row_digest(rows[i])
            kept = sql.row_record(rows[first[call_id]])
        else:
            stored_digest, stored_ended = known[call_id]
            equal = stored_digest == sql.row_digest(rows[i])
            kept = None if equal else get_call(cur, call_id, stored_ended)
        if equal:
            results[i] = AddResult(call_id, AddStatus.DUPLICATE)
        else:
            results[i] = not_repeated(cur, kept, sql.row_record(rows[i]), hooks)
    return results


def _same_as_stored(cur: Any, positions: list[int]) -> set[int]:
    if not positions:
        return set()
    cur.execute(_SAME_AS_STORED, (positions,))
    return {int(r[0]) for r in cur.fetchall()}


def _run_hooks(conn: Any, hooks: Sequence[WriteHook], inserted: Sequence[sql.Row], where: str) -> None:
    """Each hook with the inserted calls: from the session table where it can read them there (rows of
    ``TABLE`` matching ``where``), else as rows or records."""
    records: list[CallRecord] | None = None
    # SQL's % truncates towards zero where Python's floors: buckets of times before 1970 are Python's.
    in_sql = min(map(_ended_at, inserted)) >= 0
    for hook in hooks:
        if in_sql and isinstance(hook, SourceWriteHook):
            hook.from_source(conn, TABLE, where, [], None)
        elif isinstance(hook, RowsWriteHook):
            hook.from_rows(conn, inserted)
        else:
            if records is None:
                records = [sql.row_record(row) for row in inserted]
            hook(conn, records)
