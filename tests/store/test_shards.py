"""Writer shards: a node's writer holds a number of its own while it lives, and beats on the ``heartbeat`` row
of that number, so nodes sharing one PostgreSQL database never wait on each other to answer ``/readyz``."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack, closing
from typing import Any

import psycopg
import pytest
from store_fixtures import backend_fixture, store_url_fixture  # noqa: F401

from hangup.composition import MIGRATIONS, open_store
from hangup.store.postgres_writes import ping
from hangup.store.shards import writer_shard
from hangup.store.url import parse_url

#: The database as the releases before per-writer heartbeats left it: one row, id 1, rewritten by every node.
BEFORE_PER_WRITER = [m for m in MIGRATIONS if m.name != "0310_heartbeat_per_writer"]


def _shard(node: Any, postgres: bool = True) -> int:
    shard: int = node.run_in_writer(lambda conn: writer_shard(conn, postgres))
    return shard


def _row_versions(url: str) -> dict[int, str]:
    """Each heartbeat row's shard (its ``id``) and the transaction that last wrote it."""
    with psycopg.connect(parse_url(url).conninfo) as conn:
        return dict(conn.execute("SELECT id, xmin::text FROM heartbeat").fetchall())


def _nodes(stack: ExitStack, url: str, count: int) -> list[Any]:
    return [stack.enter_context(closing(open_store(url))) for _ in range(count)]


@pytest.mark.postgres
def test_a_closed_writers_shard_is_taken_again(postgres_url: str) -> None:
    open_store(postgres_url).close()  # the schema
    conninfo = parse_url(postgres_url).conninfo
    first, second = psycopg.connect(conninfo), psycopg.connect(conninfo)
    try:
        assert [writer_shard(first, True), writer_shard(second, True)] == [0, 1]
        assert writer_shard(first, True) == 0  # held for the connection's life
        pid = first.info.backend_pid
        first.close()
        with psycopg.connect(conninfo, autocommit=True) as watcher:
            for _ in range(500):  # the server ends the closed session (and frees its locks) a moment later
                if not watcher.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                    break
                time.sleep(0.01)
        with psycopg.connect(conninfo) as third:
            assert writer_shard(third, True) == 0
    finally:
        second.close()


@pytest.mark.postgres
def test_each_node_beats_on_a_row_of_its_own(postgres_url: str) -> None:
    with ExitStack() as stack:
        nodes = _nodes(stack, postgres_url, 3)
        for node in nodes:
            node.ping()
        shards = [_shard(node) for node in nodes]
        before = _row_versions(postgres_url)
        assert sorted(before) == sorted(shards) == [0, 1, 2]
        nodes[1].ping()
        after = _row_versions(postgres_url)
        assert [s for s in shards if after[s] != before[s]] == [shards[1]]


@pytest.mark.postgres
def test_a_beat_held_open_by_one_node_does_not_hold_up_the_others(postgres_url: str) -> None:
    with ExitStack() as stack:
        nodes = _nodes(stack, postgres_url, 3)
        for node in nodes:
            node.ping()  # every row exists, so the held beat below is an update holding its row's lock
        for node in nodes[1:]:  # a lock wait fails their beats instead of hanging the test
            node.run_in_writer(lambda conn: conn.execute("SET lock_timeout = '100ms'"))
        beaten, release = threading.Event(), threading.Event()

        def beat_and_hold(conn: Any) -> None:
            ping(conn.cursor(), None)  # the writer's own beat, its transaction left open until released
            beaten.set()
            release.wait(60)

        holder = threading.Thread(target=nodes[0].run_in_writer, args=(beat_and_hold,))
        holder.start()
        stack.callback(holder.join)
        stack.callback(release.set)
        assert beaten.wait(60)
        with psycopg.connect(parse_url(postgres_url).conninfo) as other:
            other.execute("SET lock_timeout = '100ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):  # the held beat does hold a row
                other.execute("UPDATE heartbeat SET beat_at = 0")
        before = _row_versions(postgres_url)
        for node in nodes[1:]:
            node.ping()
        after = _row_versions(postgres_url)
        assert sorted(s for s in after if after[s] != before[s]) == sorted(_shard(node) for node in nodes[1:])


def _earlier_release_beat(conn: Any) -> None:
    """The beat of the releases before per-writer heartbeats: row 1, whatever the node."""
    conn.execute("INSERT INTO heartbeat (id, beat_at) VALUES (1, 1.0) ON CONFLICT (id) DO UPDATE SET beat_at = 1.0")


def test_an_upgraded_database_keeps_no_row_of_the_one_shared_heartbeat(store_url: str, backend: str) -> None:
    old = open_store(store_url, migrations=BEFORE_PER_WRITER)
    old.run_in_writer(_earlier_release_beat)
    old.close()
    store: Any = open_store(store_url)
    try:
        store.ping()
        store.ping()
        rows = store.database.read("SELECT id, beat_at FROM heartbeat")
        assert [row[0] for row in rows] == [_shard(store, backend == "postgres")] and rows[0][1] > 1.0
        # a node of the earlier release, still running during a rolling upgrade, can still beat (stays ready)
        store.run_in_writer(_earlier_release_beat)
        assert (1, 1.0) in store.database.read("SELECT id, beat_at FROM heartbeat")
    finally:
        store.close()
