"""Generated traffic with a planted ASR drop: one value of a dimension starts failing in the current window."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from hangup.causes import default_catalog
from hangup.composition import open_store
from hangup.records import CallRecord
from hangup.stats import traffic
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.service import StatsService

NOW_END = 1_700_006_400  # a UTC midnight
NOW_START = NOW_END - 86400
WEEK = 7 * 86400
#: The record field of each dimension a drop can be planted on (``route`` once calls carry one).
FIELD_OF = {"provider": "provider", "route": "route"}
FAILURE = "planet:1021"  # a platform failure: fault platform, not normal


def _tagged(records: Iterator[CallRecord], dim: str, broken: bool) -> Iterator[CallRecord]:
    """Alternate the calls between two values of ``dim``; ``broken``: most of ``b``'s calls fail."""
    cause = default_catalog().resolve(FAILURE)
    for i, record in enumerate(records):
        value = "b" if i % 2 else "a"
        changes: dict[str, object] = {FIELD_OF[dim]: value}
        if broken and value == "b" and i % 10 < 7:
            changes.update(cause=cause.ref, causes=(cause.ref,), outcome=str(cause.outcome),
                           ended_by=str(cause.ended_by), fault=str(cause.fault), normal=False, answered=False,
                           start_time=0, duration=0, call_end_reason=1021, terminate=127, reason=cause.description)
        yield dataclasses.replace(record, **changes)  # type: ignore[arg-type]


def planted(tmp_path: Path, dim: str, calls: int = 3000) -> tuple[str, StatsService, StatsDB]:
    """A store with a baseline week-ago day and a current day in which ``dim`` = ``b`` fails."""
    url = f"sqlite:///{tmp_path}/planted.db"
    store = open_store(url)
    attach_rollups(store)
    try:
        before = traffic.generate(calls, NOW_START - WEEK, NOW_END - WEEK, seed=3, users=50)
        now = traffic.generate(calls, NOW_START, NOW_END, seed=4, users=50)
        for batch in (list(_tagged(before, dim, False)), list(_tagged(now, dim, True))):
            for i in range(0, len(batch), 500):
                store.add_many(batch[i: i + 500])
    finally:
        store.close()
    db = StatsDB(url)
    return url, StatsService(db, minute_days=0), db
