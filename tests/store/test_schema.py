"""The stored ``calls`` columns are the record's fields, on both back ends: the migrations create exactly the
declared columns, and a fully populated record comes back unchanged from every write path."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from store_fixtures import backend_fixture, fresh_store_fixture, sqlite_store_fixture, store_url_fixture  # noqa: F401
from test_record_fields import RECORDS

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
