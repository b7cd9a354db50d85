"""Staged bulk imports (``SQLiteStore.add_staged``): a staging file's rows are stored exactly as ``add_many``
stores the same calls, counted, deduplicated, conflicts recorded, hooks run; rows may come without a digest."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_sqlite import call

from hangup.composition import MIGRATIONS
from hangup.records import CallRecord
from hangup.stats import arrow_rollups, rollups, traffic
from hangup.stats.buckets import prune_before
from hangup.stats.rollups import RollupHook
from hangup.store import sql, staging
from hangup.store import sqlite as sqlite_store
from hangup.store.base import AddStatus, CallQuery, StagedResult, StagingStore, sums_floor
from hangup.store.schema import CALL_COLUMNS, DEFERRED_INDEXES
from hangup.store.sqlite import SQLiteStore

OTHER = call(2, from_user_id="ü", extra={"k": "é", "n": ""}, stid=None, q850=16, flags=("x",))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(f"sqlite:///{tmp_path}/calls.db", migrations=MIGRATIONS)
    yield opened
    opened.close()


def _stage(folder: Path, name: str, records: Sequence[CallRecord], *, digests: bool = True,
           sums: bool = False) -> str:
    rows = [sql.record_row(r) for r in records]
    if not digests:
        rows = [(*row[:-1], "") for row in rows]
    path, table = str(folder / name), staging.rows_table(rows)
    staging.write(path, table, arrow_rollups.aggregate(table) if sums else None)
    return path


@pytest.mark.parametrize("digests", [True, False], ids=["digests", "no-digests"])
@pytest.mark.parametrize(
    ("batches", "results"),
    [
        ([[call(1), OTHER]], [(2, 0, 0)]),
        ([[call(1), call(1)]], [(1, 1, 0)]),
        ([[call(1), call(1, terminate=17)]], [(1, 0, 1)]),
        ([[call(1)], [call(1), call(1, duration=31), OTHER]], [(1, 0, 0), (1, 1, 1)]),
        ([[OTHER], [OTHER, call(4)], []], [(1, 0, 0), (1, 1, 0), (0, 0, 0)]),
    ],
)
def test_staged_batches_are_counted_as_add_many_counts_them(
        store: SQLiteStore, tmp_path: Path, digests: bool, batches: list[list[CallRecord]],
        results: list[tuple[int, int, int]]) -> None:
    got = [store.add_staged(_stage(tmp_path, f"b{i}.stage", batch, digests=digests))
           for i, batch in enumerate(batches)]
    assert got == [StagedResult(*r) for r in results]
    first = {c.id: c for batch in batches for c in reversed(batch)}  # the first delivery of each id is kept
    assert {c.id: c for c in store.iter_calls(CallQuery())} == first


def test_a_conflict_records_its_differences(store: SQLiteStore, tmp_path: Path) -> None:
    store.add_staged(_stage(tmp_path, "a.stage", [call(1)], digests=False))
    store.add_staged(_stage(tmp_path, "b.stage", [call(1, duration=31, raw="second")], digests=False))
    (conflict,) = store.conflicts(call(1).id)
    assert conflict.differences == {"duration": [30, 31]} and conflict.raw == "second"


@pytest.mark.parametrize(
    ("again", "status"),
    [(OTHER, AddStatus.DUPLICATE), (dataclasses.replace(OTHER, duration=99), AddStatus.CONFLICT),
     (dataclasses.replace(OTHER, extra={"k": "é"}), AddStatus.CONFLICT)],
)
def test_a_call_stored_without_digest_is_compared_on_redelivery(
        store: SQLiteStore, tmp_path: Path, again: CallRecord, status: AddStatus) -> None:
    store.add_staged(_stage(tmp_path, "a.stage", [OTHER], digests=False))
    assert store.add_many([again])[0].status == status
    assert store.add_rows([(*sql.record_row(again)[:-1], "")])[0].status == status
    assert store.get(OTHER.id) == OTHER


def test_rows_without_digest_in_one_batch_are_compared(store: SQLiteStore) -> None:
    rows = [(*sql.record_row(r)[:-1], "") for r in (OTHER, OTHER, dataclasses.replace(OTHER, duration=5))]
    assert [str(r.status) for r in store.add_rows(rows)] == ["inserted", "duplicate", "conflict"]


def test_hooks_get_the_inserted_calls(store: SQLiteStore, tmp_path: Path) -> None:
    seen: list[CallRecord] = []

    def hook(conn: Any, records: Sequence[CallRecord]) -> None:
        assert isinstance(conn, sqlite3.Connection)
        seen.extend(records)

    store.add_write_hook(hook)
    store.add_staged(_stage(tmp_path, "a.stage", [call(1)]))
    store.add_staged(_stage(tmp_path, "b.stage", [call(1), OTHER, call(3), OTHER]))
    assert seen == [call(1), OTHER, call(3)]


@pytest.mark.parametrize("sums", [False, True], ids=["summed-by-sql", "summed-by-reader"])
def test_rollups_of_staged_batches_equal_those_of_add_many(tmp_path: Path, sums: bool) -> None:
    """Both batches overlap the first: the second's sums, staged or not, are made from its new calls."""
    records = list(traffic.generate(3000, 1_700_000_000, 1_700_000_000 + 2 * 86400, seed=5, users=20))
    stores = [SQLiteStore(f"sqlite:///{tmp_path}/{name}.db", migrations=MIGRATIONS) for name in ("records", "staged")]
    try:
        for s in stores:
            s.add_write_hook(rollups.hook)
        stores[0].add_many(records[:2000])
        stores[0].add_many(records[1000:])
        stores[1].add_staged(_stage(tmp_path, "a.stage", records[:2000], digests=False, sums=sums))
        stores[1].add_staged(_stage(tmp_path, "b.stage", records[1000:], digests=False, sums=sums))
        tables = [_table(s, f"SELECT * FROM {rollups.TABLE} ORDER BY level, dim, bucket, value") for s in stores]
        assert tables[0] == tables[1] and len(tables[0]) > 1000
    finally:
        for s in stores:
            s.close()


