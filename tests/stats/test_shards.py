"""Rollup shards: nodes sharing one PostgreSQL database add to rows of their own and are read as one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hangup.composition import open_store
from hangup.stats import rollups, traffic
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.service import StatsService
from hangup.stats.shards import writer_shard
from hangup.stats.windows import Window
from hangup.store.url import parse_url

pytestmark = pytest.mark.postgres

END = 1_727_740_800  # 2024-10-01T00:00:00Z
START = END - 86400


def _answers(url: str, nodes: int) -> dict[str, Any]:
    """The dashboard's answers after ``nodes`` stores on ``url`` stored the same calls between them."""
    stores = [open_store(url) for _ in range(nodes)]
    for store in stores:
        attach_rollups(store)
    records = list(traffic.generate(1200, START, END, seed=5, users=20))
    for n, i in enumerate(range(0, len(records), 100)):
        stores[n % nodes].add_many(records[i : i + 100])
    db = StatsDB(url)
    try:
        service = StatsService(db)
        window = Window(START + 600, END - 600)
        return {"summary": service.summary(window), "series": service.timeseries(window, "asr", "hour"),
                "outcomes": service.breakdown(window, "outcome"), "top": service.top(window, "user", 5),
                "shards": sorted(r[0] for r in db.read(f"SELECT DISTINCT {rollups.SHARD} FROM {rollups.TABLE}"))}
    finally:
        db.close()
        for store in stores:
            store.close()


def test_three_nodes_write_their_own_shards_and_answer_as_one(postgres_url: str, tmp_path: Path) -> None:
    three = _answers(postgres_url, 3)
    one = _answers(f"sqlite:///{tmp_path}/calls.db", 1)
    assert three.pop("shards") == [0, 1, 2]
    assert one.pop("shards") == [0]
    assert three == one


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
