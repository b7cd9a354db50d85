"""The rollup hook's grouped sums equal the plain per-call sums, on dense batches where calls share minutes."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import pytest

from hangup.records import CallRecord
from hangup.stats import arrow_rollups, rollups, traffic
from hangup.stats.buckets import DAY, HOUR, MINUTE, WEEK
from hangup.stats.dimensions import ALL, BREAKDOWNS, DIMENSIONS, TOPS
from hangup.stats.totals import COUNTERS, call_time, counters
from hangup.store import staging
from hangup.store.schema import CALL_COLUMNS
from hangup.store.sql import record_row

START = 1_700_000_040


def per_call(records: Sequence[CallRecord]) -> dict[rollups.Key, list[int]]:
    """Every call added to every key it belongs to, one by one: the definition the grouping must match."""
    sums: dict[rollups.Key, list[int]] = {}
    for record in records:
        t = call_time(record)
        keys = [(size, dim, t - t % size, value)
                for size in (MINUTE, HOUR, DAY)
                for dim, value in [(ALL, ""), *((d, DIMENSIONS[d].key(record)) for d in BREAKDOWNS)]]
        if not record.normal:
            keys += [(size, d, t - t % size, DIMENSIONS[d].key(record)) for size in (DAY, WEEK) for d in TOPS]
        for key in keys:
            row = sums.setdefault(key, [0] * len(counters(record)))
            for i, value in enumerate(counters(record)):
                row[i] += value
    return sums


@pytest.mark.parametrize(
    ("calls", "seconds", "users", "seed"),
    [
        (3000, 300, 3, 1),  # ~600 calls a minute, few users: large groups, repeated top keys
        (2000, 2 * 86400, 50, 2),  # spread over two UTC days: groups of one, hour and day boundaries
        (1500, 7200, 1, 3),  # one caller: every failure shares its top keys
        (2000, 9 * 86400, 20, 5),  # nine days: top days summed into two weeks
    ],
)
def test_grouped_sums_equal_per_call_sums(calls: int, seconds: int, users: int, seed: int) -> None:
    records = list(traffic.generate(calls, START, START + seconds, seed=seed, users=users))
    assert any(not r.normal for r in records) and any(r.answered for r in records)
    expected = per_call(records)
    got = rollups.aggregate(records)
    assert got == expected
    assert sum(row[0] for (level, dim, _, _), row in got.items() if level == MINUTE and dim == ALL) == calls


@pytest.mark.parametrize(("calls", "seconds", "users", "seed"), [(3000, 300, 3, 1), (2000, 2 * 86400, 50, 4)])
def test_sums_of_rows_equal_sums_of_their_records(calls: int, seconds: int, users: int, seed: int) -> None:
    records = list(traffic.generate(calls, START, START + seconds, seed=seed, users=users))
    assert rollups.aggregate_rows([record_row(r) for r in records]) == per_call(records)


@pytest.mark.parametrize(("calls", "seconds", "users", "seed"), [(3000, 300, 3, 1), (2000, 2 * 86400, 50, 2),
                                                                 (1500, 7200, 1, 3), (2000, 9 * 86400, 20, 5)])
def test_sums_in_sql_equal_per_call_sums(calls: int, seconds: int, users: int, seed: int) -> None:
    """``apply_source`` (bulk imports on SQLite) adds the same keys and sums, read from a table of rows."""
    records = list(traffic.generate(calls, START, START + seconds, seed=seed, users=users))
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE batch ({', '.join(CALL_COLUMNS)})")
    conn.executemany(f"INSERT INTO batch VALUES ({', '.join('?' * len(CALL_COLUMNS))})",
                     [record_row(r) for r in records])
    for migration in rollups.MIGRATIONS:
        for statement in migration.statements("sqlite"):
            conn.execute(statement)
    half = len(records) // 2  # two batches: the second adds to keys the first created
    rollups.apply_source(conn, "batch", "rowid <= ?", [half])
    rollups.apply_source(conn, "batch", "rowid > ?", [half])
    columns = ", ".join((*rollups.KEY, *COUNTERS))
    got = {(level, dim, bucket, value): list(sums)
           for level, dim, bucket, value, *sums in conn.execute(f"SELECT {columns} FROM {rollups.TABLE}")}
    assert got == per_call(records)


@pytest.mark.parametrize(("calls", "seconds", "users", "seed"), [(3000, 300, 3, 1), (2000, 2 * 86400, 50, 2),
                                                                 (1500, 7200, 1, 3), (2000, 9 * 86400, 20, 5)])
def test_sums_of_a_table_equal_per_call_sums(calls: int, seconds: int, users: int, seed: int) -> None:
    """``arrow_rollups.aggregate`` (bulk imports, in the reading process) gives the same keys and sums."""
    records = list(traffic.generate(calls, START, START + seconds, seed=seed, users=users))
    table = staging.rows_table([record_row(r) for r in records])
    got = {(row["level"], row["dim"], row["bucket"], row["value"]): [row[c] for c in COUNTERS]
           for row in arrow_rollups.aggregate(table).to_pylist()}
    assert got == per_call(records)


@pytest.mark.parametrize("floor_at", [0.0, 0.5, 1.0])
def test_sums_of_a_table_leave_out_minutes_before_the_floor_and_nothing_else(floor_at: float) -> None:
    """A store's minute floor given to the reading process: minute keys before it are not staged, every
    other key is, with the same sums (hours and days still count the calls of the dropped minutes)."""
    records = list(traffic.generate(1500, START, START + 3 * 86400, seed=7, users=20))
    table = staging.rows_table([record_row(r) for r in records])
    floor = START + int(floor_at * 3 * 86400)
    expected = {key: sums for key, sums in per_call(records).items() if key[0] != MINUTE or key[2] >= floor}
    got = {(row["level"], row["dim"], row["bucket"], row["value"]): [row[c] for c in COUNTERS]
           for row in arrow_rollups.aggregate(table, floor).to_pylist()}
    assert got == expected
    assert any(key[0] == MINUTE for key in per_call(records)) and (floor_at < 1.0) == any(k[0] == MINUTE for k in got)
