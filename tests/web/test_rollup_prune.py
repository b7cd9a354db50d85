"""``hangup serve`` prunes minute rollups past ``HANGUP_MINUTE_ROLLUP_DAYS``; the dashboard picks buckets it keeps."""

from __future__ import annotations

import time

import pytest
from receiver_helpers import ClientFactory

from hangup.stats import traffic
from hangup.stats.buckets import DAY, HOUR
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.rollups import TABLE
from hangup.stats.windows import Window
from hangup.store.base import Store
from hangup.web.dashboard import auto_bucket


def _minute_rows(db: StatsDB, before: int) -> int:
    return int(db.reader().execute(f"SELECT COUNT(*) FROM {TABLE} WHERE level = 60 AND bucket < ?",
                                   (before,)).fetchone()[0])


def _levels(db: StatsDB) -> dict[int, int]:
    rows = db.reader().execute(f"SELECT level, COUNT(*) FROM {TABLE} GROUP BY level").fetchall()
    return {int(level): int(count) for level, count in rows}


@pytest.mark.parametrize(
    ("env", "old_minutes_left"),
    [
        ({}, False),  # the default, 8 days: the calls of 20 days ago lose their minute rows
        ({"HANGUP_MINUTE_ROLLUP_DAYS": "30"}, True),
        ({"HANGUP_MINUTE_ROLLUP_DAYS": "0"}, True),
    ],
)
def test_serving_prunes_old_minute_rows_at_start(make_client: ClientFactory, fresh_store: Store,
                                                 env: dict[str, str], old_minutes_left: bool) -> None:
    now = int(time.time())
    attach_rollups(fresh_store)
    fresh_store.add_many(list(traffic.generate(300, now - 21 * DAY, now - 20 * DAY, seed=8)))
    fresh_store.add_many(list(traffic.generate(100, now - 3 * HOUR, now - 60, seed=9)))
    db = StatsDB(fresh_store.url)
    try:
        recent = _minute_rows(db, now) - _minute_rows(db, now - 10 * DAY)
        before = _levels(db)
        client = make_client(**env)
        deadline = time.monotonic() + 10
        while _minute_rows(db, now - 10 * DAY) and time.monotonic() < deadline and not old_minutes_left:
            time.sleep(0.05)
        if old_minutes_left:
            time.sleep(0.5)  # time enough for a prune that should not happen to show
        assert client.get("/api/stats/summary?range=1h").status_code == 200
        after = _levels(db)
        assert bool(_minute_rows(db, now - 10 * DAY)) is old_minutes_left
        assert _minute_rows(db, now) - _minute_rows(db, now - 10 * DAY) == recent > 0
        assert {level: after[level] for level in (3600, 86400)} == {level: before[level] for level in (3600, 86400)}
    finally:
        db.close()


NOW = 1_800_001_234
HORIZON = NOW - NOW % HOUR - 8 * DAY


@pytest.mark.parametrize(
    ("window", "horizon", "bucket"),
    [
        (Window(NOW - HOUR, NOW), HORIZON, "minute"),
        (Window(HORIZON, HORIZON + HOUR), HORIZON, "minute"),
        (Window(HORIZON - 60, HORIZON + HOUR), HORIZON, "hour"),  # minute rows before the horizon are gone
        (Window(NOW - 30 * DAY, NOW - 30 * DAY + HOUR), HORIZON, "hour"),
        (Window(NOW - 30 * DAY, NOW - 30 * DAY + HOUR), None, "minute"),  # HANGUP_MINUTE_ROLLUP_DAYS=0
        (Window(NOW - DAY, NOW), HORIZON, "hour"),
        (Window(NOW - 30 * DAY, NOW), HORIZON, "day"),
    ],
)
def test_dashboard_bucket_follows_the_minute_retention(window: Window, horizon: int | None, bucket: str) -> None:
    assert auto_bucket(window, horizon) == bucket
