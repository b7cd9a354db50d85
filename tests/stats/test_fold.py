"""Capped dimensions keep at most ``cap`` values a day; later new values count under OTHER at every level."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from hangup.composition import open_store
from hangup.records import CallRecord
from hangup.stats import rollups
from hangup.stats.buckets import DAY, HOUR, MINUTE
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import CAPS, OTHER
from hangup.stats.fold import fold, fold_table
from hangup.stats.totals import COUNTERS

DAY_START = 1_700_006_400  # a UTC midnight
BASE = CallRecord(id="x", provider="generic", provider_call_id="x", from_service_id="", from_user_id="a",
                  to_service_id="", to_user_id="b", call_type="A", setup_time=0, start_time=0,
                  end_time=DAY_START + 600, duration=0, answered=False, outcome="busy", fault="none", normal=True)


def _calls(routes: list[str], at: int = DAY_START + 600) -> list[CallRecord]:
    return [replace(BASE, id=f"{route}-{i}-{at}", provider_call_id=f"{route}-{i}-{at}", route=route, end_time=at + i)
            for i, route in enumerate(routes)]


@pytest.fixture(name="conn")
def conn_fixture() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for migration in rollups.MIGRATIONS:  # the table as the migrations leave it (shard column included)
        for statement in migration.statements("sqlite"):
            conn.execute(statement)
    return conn


def _stored(conn: sqlite3.Connection, level: int) -> dict[str, int]:
    rows = conn.execute(f"SELECT value, SUM(attempts) FROM {rollups.TABLE} WHERE dim = 'route' AND level = ? "
                        "GROUP BY value", [level]).fetchall()
    return dict(rows)


def _write(conn: sqlite3.Connection, calls: list[CallRecord], caps: dict[str, int]) -> None:
    rollups._upsert(conn, fold(conn, rollups.aggregate(calls), caps))  # folds again with the default caps: no-op


@pytest.mark.parametrize("level", [MINUTE, HOUR, DAY])
def test_values_beyond_the_days_cap_fold_into_other_at_every_level(conn: sqlite3.Connection, level: int) -> None:
    _write(conn, _calls(["b-carrier", "a-carrier"]), {"route": 3})
    _write(conn, _calls(["c-carrier", "d-carrier", "e-carrier", "a-carrier"], DAY_START + 7200), {"route": 3})
    # the day admitted a and b earlier, c in sorted order; d and e come later and fold; a stays itself
    assert _stored(conn, level) == {"a-carrier": 2, "b-carrier": 1, "c-carrier": 1, OTHER: 2}


def test_a_new_day_admits_new_values(conn: sqlite3.Connection) -> None:
    _write(conn, _calls(["a", "b", "c"]), {"route": 2})
    _write(conn, _calls(["c"], DAY_START + DAY + 60), {"route": 2})
    rows = conn.execute(f"SELECT bucket, value FROM {rollups.TABLE} WHERE dim = 'route' AND level = ? ORDER BY 1, 2",
                        [DAY]).fetchall()
    assert rows == [(DAY_START, OTHER), (DAY_START, "a"), (DAY_START, "b"), (DAY_START + DAY, "c")]


def test_a_staged_batch_folds_in_place(conn: sqlite3.Connection) -> None:
    cap = CAPS["route"]
    routes = [f"r{i:05d}" for i in range(cap + 5)]
    conn.execute(f"CREATE TEMP TABLE staged AS SELECT * FROM {rollups.TABLE} WHERE 0")
    columns = (*rollups.KEY, *COUNTERS)
    conn.executemany(f"INSERT INTO staged ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                     [(*key, *sums) for key, sums in sorted(rollups.aggregate(_calls(routes)).items())])
    fold_table(conn, "staged")
    conn.execute(rollups._upsert_from(conn, "staged"))
    day = _stored(conn, DAY)
    assert len(day) == cap + 1 and day[OTHER] == 5 and sum(day.values()) == len(routes)


def _rebuilt_route_days(url: str) -> dict[str, int]:
    """A day with more routes than the cap, stored without the write hook, then summed by ``apply_source`` (the
    SQL path of bulk imports): the day keeps ``cap`` routes and OTHER, and every call."""
    store = open_store(url)
    cap = CAPS["route"]
    store.add_many(_calls([f"r{i:05d}" for i in range(cap + 3)]))
    db = StatsDB(url)
    try:
        db.write(lambda conn: rollups.apply_source(conn, "calls"))
        rows = db.read(f"SELECT value, attempts FROM {rollups.TABLE} WHERE level = ? AND dim = 'route'", [DAY])
        return {row[0]: int(row[1]) for row in rows}
    finally:
        db.close()
        store.close()


def _check_rebuilt(days: dict[str, int]) -> None:
    assert len(days) == CAPS["route"] + 1 and days[OTHER] == 3 and sum(days.values()) == CAPS["route"] + 3


def test_bulk_sums_fold_on_sqlite(tmp_path: Path) -> None:
    _check_rebuilt(_rebuilt_route_days(f"sqlite:///{tmp_path}/calls.db"))


@pytest.mark.postgres
def test_bulk_sums_fold_on_postgres(postgres_url: str) -> None:
    _check_rebuilt(_rebuilt_route_days(postgres_url))
