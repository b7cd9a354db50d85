"""Incremental rollups: per-bucket sums of every counter, per dimension value, kept in the store.

One table, ``stats_rollups``, keyed by ``(level, dim, bucket, value)``: ``level`` is the bucket size
in seconds (60, 3600, 86400), ``bucket`` the UTC-aligned bucket start, ``dim`` a dimension id (``""``
for the grand total) and ``value`` the dimension's value. Columns after the key are the counters of
``hangup.stats.totals.COUNTERS``. A batch of calls is summed in Python first and written with one
portable ``INSERT ... ON CONFLICT ... DO UPDATE`` per distinct key (SQLite >= 3.24 and PostgreSQL),
inside the writer's transaction, so a call is counted exactly once and only when it is stored.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter, itemgetter
from typing import Any

import msgspec

from hangup.bounds import MAX_DURATION
from hangup.records import CallRecord
from hangup.stats import raw
from hangup.stats.buckets import DAY, HOUR, MINUTE, WEEK, prune_before
from hangup.stats.dimensions import ALL, BREAKDOWNS, DIMENSIONS, TOPS
from hangup.stats.fold import fold, fold_table
from hangup.stats.totals import COUNTERS, call_time, counted_duration, counters, time_to_answer
from hangup.store.database import paramstyle_of, to_paramstyle
from hangup.store.migrations import Migration
from hangup.store.schema import CALL_COLUMNS, call_column_types
from hangup.store.shards import writer_shard
from hangup.store.sql import Row, row_record

#: ``sql(text, paramstyle)``: ``?`` placeholders in the driver's style (written once, ``hangup.store.database``).
sql = to_paramstyle

TABLE = "stats_rollups"
KEY = ("level", "dim", "bucket", "value")

#: Counters added after the table was created, each by the migration named here (migration 0200 keeps the
#: columns it always created, so a new database runs every migration the same way an old one did).
ADDED_COUNTERS = {"answered_human": "0230_stats_rollups_answered_human"}


def _ddl(counters: Sequence[str]) -> str:
    columns = ",\n    ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in counters)
    return f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    level INTEGER NOT NULL,
    dim TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    value TEXT NOT NULL,
    {columns},
    PRIMARY KEY (level, dim, bucket, value)
)"""


#: DDL of the rollup table as the migrations leave it; portable between SQLite and PostgreSQL.
SCHEMA = (_ddl(COUNTERS),)
_FIRST_SCHEMA = (_ddl([c for c in COUNTERS if c not in ADDED_COUNTERS]),)

#: The writer's shard (``hangup.store.shards``): the last column of the key on PostgreSQL, where several
#: nodes write; SQLite's one writer writes shard 0, so its key stays ``KEY`` and its table is not rebuilt.
SHARD = "shard"
#: The key an upsert names, per dialect.
UPSERT_KEYS = {"qmark": KEY, "format": (*KEY, SHARD)}

def weeks_from_days(source: str, into: str, per_shard: bool = False) -> str:
    """The statement adding to ``into`` the week rows of the top dimensions summed from the day rows of
    ``source`` (both with ``KEY`` and ``COUNTERS`` columns; ``per_shard``: both with ``SHARD`` too)."""
    tops = ", ".join(f"'{d}'" for d in TOPS)
    week = f"bucket - (bucket % {WEEK})"
    shard = f", {SHARD}" if per_shard else ""
    columns = ", ".join((*KEY, *COUNTERS))
    sums = ", ".join(f"SUM({c})" for c in COUNTERS)
    return (f"INSERT INTO {into} ({columns}{shard}) SELECT {WEEK}, dim, {week}, value, {sums}{shard} FROM {source} "
            f"WHERE level = {DAY} AND dim IN ({tops}) GROUP BY dim, {week}, value{shard}")


