"""Top lists read whole weeks and edge days: the same ranking and sums as the raw failed calls, on both stores,
with several writers' shards, after a rebuild, and for a database that had only day rows before (migration)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stats_fixtures import ranked

from hangup.composition import open_store
from hangup.stats import raw, rebuild, rollup_reads, rollups, traffic
from hangup.stats.buckets import DAY, WEEK
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.dimensions import TOPS
from hangup.stats.service import aligned
from hangup.stats.windows import Window

END = 1_727_740_800  # 2024-10-01T00:00:00Z, a Tuesday: weeks (from Thursday) do not start on the range's days
START = END - 20 * 86400
# (start, end) offsets from START: whole weeks with edge days, no whole week, several weeks, unaligned ends
WINDOWS = [(0, 20 * DAY), (DAY, 4 * DAY), (2 * DAY + 5000, 18 * DAY - 5000), (-DAY, 21 * DAY), (9 * DAY, 16 * DAY)]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StatsDB]:
    """20 days of calls stored by two writers (two shards on PostgreSQL), rollups kept by the write hook."""
    if request.param == "sqlite":
        yield from _seeded(f"sqlite:///{tmp_path_factory.mktemp('weeks') / 'calls.db'}")
    else:
        import postgres_helpers

        with postgres_helpers.temporary_schema() as url:
            yield from _seeded(url)


def _seeded(url: str) -> Iterator[StatsDB]:
    stores = [open_store(url), open_store(url)]
    for store in stores:
        attach_rollups(store)
    records = list(traffic.generate(3000, START, END, seed=23, users=30))
    for n, i in enumerate(range(0, len(records), 200)):
        stores[n % 2].add_many(records[i : i + 200])
    stats = StatsDB(url)
    yield stats
    stats.close()
    for store in stores:
        store.close()


def _table(db: StatsDB) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    columns = ", ".join((*rollups.KEY, rollups.SHARD, *rollups.COUNTERS))
    return {tuple(row[:5]): tuple(row[5:]) for row in db.read(f"SELECT {columns} FROM {rollups.TABLE}")}


@pytest.mark.parametrize("offsets", WINDOWS)
@pytest.mark.parametrize("by", TOPS)
@pytest.mark.parametrize("limit", [1, 5, 1000])
def test_top_equals_the_ranking_of_raw_failed_rows(db: StatsDB, offsets: tuple[int, int], by: str, limit: int
                                                   ) -> None:
    window = aligned(Window(START + offsets[0], START + offsets[1]), DAY)
    conn = db.reader()
    found = rollup_reads.top(conn, window.start, window.end, by, limit)
    assert list(found.items()) == list(ranked(raw.breakdown(conn, window, by, db.paramstyle, failed_only=True),
                                               limit).items())
    assert found


def test_week_rows_are_read_and_sum_their_days(db: StatsDB) -> None:
    weeks = db.read(f"SELECT bucket, dim, value, SUM(failed) FROM {rollups.TABLE} WHERE level = ? GROUP BY bucket, "
                    "dim, value", [WEEK])
    assert {row[0] for row in weeks} >= {START - START % WEEK + WEEK, START - START % WEEK + 2 * WEEK}
    for bucket, dim, value, failed in weeks:
        days = db.read(f"SELECT SUM(failed) FROM {rollups.TABLE} WHERE level = ? AND dim = ? AND value = ? "
                       "AND bucket >= ? AND bucket < ?", [DAY, dim, value, bucket, bucket + WEEK])
        assert days[0][0] == failed


def test_rebuild_and_migration_recompute_the_week_rows(db: StatsDB) -> None:
    """A rebuild writes the week rows the hook kept; the migration adds them to a table of day rows only."""
    kept = _table(db)
    summed = _summed_over_shards(kept)
    db.write(lambda conn: conn.cursor().execute(f"DELETE FROM {rollups.TABLE} WHERE level = {WEEK}"))
    assert _table(db) != kept
    migration = next(m for m in rollups.MIGRATIONS if m.name == "0260_stats_rollup_top_weeks")
    db.write(lambda conn: [conn.cursor().execute(s) for s in migration.statements(db.dialect)])
    assert _table(db) == kept  # per shard, as each writer added them
    rebuild.rebuild(db)
    assert _summed_over_shards(_table(db)) == summed


def _summed_over_shards(table: dict[tuple[Any, ...], tuple[Any, ...]]) -> dict[tuple[Any, ...], tuple[int, ...]]:
    out: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for key, sums in table.items():
        before = out.get(key[:4], (0,) * len(sums))
        out[key[:4]] = tuple(a + b for a, b in zip(before, sums, strict=True))
    return out


@pytest.mark.postgres
def test_postgres_knows_how_often_each_level_and_dimension_go_together(postgres_url: str) -> None:
    """The planner reads a dimension's rows at one level as the index range they are (migration 0261)."""
    open_store(postgres_url).close()
    stats = StatsDB(postgres_url)
    try:
        found = stats.read("SELECT stxkind FROM pg_statistic_ext WHERE stxname = ? AND stxnamespace = "
                           "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
                           [f"{rollups.TABLE}_level_dim"])
    finally:
        stats.close()
    assert [row[0] for row in found] == [["m"]]
