"""Rollup shards: nodes sharing one PostgreSQL database add to rows of their own and are read as one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hangup.composition import open_store
from hangup.stats import rollups, traffic
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.service import StatsService
from hangup.stats.windows import Window

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