#: Contributed to the store's named migrations (gathered by ``hangup.composition.MIGRATIONS``). On SQLite
#: the table is clustered on its key (WITHOUT ROWID), so a range of buckets is one contiguous read.
MIGRATIONS = (
    Migration("0200_stats_rollups", _FIRST_SCHEMA,
              dialects={"sqlite": tuple(f"{s} WITHOUT ROWID" for s in _FIRST_SCHEMA)}),
    *(Migration(name, (f"ALTER TABLE {TABLE} ADD COLUMN {column} BIGINT NOT NULL DEFAULT 0",))
      for column, name in ADDED_COUNTERS.items()),
    Migration("0240_stats_rollup_shards", (f"ALTER TABLE {TABLE} ADD COLUMN {SHARD} SMALLINT NOT NULL DEFAULT 0",),
              dialects={"postgresql": (
                  f"ALTER TABLE {TABLE} ADD COLUMN {SHARD} SMALLINT NOT NULL DEFAULT 0",
                  f"ALTER TABLE {TABLE} DROP CONSTRAINT {TABLE}_pkey",
                  f"ALTER TABLE {TABLE} ADD PRIMARY KEY ({', '.join(UPSERT_KEYS['format'])})",
              )}),
    # Week rows of the top dimensions, from the day rows a database already holds (per shard, as written).
    Migration("0260_stats_rollup_top_weeks", (weeks_from_days(TABLE, TABLE, per_shard=True),)),
    # PostgreSQL estimated each column of ``level = ? AND dim = ?`` alone: once the table was analyzed it
    # took a 30-day breakdown of one dimension for 213,000 of its 480 rows and scanned the whole table in
    # parallel (280 ms at 10 M calls). The pairs' own frequencies make it the index range it is (0.3 ms).
    Migration("0261_stats_rollup_level_dim_statistics", (), dialects={"postgresql": (
        f"CREATE STATISTICS IF NOT EXISTS {TABLE}_level_dim (mcv) ON level, dim FROM {TABLE}",
        f"ANALYZE {TABLE}",
    )}),
)

_ADD_COUNTERS = ", ".join(f"{c} = {TABLE}.{c} + excluded.{c}" for c in COUNTERS)
#: The columns an upsert writes, in order.
_WRITTEN = (*KEY, SHARD, *COUNTERS)
_SQLITE_UPSERT = (
    f"INSERT INTO {TABLE} ({', '.join(_WRITTEN)}) VALUES ({', '.join('?' * len(_WRITTEN))}) "
    f"ON CONFLICT ({', '.join(UPSERT_KEYS['qmark'])}) DO UPDATE SET {_ADD_COUNTERS}"
)
# On PostgreSQL a batch's keys go as one JSON array of rows in one statement: ``executemany`` of a row per
# key cost the node 1.5 ms of CPU for the ~130 keys of a 10-call batch, arrays per column (psycopg dumps
# each element in Python) 0.6 ms, this 0.3 ms. A node's batches shrink as more nodes share a load while
# their keys do not, so this per-batch cost is what grows a node's CPU per call (docs/benchmarks.md).
_PG_WRITTEN_TYPES = ("integer", "text", "bigint", "text", "smallint", *("bigint",) * len(COUNTERS))
_PG_UPSERT = (
    f"INSERT INTO {TABLE} ({', '.join(_WRITTEN)}) SELECT "
    + ", ".join(f"(e->>{i})::{t}" for i, t in enumerate(_PG_WRITTEN_TYPES))
    + f" FROM json_array_elements(%s::json) e ON CONFLICT ({', '.join(UPSERT_KEYS['format'])}) "
    f"DO UPDATE SET {_ADD_COUNTERS}"
)
_encode_json = msgspec.json.Encoder().encode

Key = tuple[int, str, int, str]



#: Every column an ordinary dimension's SQL reads (``raw.DIMENSION_SQL``).
GROUP_COLUMNS = ("outcome", "call_end_reason", "terminate", "cause", "ended_by", "fault", "call_type", "direction",
                 "from_service_id", "to_service_id", "provider", "route", "to_country", "to_prefix", "from_country")
#: Every record field a dimension key or a counter other than the sums depends on: calls equal on these
#: (and in the same minute, with the same top-dimension values) add the same rollup keys and the same 0/1
#: counters, so a batch is grouped on them first and each group expanded once. A dimension reading another
#: field must add it here (``tests/stats/test_rollup_groups.py`` compares with per-call sums).
_GROUP_FIELD_NAMES = (*GROUP_COLUMNS, "answered", "normal", "answered_by")
_TOP_FIELD_NAMES = ("from_user_id", "to_user_id", "srcip", "dstip")
_GROUP_FIELDS = attrgetter(*_GROUP_FIELD_NAMES)
_TOP_FIELDS = attrgetter(*_TOP_FIELD_NAMES)
# The same fields read from a ``calls`` row: answered and normal are 0/1 there, equal and hashed as
# False/True, so rows and records of the same calls form the same groups.
_ROW_GROUP_FIELDS = itemgetter(*(CALL_COLUMNS.index(name) for name in _GROUP_FIELD_NAMES))
_ROW_TOP_FIELDS = itemgetter(*(CALL_COLUMNS.index(name) for name in _TOP_FIELD_NAMES))
_ENDED_AT, _ANSWERED, _SETUP, _START, _DURATION_COLUMN, _NORMAL = (
    CALL_COLUMNS.index(name) for name in ("ended_at", "answered", "setup_time", "start_time", "duration", "normal"))
