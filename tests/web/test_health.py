"""``/readyz`` is a real write: a heartbeat row through the store's writer, 503 naming why it failed."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from receiver_helpers import ClientFactory, SyncClient, planet_query

from hangup.composition import open_store
from hangup.errors import StoreError
from hangup.settings import load_settings
from hangup.store.base import Store
from hangup.web.app import create_app


def test_readiness_rewrites_the_heartbeat_row(make_client: ClientFactory, fresh_store: Any) -> None:
    client = make_client()
    assert client.get("/readyz").status_code == 200
    first = fresh_store.database.read("SELECT id, beat_at FROM heartbeat")
    assert client.get("/readyz").status_code == 200
    second = fresh_store.database.read("SELECT id, beat_at FROM heartbeat")
    assert len(first) == len(second) == 1 and second[0][1] >= first[0][1]


def test_a_missing_heartbeat_table_is_not_ready(make_client: ClientFactory, fresh_store: Store) -> None:
    client = make_client()
    fresh_store.run_in_writer(lambda conn: conn.execute("DROP TABLE heartbeat"))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error_id"] == "not_ready" and "heartbeat" in answer.json()["error"]


def test_a_deleted_database_file_is_not_ready_and_takes_no_callback(make_client: ClientFactory,
                                                                    tmp_path: Path) -> None:
    client = make_client()
    assert client.get("/callbacks/planet?" + planet_query()).status_code == 200
    (tmp_path / "calls.db").unlink()
    answer = client.get("/readyz")
    assert answer.status_code == 503 and "was deleted" in answer.json()["error"]
    another = planet_query(sid="7364e8b3-bdac-436e-9631-0bce2498ce0c")
    assert client.get("/callbacks/planet?" + another).status_code == 503


@pytest.mark.postgres
def test_readiness_on_postgresql_is_a_committed_write(postgres_url: str) -> None:
    store: Any = open_store(postgres_url)
    try:
        with ExitStack() as stack:
            client = SyncClient(create_app(load_settings({}), store=store), stack)
            assert client.get("/readyz").status_code == 200
            assert len(store.database.read("SELECT id, beat_at FROM heartbeat")) == 1
            store.run_in_writer(lambda conn: conn.execute("DROP TABLE heartbeat"))
            answer = client.get("/readyz")
            assert answer.status_code == 503 and "heartbeat" in answer.json()["error"]
    finally:
        store.close()


@pytest.mark.postgres
def test_a_lost_postgresql_connection_is_not_ready_until_it_can_be_opened_again(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    store: Any = open_store(postgres_url)
    try:
        with ExitStack() as stack:
            client = SyncClient(create_app(load_settings({}), store=store), stack)
            assert client.get("/readyz").status_code == 200

            def refused() -> None:
                raise StoreError("cannot connect to PostgreSQL: connection refused")

            monkeypatch.setattr(store, "_connect", refused)
            pid = store._wconn.info.backend_pid
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                # Wait for the backend to have gone: pg_terminate_backend only signals it.
                conn.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
                assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() == (0,)
            answer = client.get("/readyz")
            assert answer.status_code == 503 and "cannot connect to PostgreSQL" in answer.json()["error"]
            monkeypatch.undo()
            assert client.get("/readyz").status_code == 200
    finally:
        store.close()
