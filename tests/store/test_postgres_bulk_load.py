"""Secondary indexes of ``calls`` and ``call_keys`` deferred by an import into an empty PostgreSQL store,
built at its end."""

from __future__ import annotations

import postgres_helpers
import psycopg
import pytest
from test_postgres_bulk import MARCH, copied, ended

from hangup.composition import MIGRATIONS
from hangup.store import postgres_bulk_load as bulk_load
from hangup.store.base import StagedResult
from hangup.store.postgres import PostgresStore
from hangup.store.url import parse_url

pytestmark = pytest.mark.postgres


def indexes(store: PostgresStore) -> set[str]:
    rows = store.database.read("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                               "AND tablename IN ('calls', 'call_keys')")
    return {str(row[0]) for row in rows}


def test_the_deferred_indexes_are_the_secondary_ones() -> None:
    assert set(bulk_load.DEFERRED) == {"call_keys_ended", "calls_provider_call", "calls_ended", "calls_from_user",
                                       "calls_to_user", "calls_outcome", "calls_end_reason"}


@pytest.mark.parametrize(("stored_before", "deferred"), [(0, True), (1, False)],
                         ids=["empty store", "store with calls"])
def test_an_import_defers_the_indexes_only_into_an_empty_store(stored_before: int, deferred: bool) -> None:
    with postgres_helpers.temporary_schema() as url:
        store = PostgresStore(url, migrations=MIGRATIONS)
        try:
            every = indexes(store)
            assert set(bulk_load.DEFERRED) <= every
            store.add_many([ended(100 + n, MARCH) for n in range(stored_before)])
            batch = [ended(n, MARCH + n) for n in range(5)]
            text = copied(batch)
            assert text is not None
            with store.bulk_load():
                during = indexes(store)
                assert store.add_copied(text) == StagedResult(5, 0, 0)
            assert (during == every - set(bulk_load.DEFERRED)) is deferred and (during == every) is not deferred
            assert indexes(store) == every
            assert store.count() == 5 + stored_before
        finally:
            store.close()


def test_a_store_opened_after_an_interrupted_import_builds_the_missing_indexes() -> None:
    with postgres_helpers.temporary_schema() as url:
        first = PostgresStore(url, migrations=MIGRATIONS)
        every = indexes(first)
        with psycopg.connect(parse_url(url).conninfo) as conn, conn.transaction():
            assert bulk_load.defer(conn, first.schema) == sorted(bulk_load.DEFERRED)  # an import's start, no end
        try:
            assert indexes(first) == every - set(bulk_load.DEFERRED)
        finally:
            first.close()
        second = PostgresStore(url, migrations=MIGRATIONS)
        try:
            assert indexes(second) == every
        finally:
            second.close()