_BREAKDOWN_DIMENSIONS = tuple(DIMENSIONS[d] for d in BREAKDOWNS)
_TOP_DIMENSIONS = tuple(DIMENSIONS[d] for d in TOPS)
_DURATION = COUNTERS.index("duration_sum")
_TTA_SUM = COUNTERS.index("tta_sum")

#: group key -> [a record of the group, calls, duration_sum, tta_sum]
_Groups = dict[tuple[Any, ...], list[Any]]


def aggregate(records: Iterable[CallRecord]) -> dict[Key, list[int]]:
    """Sum a batch of calls into rollup keys (every level, every dimension, tops per day for failures).

    Calls are first counted per group: per minute and values of every field an ordinary key or a 0/1
    counter reads, and, for failed calls, per day and top-dimension values; one dictionary update per
    call (two for a failure). Each group's counters, scaled by its size, are listed under its minute keys
    (the dimension values read once per distinct field values); each minute key is summed, and the hour
    and day keys are summed from the minute sums, so a group is listed once, not once per level.
    """
    return _expand(*_group(records))


def aggregate_rows(rows: Iterable[Row]) -> dict[Key, list[int]]:
    """``aggregate`` of calls given as ``calls`` rows (bulk imports): grouped on the row's columns, and
    only one record per group is rebuilt, for the dimension values and the 0/1 counters."""
    by_minute: _Groups = {}
    by_day: _Groups = {}
    for row in rows:
        t = row[_ENDED_AT]
        answered = bool(row[_ANSWERED])
        setup, start = row[_SETUP], row[_START]
        has_tta = answered and setup > 0 and start >= setup  # totals.time_to_answer, on the row
        tta = min(start - setup, MAX_DURATION) if has_tta else 0
        fields = _ROW_GROUP_FIELDS(row)
        duration = min(row[_DURATION_COLUMN], MAX_DURATION) if answered else 0  # totals.counted_duration
        _count(by_minute, (t - t % MINUTE, fields, has_tta), row, duration, tta)
        if not row[_NORMAL]:
            _count(by_day, (t - t % DAY, fields, has_tta, _ROW_TOP_FIELDS(row)), row, duration, tta)
    for groups in (by_minute, by_day):
        for acc in groups.values():
            acc[0] = row_record(acc[0])
    return _expand(by_minute, by_day)


def _expand(by_minute: _Groups, by_day: _Groups) -> dict[Key, list[int]]:
    minutes: defaultdict[Key, list[list[int]]] = defaultdict(list)
    values: dict[tuple[Any, ...], list[tuple[str, str]]] = {}
    for (minute, fields, _), record, row in _group_rows(by_minute):
        found = values.get(fields)
        if found is None:
            found = values[fields] = [(ALL, ""), *((d.id, d.key(record)) for d in _BREAKDOWN_DIMENSIONS)]
        for dim, value in found:
            minutes[MINUTE, dim, minute, value].append(row)
    acc = _summed(minutes)
    for size in (HOUR, DAY):
        coarser: defaultdict[Key, list[list[int]]] = defaultdict(list)
        for (level, dim, bucket, value), sums in acc.items():
            if level == MINUTE:
                coarser[size, dim, bucket - bucket % size, value].append(sums)
        acc.update(_summed(coarser))
    tops: defaultdict[Key, list[list[int]]] = defaultdict(list)
    for (day, *_), record, row in _group_rows(by_day):
        for d in _TOP_DIMENSIONS:
            tops[DAY, d.id, day, d.key(record)].append(row)
    days = _summed(tops)
    weeks: defaultdict[Key, list[list[int]]] = defaultdict(list)
    for (_, dim, day, value), sums in days.items():
        weeks[WEEK, dim, day - day % WEEK, value].append(sums)
    acc.update(days)
    acc.update(_summed(weeks))
    return acc


