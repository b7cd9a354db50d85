"""``Store.add_rows``: ready ``calls`` rows (bulk imports) are stored exactly as ``add_many`` stores records."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import pytest
from store_fixtures import backend_fixture, fresh_store_fixture, store_url_fixture  # noqa: F401
from test_sqlite import call

from hangup.records import CallRecord
from hangup.store import sql
from hangup.store.base import AddStatus, CallQuery, Store

FLAGGED = call(3, flags=("a", "b"), extra={"k": "ü", "n": ""}, stid=None, user_rel_code="app-42", q850=16)


@pytest.mark.parametrize(
    ("batches", "statuses"),
    [
        ([[call(1), call(2)]], [["inserted", "inserted"]]),
        ([[call(1), call(1)]], [["inserted", "duplicate"]]),
        ([[call(1), call(1, terminate=17)]], [["inserted", "conflict"]]),
        ([[call(1)], [call(1), call(1, duration=31)]], [["inserted"], ["duplicate", "conflict"]]),
        ([[FLAGGED], [FLAGGED, call(4)]], [["inserted"], ["duplicate", "inserted"]]),
    ],
)
def test_rows_get_the_statuses_records_get(fresh_store: Store, batches: list[list[CallRecord]],
                                           statuses: list[list[str]]) -> None:
    got = [[str(r.status) for r in fresh_store.add_rows([sql.record_row(c) for c in batch])] for batch in batches]
    assert got == statuses
    first = {c.id: c for batch in batches for c in reversed(batch)}  # the first delivery of each id is kept
    assert {c.id: c for c in fresh_store.iter_calls(CallQuery())} == first


def test_conflicting_rows_record_their_differences(fresh_store: Store) -> None:
    fresh_store.add_rows([sql.record_row(call(1))])
    results = fresh_store.add_rows([sql.record_row(call(1, duration=31, raw="second"))])
    assert results[0].status == AddStatus.CONFLICT
    (conflict,) = fresh_store.conflicts(call(1).id)
    assert conflict.differences == {"duration": [30, 31]} and conflict.raw == "second"


def test_hooks_get_the_inserted_rows_as_records(fresh_store: Store) -> None:
    seen: list[CallRecord] = []

    def hook(conn: Any, records: Sequence[CallRecord]) -> None:
        seen.extend(records)
        assert isinstance(conn, sqlite3.Connection) or type(conn).__module__.startswith("psycopg")

    fresh_store.add_write_hook(hook)
    fresh_store.add_rows([sql.record_row(c) for c in (FLAGGED, call(1), FLAGGED, call(1, terminate=17))])
    assert seen == [FLAGGED, call(1)]


def test_a_record_survives_its_row(fresh_store: Store) -> None:
    assert sql.row_record(sql.record_row(FLAGGED)) == FLAGGED
    assert fresh_store.add_rows([]) == []


@pytest.mark.parametrize(
    "extra",
    [{}, {"k": "ü\u2028\x00\"\\"}, {"lone": "\ud800"}, {"n": 1.5, "i": 7, "s": "x"}, {"nan": float("inf")}],
)
def test_extra_reads_back_as_it_went_in(extra: dict[str, Any]) -> None:
    assert sql.row_record(sql.record_row(call(1, extra=extra))).extra == extra
