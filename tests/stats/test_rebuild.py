"""``hangup rollups rebuild`` gives exactly the rollup rows the live writes gave, capped dimensions included:
the same per-day cap, the same values folded, under the same ``OTHER``; on both stores and write paths."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from hangup.composition import open_store
from hangup.records import CallRecord
from hangup.stats import raw, rebuild, rollup_reads, rollups
from hangup.stats.buckets import DAY
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.dimensions import CAPS, OTHER
from hangup.stats.windows import Window
from hangup.store import sql
from hangup.store.base import Store

DAY_START = 1_700_006_400  # a UTC midnight
BASE = CallRecord(id="x", provider="generic", provider_call_id="x", from_service_id="", from_user_id="a",
                  to_service_id="", to_user_id="b", call_type="A", setup_time=0, start_time=0,
                  end_time=DAY_START, duration=0, answered=False, outcome="busy", fault="none", normal=True)


def _calls(routes: Sequence[str], days: int = 2) -> list[CallRecord]:
    """A call per route and day, received in the order given; the calls of a day end in another order (the
    minute a value first appears in is not the order it was received in)."""
    out = []
    step = (DAY - 3600) // len(routes)  # seconds between two calls of a day: all of them end within it
    for day in range(days):
        for n, route in enumerate(routes):
            call_id = f"{day}-{n}-{route}"
            out.append(replace(BASE, id=call_id, provider_call_id=call_id, route=route,
                               end_time=DAY_START + day * DAY + (len(routes) - n) * step,
                               received_at=1_800_000_000.0 + day * DAY + n))
    return out


def _one_by_one(store: Store, calls: list[CallRecord]) -> None:
    async def each() -> None:
        for call in calls:
            await store.add(call)

    asyncio.run(each())


Write = Callable[[Store, list[CallRecord]], object]


def _batches(write: Write, size: int) -> Write:
    def run(store: Store, calls: list[CallRecord]) -> None:
        for start in range(0, len(calls), size):
            write(store, calls[start:start + size])
    return run


def _many(store: Store, calls: list[CallRecord]) -> object:
    return store.add_many(calls)


def _rows(store: Store, calls: list[CallRecord]) -> object:
    return store.add_rows([(*sql.record_row(call)[:-1], "") for call in calls])  # as a bulk import brings them


SHUFFLED = ["m", "c", "x", "a", "c", "q", "b", "m", "z", "d", "a", "e"]  # 9 distinct values, repeats between
IN_ORDER = [f"route-{n:05d}" for n in range(CAPS["route"] + 50)]  # received in their values' order
# (write path, routes received in this order, the route cap: None keeps the shipped one)
CASES: list[tuple[str, Write, list[str], int | None]] = [
    ("add one by one", _one_by_one, SHUFFLED, 4),
    ("add_many, batches whose values come in order", _batches(_many, 3), sorted(SHUFFLED), 4),
    ("add_rows, batches whose values come in order", _batches(_rows, 5), sorted(SHUFFLED), 4),
    ("add_many, the shipped cap", _batches(_many, 500), IN_ORDER, None),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path}/calls.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = open_store(url)
    attach_rollups(store)
    yield store
    store.close()


def _rollup_rows(store: Store) -> list[tuple[object, ...]]:
    with store.database.reading() as conn:  # type: ignore[attr-defined]
        return [tuple(row) for row in conn.execute(
            f"SELECT * FROM {rollups.TABLE} ORDER BY level, dim, bucket, value").fetchall()]


def _checked(store: Store) -> bool:
    """Whether the route breakdown the rollups keep equals the one counted from the calls, folded as kept (what
    ``hangup rollups check`` compares)."""
    window = Window(DAY_START, DAY_START + 2 * DAY)
    with store.database.reading() as conn:  # type: ignore[attr-defined]
        counted = raw.kept_breakdown(conn, window, "route", store.database.paramstyle)  # type: ignore[attr-defined]
        return bool(counted) and rollup_reads.breakdown(conn, window.start, window.end, "route") == counted


def _route_values(store: Store) -> dict[int, set[str]]:
    with store.database.reading() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(f"SELECT bucket, value FROM {rollups.TABLE} WHERE level = {DAY} AND dim = 'route'")
        found: dict[int, set[str]] = {}
        for bucket, value in rows.fetchall():
            found.setdefault(int(bucket), set()).add(value)
    return found


@pytest.mark.parametrize(("path", "write", "routes", "cap"), CASES, ids=[c[0] for c in CASES])
def test_a_rebuild_gives_the_rows_the_live_writes_gave(
        store: Store, monkeypatch: pytest.MonkeyPatch, path: str, write: Write, routes: list[str],
        cap: int | None) -> None:
    if cap is not None:
        monkeypatch.setitem(CAPS, "route", cap)
    write(store, _calls(routes))
    live = _rollup_rows(store)
    limit = CAPS["route"]
    distinct = sorted(set(routes))
    days = _route_values(store)
    assert len(days) == 2 and store.count() == 2 * len(routes)
    for values in days.values():  # each day: the cap's first values received, the rest folded
        assert OTHER in values and len(values) == limit + 1
        assert values - {OTHER} == set(list(dict.fromkeys(routes))[:limit]) != set(distinct)
    assert _checked(store)
    db = StatsDB(store.url)
    try:
        assert rebuild.rebuild(db) == len(live)
    finally:
        db.close()
    assert _rollup_rows(store) == live
    assert _checked(store)