def _summed(parts: dict[Key, list[list[int]]]) -> dict[Key, list[int]]:
    return {key: rows[0] if len(rows) == 1 else [sum(column) for column in zip(*rows, strict=True)]
            for key, rows in parts.items()}


def _group(records: Iterable[CallRecord]) -> tuple[_Groups, _Groups]:
    by_minute: _Groups = {}
    by_day: _Groups = {}
    for record in records:
        t = call_time(record)
        tta = time_to_answer(record)
        fields = _GROUP_FIELDS(record)
        duration = counted_duration(record)
        _count(by_minute, (t - t % MINUTE, fields, tta is not None), record, duration, tta or 0)
        if not record.normal:
            _count(by_day, (t - t % DAY, fields, tta is not None, _TOP_FIELDS(record)), record, duration, tta or 0)
    return by_minute, by_day


def _count(groups: _Groups, key: tuple[Any, ...], record: CallRecord | Row, duration: int, tta: int) -> None:
    acc = groups.get(key)
    if acc is None:
        groups[key] = [record, 1, duration, tta]
    else:
        acc[1] += 1
        acc[2] += duration
        acc[3] += tta


def _group_rows(groups: _Groups) -> Iterator[tuple[tuple[Any, ...], CallRecord, list[int]]]:
    """(group key, a record of the group, the group's counter sums) of every group."""
    for key, (record, count, duration, tta) in groups.items():
        row = [value * count for value in counters(record)]
        row[_DURATION] = duration
        row[_TTA_SUM] = tta
        # tta_count is 0 or 1 per call and part of the group key, so the scaled value is already exact.
        yield key, record, row


def apply(conn: Any, records: Sequence[CallRecord], minute_floor: int | None = None) -> int:
    """Add a batch of newly stored calls to the rollups on ``conn``, minute keys from ``minute_floor`` on;
    return the rows touched.

    This is the store's write hook: it runs inside the insert transaction and does not commit.
    """
    if not records:
        return 0
    return _upsert(conn, aggregate(records), minute_floor)


def _upsert(conn: Any, acc: dict[Key, list[int]], minute_floor: int | None = None) -> int:
    acc = fold(conn, acc)  # capped dimensions: values beyond their day's cap count under OTHER
    # Sorted keys: a writer sharing a shard (more writers than shards) locks rows in one order, never in a cycle.
    style = paramstyle_of(conn)
    shard = writer_shard(conn, style == "format")
    params = [(*key, shard, *sums) for key, sums in sorted(acc.items())
              if minute_floor is None or key[0] != MINUTE or key[2] >= minute_floor]
    cur = conn.cursor()
    if style == "format":
        if params:
            cur.execute(_PG_UPSERT, [_encode_json(params).decode()])
    else:
        cur.executemany(_SQLITE_UPSERT, params)
    return len(params)


_EMPTY_KEY = (f"DELETE FROM {TABLE} WHERE {' AND '.join(c + ' = ?' for c in KEY)} AND "
              + " AND ".join(f"{c} = 0" for c in COUNTERS))


def retract(conn: Any, records: Sequence[CallRecord], minute_floor: int | None = None) -> int:
    """Take back what ``apply`` added for ``records`` (calls rewritten since, ``hangup.store.rewrite``),
    inside the caller's transaction; keys left counting nothing are removed. Return the rows touched."""
    if not records:
        return 0
    acc = {key: [-value for value in sums] for key, sums in aggregate(records).items()}
    touched = _upsert(conn, acc, minute_floor)
    conn.cursor().executemany(sql(_EMPTY_KEY, paramstyle_of(conn)), sorted(acc))
    return touched


def apply_rows(conn: Any, rows: Sequence[Row], minute_floor: int | None = None) -> int:
    """``apply`` of newly stored calls given as ``calls`` rows (``hangup.store.base.RowsWriteHook``)."""
    return _upsert(conn, aggregate_rows(rows), minute_floor) if rows else 0


