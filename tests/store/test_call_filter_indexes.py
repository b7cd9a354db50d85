"""Every call-log filter answers a page through an index of its own (SQLite ``EXPLAIN QUERY PLAN``).

A filter riding the time index reads past every row of other values, which for a rare value is a scan
of the table; the plan of each filter's page, first and after a cursor, must search the filter's index.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from hangup.composition import open_store
from hangup.store import sql
from hangup.store.base import CallQuery
from hangup.store.schema import DEFERRED_INDEXES, FILTER_INDEXES, LATER_FILTER_INDEXES

CURSOR = "WzE1MDAsImFiYyJd"  # [1500, "abc"]: a call that ended at 1500


@pytest.fixture(scope="module", name="conn")
def conn_fixture(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    path: Path = tmp_path_factory.mktemp("plans") / "calls.db"
    open_store(f"sqlite:///{path}").close()
    return sqlite3.connect(path)


@pytest.mark.parametrize(("query", "index"), [
    (CallQuery(from_user_id="u1"), "calls_from_user"),
    (CallQuery(to_user_id="u1"), "calls_to_user"),
    (CallQuery(from_service_id="s"), "calls_from_service"),
    (CallQuery(to_service_id="s"), "calls_to_service"),
    (CallQuery(call_type="V"), "calls_type"),
    (CallQuery(outcome="busy"), "calls_outcome"),
    (CallQuery(ended_by="callee"), "calls_ended_by"),
    (CallQuery(call_end_reason=1001), "calls_end_reason"),
    (CallQuery(terminate=17), "calls_terminate"),
    (CallQuery(releaser="system"), "calls_releaser"),
    (CallQuery(provider="twilio"), "calls_provider"),
    (CallQuery(route="carrier-a"), "calls_route"),
    (CallQuery(destination_country="DE"), "calls_to_country"),
    (CallQuery(destination_prefix="4930"), "calls_to_prefix"),
    (CallQuery(origin_country="GB"), "calls_from_country"),
    (CallQuery(cause="sip:503"), "calls_cause"),
    (CallQuery(fault="network"), "calls_fault"),
    (CallQuery(flagged=True), "calls_flagged"),
    (CallQuery(normal=False), "calls_abnormal"),
    (CallQuery(normal=True), "calls_ended"),  # almost every call: the time axis finds a page at once
    (CallQuery(flagged=False), "calls_ended"),
    (CallQuery(since=1000, until=2000), "calls_ended"),
    (CallQuery(outcome="busy", since=1000, until=2000), "calls_outcome"),
], ids=lambda v: str(v)[:50] if isinstance(v, str) else None)
@pytest.mark.parametrize("with_cursor", [False, True], ids=["first page", "after a cursor"])
def test_page_searches_the_filters_index(conn: sqlite3.Connection, query: CallQuery, index: str,
                                         with_cursor: bool) -> None:
    if with_cursor:
        query = replace(query, cursor=CURSOR)
    statement, params, _ = sql.page_sql(query, "?")
    plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params))
    assert re.search(rf"USING (COVERING )?INDEX {index}\b", plan), plan
    # After a cursor the walk starts at it (a SEARCH with a bound), not at the newest call.
    assert plan.startswith("SEARCH") or not with_cursor, plan


def test_every_filter_index_is_there_during_and_after_a_bulk_load(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/calls.db")
    try:
        with store.bulk_load():
            during = _indexes(tmp_path)
        assert set(FILTER_INDEXES) | set(LATER_FILTER_INDEXES) <= during
        assert set(DEFERRED_INDEXES).isdisjoint(during)  # only the user indexes wait for the end
        assert set(DEFERRED_INDEXES) <= _indexes(tmp_path)
    finally:
        store.close()


def _indexes(folder: Path) -> set[str]:
    with sqlite3.connect(folder / "calls.db") as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