def test_a_staging_file_is_released_after_its_batch(store: SQLiteStore, tmp_path: Path) -> None:
    assert isinstance(store, StagingStore) and store.staging_dir() == str(tmp_path)
    for n in range(12):  # more than SQLite's ten attached databases, were they kept
        path = _stage(tmp_path, "same.stage", [call(n)])
        assert store.add_staged(path).inserted == 1
        Path(path).unlink()
    assert store.count() == 12


def test_a_missing_staging_file_fails_without_storing(store: SQLiteStore, tmp_path: Path) -> None:
    path = tmp_path / "gone" / "a.stage"
    with pytest.raises(Exception, match="could not commit"):
        store.add_staged(str(path))
    assert store.count() == 0
    assert store.add_many([call(1)])[0].status == AddStatus.INSERTED


@pytest.mark.parametrize(("stored", "staged", "cache_kib"), [
    (0, 4, 1),  # the indexes of 4 calls: 1 KiB
    (40, 4, 11),  # of 44 calls: 11 KiB, less than a page per staged call in three indexes (48)
    (400, 2, 24),  # a page per staged call in three indexes: 24 KiB, less than the indexes (100)
], ids=["indexes-of-few", "indexes", "pages-a-batch-dirties"])
def test_the_import_page_cache_holds_what_a_batch_can_dirty(
        store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored: int, staged: int,
        cache_kib: int) -> None:
    monkeypatch.setattr(sqlite_store, "_IMPORT_CACHE_KIB", (1, 1 << 20))
    store.add_many([call(n) for n in range(stored)])
    store.add_staged(_stage(tmp_path, "a.stage", [call(n) for n in range(stored, stored + staged)]))
    assert store.run_in_writer(lambda conn: conn.execute("PRAGMA cache_size").fetchone()[0]) == -cache_kib