class RollupHook:
    """The store write hook (``Store.add_write_hook``): ``apply`` without a result, of records or rows.

    With ``minute_days`` (``HANGUP_MINUTE_ROLLUP_DAYS``), minute rows the retention would prune at once
    (``hangup.stats.buckets.prune_before``) are not written: importing last year's CDRs adds their hour
    and day rows only, which is all a question about last year reads. 0 writes every minute row.
    """

    def __init__(self, minute_days: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.minute_days = minute_days
        self.clock = clock

    def minute_floor(self) -> int | None:
        """The earliest minute bucket written now (``None``: all are)."""
        return prune_before(self.clock(), self.minute_days)

    def __call__(self, conn: Any, records: Sequence[CallRecord]) -> None:
        apply(conn, records, self.minute_floor())

    def from_rows(self, conn: Any, rows: Sequence[Row]) -> None:
        apply_rows(conn, rows, self.minute_floor())

    def retract(self, conn: Any, records: Sequence[CallRecord]) -> None:
        retract(conn, records, self.minute_floor())

    def from_source(self, conn: Any, table: str, where: str, params: Sequence[Any], sums: str | None) -> None:
        if sums is None:
            apply_source(conn, table, where, params, self.minute_floor())
        else:
            fold_table(conn, sums)
            conn.execute(_upsert_from(conn, sums, self.minute_floor()))


#: The hook that writes every minute row (stores whose minute rows are never pruned).
hook = RollupHook()


# -- the same sums in SQL (bulk imports on SQLite) ------------------------------------------
# Summing a batch in Python costs tens of µs per call; a bulk import moves its rows into ``calls`` with
# one ``INSERT … SELECT`` from a staging table and sums them the same way, in SQL, from that table. The
# steps mirror ``aggregate``: the batch's calls are grouped per minute on every field a dimension reads
# (one sort of the batch), each ordinary dimension is summed from those groups, hours and days from the
# batch's minutes, the per-day top lists from its failed calls; then every key is added to the table
# with one upsert. The counter and dimension expressions are ``hangup.stats.raw``'s, the reference the
# rollups are tested against.

_BATCH_GROUPS = "temp.rollup_batch_groups"
_BATCH_KEYS = "temp.rollup_batch_keys"
_SUM_COUNTERS = ", ".join(f"SUM({c})" for c in COUNTERS)
_KEY_COLUMNS = ", ".join(KEY + COUNTERS)
# Untyped columns keep each value as the calls table holds it, so the dimension SQL reads the same text.
_CREATE = (
    f"CREATE TEMP TABLE IF NOT EXISTS rollup_batch_groups (bucket, {', '.join(GROUP_COLUMNS + COUNTERS)})",
    f"CREATE TEMP TABLE IF NOT EXISTS rollup_batch_keys ({_KEY_COLUMNS})",
)
def _upsert_from(conn: Any, table: str, minute_floor: int | None = None) -> str:
    """Add the keys and sums of ``table`` (``KEY`` and ``COUNTERS`` columns) to the rollups, in the shard of
    the writer on ``conn``, but for minute keys before ``minute_floor``."""
    style = paramstyle_of(conn)
    shard = writer_shard(conn, style == "format")
    kept = "true" if minute_floor is None else f"(level <> {MINUTE} OR bucket >= {int(minute_floor)})"
    # Summed per key: ``fold_table`` may have folded several values of a key's day into OTHER.
    return (
        f"INSERT INTO {TABLE} ({_KEY_COLUMNS}, {SHARD}) SELECT {', '.join(KEY)}, {_SUM_COUNTERS}, {shard} "
        f"FROM {table} WHERE {kept} GROUP BY {', '.join(KEY)} ORDER BY {', '.join(KEY)} "
        f"ON CONFLICT ({', '.join(UPSERT_KEYS[style])}) DO UPDATE SET {_ADD_COUNTERS}"
    )


def statements(table: str, where: str) -> list[str]:
    """The statements that sum the calls of ``table`` matching ``where`` (e.g. ``rowid BETWEEN ? AND ?``)
    into the batch tables, in order; those that read ``table`` take the condition's parameters."""
    source = f"{table} WHERE ({where})"
    group = ", ".join(GROUP_COLUMNS)
    minute = f"ended_at - (ended_at % {MINUTE})"
    out = [f"INSERT INTO {_BATCH_GROUPS} SELECT {minute}, {group}, {raw.SUMS} FROM {source} GROUP BY {minute}, {group}"]
    for dim in (ALL, *BREAKDOWNS):
        value = raw.DIMENSION_SQL[dim]
        by = "bucket" if dim == ALL else f"bucket, {value}"
        out.append(f"INSERT INTO {_BATCH_KEYS} SELECT {MINUTE}, '{dim}', bucket, {value}, {_SUM_COUNTERS} "
                   f"FROM {_BATCH_GROUPS} GROUP BY {by}")
    for size, finer in ((HOUR, MINUTE), (DAY, HOUR)):
        bucket = f"bucket - (bucket % {size})"
        out.append(f"INSERT INTO {_BATCH_KEYS} SELECT {size}, dim, {bucket}, value, {_SUM_COUNTERS} "
                   f"FROM {_BATCH_KEYS} WHERE level = {finer} GROUP BY dim, {bucket}, value")
    day = f"ended_at - (ended_at % {DAY})"
    failed = f"{source} AND normal = 0"
    for dim in TOPS:
        value = raw.DIMENSION_SQL[dim]
        out.append(f"INSERT INTO {_BATCH_KEYS} SELECT {DAY}, '{dim}', {day}, {value}, {raw.SUMS} "
                   f"FROM {failed} GROUP BY {day}, {value}")
    out.append(weeks_from_days(_BATCH_KEYS, _BATCH_KEYS))
    return out


def apply_source(conn: Any, table: str, where: str = "1 = 1", params: Sequence[Any] = (),
                 minute_floor: int | None = None) -> int:
    """Add the calls of ``table`` matching ``where`` to the rollups on ``conn`` (SQLite or PostgreSQL, inside
    the caller's transaction), minute keys from ``minute_floor`` on; return the number of rollup keys summed."""
    if paramstyle_of(conn) == "format":
        return _apply_source_postgres(conn, table, where, params, minute_floor)
    for create in _CREATE:
        conn.execute(create)
    conn.execute(f"DELETE FROM {_BATCH_GROUPS}")
    conn.execute(f"DELETE FROM {_BATCH_KEYS}")
    for statement in statements(table, where):
        conn.execute(statement, params if f"FROM {table} " in statement else ())
    touched = int(conn.execute(f"SELECT COUNT(*) FROM {_BATCH_KEYS}").fetchone()[0])
    fold_table(conn, _BATCH_KEYS)
    conn.execute(_upsert_from(conn, _BATCH_KEYS, minute_floor))
    return touched


# PostgreSQL (bulk imports through COPY, ``hangup.store.postgres_bulk``): the same statements on typed
# session tables (``pg_temp``, emptied at each commit); psycopg reads ``%`` as a placeholder when given
# parameters, so it is doubled then.
_PG_TYPES = {"integer": "BIGINT", "real": "DOUBLE PRECISION", "text": "TEXT"}
_PG_CREATE = (
    "CREATE TEMP TABLE IF NOT EXISTS rollup_batch_groups (bucket BIGINT, "
    + ", ".join(f"{c} {_PG_TYPES[call_column_types()[c]]}" for c in GROUP_COLUMNS) + ", "
    + ", ".join(f"{c} BIGINT" for c in COUNTERS) + ") ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS rollup_batch_keys (level INTEGER, dim TEXT, bucket BIGINT, value TEXT, "
    + ", ".join(f"{c} BIGINT" for c in COUNTERS) + ") ON COMMIT DELETE ROWS",
)


def _apply_source_postgres(conn: Any, table: str, where: str, params: Sequence[Any],
                           minute_floor: int | None) -> int:
    cur = conn.cursor()
    for create in _PG_CREATE:
        cur.execute(create)
    for name in (_BATCH_GROUPS, _BATCH_KEYS):
        cur.execute(f"DELETE FROM pg_{name}")
    for statement in statements(table, where):
        text = statement.replace(_BATCH_GROUPS, f"pg_{_BATCH_GROUPS}").replace(_BATCH_KEYS, f"pg_{_BATCH_KEYS}")
        if params and f"FROM {table} " in statement:
            cur.execute(text.replace("%", "%%"), params)
        else:
            cur.execute(text)
    cur.execute(f"SELECT COUNT(*) FROM pg_{_BATCH_KEYS}")
    touched = int(cur.fetchone()[0])
    fold_table(conn, f"pg_{_BATCH_KEYS}")
    cur.execute(_upsert_from(conn, f"pg_{_BATCH_KEYS}", minute_floor))
    return touched


def clear(conn: Any) -> None:
    conn.cursor().execute(f"DELETE FROM {TABLE}")
