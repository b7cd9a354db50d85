"""A store seeded once per module with generated traffic, its rollups kept by the write hook.

Test modules import these fixtures by name (a second ``conftest.py`` would shadow the root one's helpers).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hangup.composition import open_store
from hangup.records import CallRecord
from hangup.stats import traffic
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.service import StatsService
from hangup.stats.totals import Totals
from hangup.store import Store

END = 1_700_006_400  # a UTC midnight
START = END - 3 * 86400


@pytest.fixture(scope="session", name="span")
def span_fixture() -> tuple[int, int]:
    """``(start, end)`` of the seeded traffic."""
    return START, END


@pytest.fixture(scope="module", name="seeded")
def seeded_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, StatsService, list[CallRecord]]]:
    path: Path = tmp_path_factory.mktemp("stats") / "calls.db"
    url = f"sqlite:///{path}"
    store = open_store(url)
    attach_rollups(store)
    records = list(traffic.generate(4000, START, END, seed=11, users=40))
    for i in range(0, len(records), 300):  # several batches, as the writer commits them
        store.add_many(records[i : i + 300])
    db = StatsDB(url)
    yield store, StatsService(db, minute_days=0), records  # never pruned: every range is exact to the minute
    db.close()
    store.close()


def ranked(found: dict[str, Totals], limit: int) -> dict[str, Totals]:
    """The ``limit`` values with the most failed calls (ties by value), as ``rollup_reads.top`` ranks them."""
    return {value: found[value] for _, value in sorted((-t.failed, value) for value, t in found.items())[:limit]}
