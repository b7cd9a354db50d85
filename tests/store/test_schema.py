"""The stored ``calls`` columns are the record's fields, on both back ends: the migrations create exactly the
declared columns, and a fully populated record comes back unchanged from every write path."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from store_fixtures import backend_fixture, fresh_store_fixture, sqlite_store_fixture, store_url_fixture  # noqa: F401
from test_record_fields import RECORDS

from hangup.composition import MIGRATIONS
from hangup.records import CallRecord
from hangup.store import open_store, sql, staging
from hangup.store.base import AddResult, AddStatus, CallQuery, Store
from hangup.store.migrations import render
from hangup.store.schema import CALL_COLUMN_TYPES
from hangup.store.sqlite import SQLiteStore


def _sqlite_columns(url: str) -> dict[str, str]:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        rows = conn.execute("SELECT name, type, \"notnull\", pk FROM pragma_table_info('calls') ORDER BY cid")
        return {name: kind + (" NOT NULL" if notnull or pk else "") for name, kind, notnull, pk in rows}
    finally:
        conn.close()


def _postgres_columns(url: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'calls' ORDER BY ordinal_position").fetchall()
    return {name: kind.upper() + (" NOT NULL" if nullable == "NO" else "") for name, kind, nullable in rows}


COLUMNS_OF = {"sqlite": _sqlite_columns, "postgres": _postgres_columns}
DIALECTS = {"sqlite": "sqlite", "postgres": "postgresql"}


def test_the_migrations_create_the_declared_columns(store_url: str, backend: str) -> None:
    open_store(store_url).close()
    declared = {name: render(kind, DIALECTS[backend]) for name, kind in CALL_COLUMN_TYPES.items()}
    assert COLUMNS_OF[backend](store_url) == declared


def _add_many(store: Store, records: Sequence[CallRecord]) -> list[AddResult]:
    return store.add_many(records)


def _add_rows(store: Store, records: Sequence[CallRecord]) -> list[AddResult]:
    return store.add_rows([sql.record_row(r) for r in records])


def _add_rows_without_digest(store: Store, records: Sequence[CallRecord]) -> list[AddResult]:
    """As a bulk import brings rows: the digest left to the store."""
    return store.add_rows([(*sql.record_row(r)[:-1], "") for r in records])


def _add_one_by_one(store: Store, records: Sequence[CallRecord]) -> list[AddResult]:
    async def each() -> list[AddResult]:
        return [await store.add(r) for r in records]

    return asyncio.run(each())


WRITES: dict[str, Callable[[Store, Sequence[CallRecord]], list[AddResult]]] = {
    "add": _add_one_by_one, "add_many": _add_many, "add_rows": _add_rows,
    "add_rows, no digest": _add_rows_without_digest,
}


def _read_back(store: Store, records: Sequence[CallRecord]) -> None:
    """Each record comes back unchanged by id, from a page and from iteration, with the same JSON."""
    for record in records:
        found = store.get(record.id)
        assert found == record
        assert found is not None and found.to_json() == record.to_json()
    wanted = {r.id: r for r in records}
    assert {r.id: r for r in store.query(CallQuery(limit=10)).calls} == wanted
    assert {r.id: r for r in store.iter_calls(CallQuery())} == wanted


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES)
def test_every_field_comes_back_from_the_store(
        fresh_store: Store, write: Callable[[Store, Sequence[CallRecord]], list[AddResult]]) -> None:
    records = [make() for make in RECORDS.values()]
    assert [result.status for result in write(fresh_store, records)] == [AddStatus.INSERTED] * len(records)
    _read_back(fresh_store, records)
    # a repeat is told from a conflict by the facts: every field read back gives the digest it was stored with
    assert [result.status for result in write(fresh_store, records)] == [AddStatus.DUPLICATE] * len(records)


def test_every_field_comes_back_from_a_staging_file(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    records = [make() for make in RECORDS.values()]
    path = str(tmp_path / "batch.stage")
    staging.write(path, staging.rows_table([sql.record_row(r) for r in records]))
    assert sqlite_store.add_staged(path).inserted == len(records)
    _read_back(sqlite_store, records)



#: The database as the releases before conflict versions (migration 0320) left it, and as 0320 left it.
BEFORE_VERSIONS = [m for m in MIGRATIONS if m.name < "0320_call_conflict_versions"]
BEFORE_REPEATS = [m for m in MIGRATIONS if m.name < "0340"]
_KEEP = "INSERT INTO call_conflicts (call_id, received_at, raw, differences{}) VALUES (?, ?, ?, '{{}}'{})"

# Rows an earlier release kept in call_conflicts, in order: (call, raw); a platform's retry sends the same body.
EARLIER_ROWS = [("c1", "v1"), ("c1", "v1"), ("c1", "v2"), ("c1", "v1"), ("c2", "v1"), ("c2", "v1"), ("c3", "v9")]
# Then, kept after 0320 with the digest of their version: retries of two of those versions, and a new one.
LATER_ROWS = [("c2", "v1", "d-c2-v1"), ("c3", "v9", "d-c3-v9"), ("c3", "v8", "d-c3-v8")]
# What 0340 keeps: each version once, as first kept (its receipt time), with the digest a later retry brought.
KEPT = [("c1", "v1", "", 0.0), ("c1", "v2", "", 2.0), ("c2", "v1", "d-c2-v1", 4.0), ("c3", "v9", "d-c3-v9", 6.0),
        ("c3", "v8", "d-c3-v8", 102.0)]


def _keep(url: str, migrations: Sequence[Any], statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Keep ``rows`` as a release with ``migrations`` left them (the statement of that release's schema)."""
    store: Any = open_store(url, migrations=migrations)
    try:
        store.run_in_writer(lambda conn: [conn.execute(store.database.sql(statement), row) for row in rows])
    finally:
        store.close()


def test_conflict_repeats_kept_before_versions_are_kept_once(store_url: str) -> None:
    """0320 made each version unique per call from then on; 0340 deletes the repeats kept before it (the same
    call and body), keeping the first, which takes the digest of a repeat kept after 0320: its next retry is
    known too."""
    _keep(store_url, BEFORE_VERSIONS, _KEEP.format("", ""), [(c, float(n), raw) for n, (c, raw) in
                                                           enumerate(EARLIER_ROWS)])
    _keep(store_url, BEFORE_REPEATS, _KEEP.format(", digest", ", ?"),
          [(c, 100.0 + n, raw, d) for n, (c, raw, d) in enumerate(LATER_ROWS)])
    store: Any = open_store(store_url, migrations=MIGRATIONS)
    try:
        assert [tuple(r) for r in store.database.read(
            "SELECT call_id, raw, digest, received_at FROM call_conflicts ORDER BY id")] == KEPT
        retry = store.database.sql(_KEEP.format(", digest", ", ?") + sql.CONFLICT_VERSION)
        store.run_in_writer(lambda conn: conn.execute(retry, ("c2", 200.0, "v1", "d-c2-v1")))
        assert [c.received_at for c in store.conflicts("c2")] == [4.0]
    finally:
        store.close()
