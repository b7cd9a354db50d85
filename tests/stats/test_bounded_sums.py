"""A call stored with an absurd duration (before ``hangup.bounds`` refused it) cannot poison its day's sums.

On PostgreSQL the day's ``duration_sum`` overflowed ``bigint`` and every later answered call of that UTC day
failed to store; on SQLite the figure became astronomic. Each call now adds at most ``MAX_DURATION``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hangup.bounds import MAX_DURATION
from hangup.composition import open_store
from hangup.records import CallRecord
from hangup.stats import rebuild
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.service import StatsService
from hangup.stats.windows import Window
from hangup.store.base import AddStatus

DAY = 1_700_006_400  # a UTC midnight


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/calls.db"
    return str(request.getfixturevalue("postgres_url"))


def _answered(n: int, duration: int, setup_time: int | None = None) -> CallRecord:
    sid = f"{n:036d}"
    end = DAY + 3600 + n
    return CallRecord(
        id=sid, provider="planet", provider_call_id=sid, from_service_id="svc", from_user_id="u", to_service_id="svc",
        to_user_id="v", call_type="A", setup_time=end - 40 if setup_time is None else setup_time,
        start_time=end - 30, end_time=end, duration=duration, answered=True, call_end_reason=1004, terminate=16,
        releaser="initiator", cause="planet:1004", outcome="completed", ended_by="caller", fault="none", normal=True,
        raw=f"sid={sid}", received_at=float(end + 1),
    )


@pytest.mark.parametrize(
    ("first", "counted"),
    [(_answered(1, 2**63 - 1), MAX_DURATION),  # the int64 limit
     (_answered(1, 10**15), MAX_DURATION),  # many such calls in a day would overflow too
     (dataclasses.replace(_answered(1, 20), setup_time=1), 20)],  # a time to answer of 54 years
    ids=["int64", "1e15", "huge-tta"],
)
def test_an_absurd_stored_value_does_not_poison_its_day(store_url: str, first: CallRecord, counted: int) -> None:
    store = open_store(store_url)
    attach_rollups(store)
    db = StatsDB(store_url)
    try:
        results = [store.add_many([record])[0].status for record in (first, first, _answered(2, 30), _answered(3, 30))]
        assert results[2:] == [AddStatus.INSERTED, AddStatus.INSERTED]
        window = Window(DAY, DAY + 86400)
        service = StatsService(db, minute_days=0)
        from_rollups = service.summary(window)["totals"]
        assert from_rollups["duration_sum"] == counted + 60
        assert from_rollups["tta_sum"] <= 3 * MAX_DURATION
        rebuild.rebuild(db)  # the raw GROUP BY bounds each call the same way
        assert service.summary(window)["totals"] == from_rollups
    finally:
        db.close()
        store.close()