def _table(store: SQLiteStore, query: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def test_the_reading_process_sums_are_used_when_every_call_was_new(store: SQLiteStore, tmp_path: Path) -> None:
    """The staged sums are taken as they are (here deliberately those of other calls) when all calls are new."""
    store.add_write_hook(rollups.hook)
    others = list(traffic.generate(7, 1_700_000_000, 1_700_003_600, seed=1))
    path = str(tmp_path / "a.stage")
    staging.write(path, staging.rows_table([sql.record_row(call(1))]),
                  arrow_rollups.aggregate(staging.rows_table([sql.record_row(r) for r in others])))
    assert store.add_staged(path).inserted == 1
    totals = _table(store, f"SELECT SUM(attempts) FROM {rollups.TABLE} WHERE level = 86400 AND dim = ''")
    assert totals == [(7,)]


def test_a_repeat_whose_extra_lists_its_keys_in_another_order_is_a_duplicate(store: SQLiteStore,
                                                                           tmp_path: Path) -> None:
    store.add_many([OTHER])
    row = sql.record_row(OTHER)
    extra = CALL_COLUMNS.index("extra")
    reordered = (*row[:extra], json.dumps(dict(reversed(list(OTHER.extra.items())))), *row[extra + 1:-1], "")
    assert reordered[extra] != row[extra]
    path = str(tmp_path / "a.stage")
    staging.write(path, staging.rows_table([reordered, sql.record_row(call(1))]))
    assert store.add_staged(path) == StagedResult(1, 1, 0)
    assert store.conflicts(OTHER.id) == []


def _indexes(store: SQLiteStore) -> set[str]:
    return {name for (name,) in _table(store, "SELECT name FROM sqlite_master WHERE type = 'index'")}


def _plan(store: SQLiteStore, user: str) -> str:
    rows = _table(store, f"EXPLAIN QUERY PLAN SELECT id FROM calls WHERE from_user_id = '{user}' ORDER BY ended_at")
    return " ".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(("before", "deferred"), [([], True), ([OTHER], False)], ids=["empty", "holding-calls"])
def test_a_bulk_load_builds_the_user_indexes_at_the_end_only_into_an_empty_store(
        store: SQLiteStore, tmp_path: Path, before: list[CallRecord], deferred: bool) -> None:
    store.add_many(before)
    staged = [call(n, from_user_id=f"u{n % 2}") for n in range(10, 15)]
    with store.bulk_load():
        store.add_staged(_stage(tmp_path, "a.stage", staged, digests=False))
        assert set(DEFERRED_INDEXES).isdisjoint(_indexes(store)) is deferred
        assert store.count(CallQuery(from_user_id="u1")) == 2  # answered all the same, by a scan
    assert set(DEFERRED_INDEXES) <= _indexes(store)
    assert "calls_from_user" in _plan(store, "u1") and store.count(CallQuery(from_user_id="u1")) == 2
    assert store.count() == 5 + len(before)


_KILLED_IN_A_BULK_LOAD = """
import os, sys
from hangup.store import sqlite as sqlite_store
from hangup.store.sqlite import SQLiteStore
store = SQLiteStore(sys.argv[1])
bulk = store.bulk_load()
bulk.__enter__()
assert store.add_staged(sys.argv[2]).inserted == 2
os._exit(0)  # as if killed: the bulk load is never left
"""


def test_indexes_a_stopped_bulk_load_left_out_are_built_when_the_store_is_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/calls.db"
    staged = _stage(tmp_path, "a.stage", [call(1), OTHER])
    subprocess.run([sys.executable, "-c", _KILLED_IN_A_BULK_LOAD, url, staged], check=True)
    conn = sqlite3.connect(tmp_path / "calls.db")
    left = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    conn.close()
    assert set(DEFERRED_INDEXES).isdisjoint(left)
    store = SQLiteStore(url, migrations=MIGRATIONS)
    try:
        assert set(DEFERRED_INDEXES) <= _indexes(store) and store.count() == 2
    finally:
        store.close()


def test_leaving_a_bulk_load_syncs_the_wal_and_the_database_file(
        store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with store.bulk_load():
        store.add_staged(_stage(tmp_path, "a.stage", [call(1)]))
        synced.clear()  # SQLite's own syncs go through its VFS, not os.fsync: only hangup's are listed
    assert synced == [f"{store.path}-wal", store.path]


NOW = 1_800_000_000


class _KeepsAll:
    """A hook that reads a batch's sums and keeps every minute."""

    def __call__(self, conn: object, records: object) -> None: ...

    def from_source(self, conn: object, table: str, where: str, params: object, sums: str | None) -> None: ...


class _NoSums:
    def __call__(self, conn: object, records: object) -> None: ...


@pytest.mark.parametrize(("hooks", "floor"), [
    ([], None),
    ([_NoSums()], None),
    ([RollupHook(8, clock=lambda: NOW)], prune_before(NOW, 8)),
    ([RollupHook(0)], None),
    ([RollupHook(8, clock=lambda: NOW), _KeepsAll()], None),
    ([RollupHook(8, clock=lambda: NOW), RollupHook(2, clock=lambda: NOW), _NoSums()], prune_before(NOW, 8)),
], ids=["no hooks", "no sums read", "rollups", "rollups keeping minutes", "a hook keeping minutes", "two rollups"])
def test_the_minute_floor_of_staged_sums_is_the_one_every_sums_reader_allows(hooks: list[Any],
                                                                            floor: int | None) -> None:
    assert sums_floor(hooks) == floor
