"""``run_in_writer``: maintenance runs inside a writer transaction of either back end, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from store_fixtures import backend_fixture, fresh_store_fixture, store_url_fixture  # noqa: F401

from hangup.store.base import Store
from hangup.store.writer import WriterBackedStore

_INSERT = "INSERT INTO stats_rollups (level, dim, bucket, value) VALUES (1, 'task', {bucket}, '')"


def _inserts(*buckets: int, fail: bool = False) -> Any:
    def task(conn: Any) -> int:
        for bucket in buckets:
            conn.execute(_INSERT.format(bucket=bucket))
        if fail:
            raise ValueError("the task failed")
        return len(buckets)

    return task


@pytest.mark.parametrize(
    ("tasks", "kept"),
    [
        ([_inserts(1, 2)], [1, 2]),
        ([_inserts(1), _inserts(2, fail=True), _inserts(3)], [1, 3]),  # a failed task leaves nothing behind
        ([_inserts(4, 5, fail=True)], []),
    ],
)
def test_a_task_commits_with_the_writer_or_not_at_all(fresh_store: Store, tasks: list[Any], kept: list[int]) -> None:
    assert isinstance(fresh_store, WriterBackedStore)
    for task in tasks:
        try:
            assert fresh_store.run_in_writer(task) >= 1
        except ValueError:
            pass
    probe = fresh_store.run_in_writer(
        lambda conn: [row[0] for row in conn.execute(
            "SELECT bucket FROM stats_rollups WHERE dim = 'task' ORDER BY bucket").fetchall()])
    assert probe == kept
