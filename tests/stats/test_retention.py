"""Minute-rollup retention: the prune deletes old minute rows only, on both back ends, and changes no answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import postgres_helpers
import pytest

from hangup.composition import open_configured_store, open_store
from hangup.errors import PayloadError
from hangup.records import CallRecord
from hangup.settings import BY_NAME, load_settings
from hangup.stats import arrow_rollups, buckets, raw, retention, traffic
from hangup.stats.buckets import DAY, HOUR, MINUTE, ceil, floor
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.rollups import TABLE, RollupHook
from hangup.stats.service import StatsService
from hangup.stats.windows import Window
from hangup.store import Store, staging
from hangup.store import sql as sql_rows
from hangup.store.postgres_schema import lock_key

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
NOW = 1_800_001_234  # not on an hour: the horizon is floored
DAYS = 8
HORIZON = 1_800_001_234 - 1_800_001_234 % HOUR - DAYS * DAY
CUTOFF = HORIZON - HOUR
CHUNK = 300  # small, so one prune takes many chunks across several dimensions
OLD = (NOW - 11 * DAY + 1234, NOW - 10 * DAY + 5678)  # edges on no hour

#: Calls long before the horizon, around it (some in the grace hour) and recent.
CALLS = (
    (1500, NOW - 12 * DAY, NOW - 9 * DAY, 3),
    (600, HORIZON - 3 * HOUR, HORIZON + 3 * HOUR, 4),
    (600, NOW - 2 * DAY, NOW - 60, 5),
)
Ask = Callable[[StatsService], dict[str, Any]]
#: Questions asked before and after the prune; old ranges are the ones minute rows served before widening.
QUESTIONS: dict[str, Ask] = {
    "old summary": lambda s: s.summary(Window(*OLD)),
    "old summary, one rollup filter": lambda s: s.summary(Window(*OLD, {"outcome": "busy"})),
    "old breakdown": lambda s: s.breakdown(Window(*OLD), "call_end_reason"),
    "old hourly series": lambda s: s.timeseries(Window(*OLD), "asr", "hour"),
    "old top list": lambda s: s.top(Window(*OLD), "user", 5),
    "old, from raw rows": lambda s: s.breakdown(Window(*OLD, {"from_user_id": "user0003"}), "outcome"),
    "across the horizon": lambda s: s.summary(Window(HORIZON - 2 * HOUR - 1025, HORIZON + 47 * MINUTE + 3)),
    "within the grace hour": lambda s: s.summary(Window(CUTOFF + 7 * MINUTE, HORIZON + 5 * MINUTE)),
    "recent summary": lambda s: s.summary(Window(NOW - DAY - 1234, NOW - 100)),
    "recent minute series": lambda s: s.timeseries(Window(NOW - 3 * HOUR, NOW), "attempts", "minute"),
}


@dataclass
class Pruned:
    backend: str
    store: Store
    db: StatsDB
    service: StatsService
    before: dict[str, dict[str, Any]]
    rows_before: list[tuple[Any, ...]]
    deleted: int
    writer_ops: int  # operations the store's writer ran during the prune


def _rows(db: StatsDB) -> list[tuple[Any, ...]]:
    cur = db.reader().cursor()
    cur.execute(f"SELECT * FROM {TABLE} ORDER BY level, dim, bucket, value")
    return [tuple(row) for row in cur.fetchall()]


def _seed(url: str, stack: ExitStack) -> Store:
    store = open_store(url)
    stack.callback(store.close)
    attach_rollups(store)
    for count, start, end, seed in CALLS:
        records = list(traffic.generate(count, start, end, seed=seed, users=20))
        for i in range(0, len(records), 250):
            store.add_many(records[i : i + 250])
    return store


@pytest.fixture(scope="module", params=BACKENDS, name="pruned")
def pruned_fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pruned]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('retention')}/calls.db"
        else:
            url = stack.enter_context(postgres_helpers.temporary_schema())
        store = _seed(url, stack)
        db = StatsDB(url)
        stack.callback(db.close)
        service = StatsService(db, minute_days=DAYS, clock=lambda: NOW)
        before = {name: ask(service) for name, ask in QUESTIONS.items()}
        rows_before = _rows(db)
        ops = store.writer_stats().events
        deleted = retention.prune(store, DAYS, NOW, rows=CHUNK)
        yield Pruned(request.param, store, db, service, before, rows_before, deleted,
                     store.writer_stats().events - ops)


def _kept(rows: list[tuple[Any, ...]], level: int, lo: int, hi: int) -> list[tuple[Any, ...]]:
    return [row for row in rows if row[0] == level and lo <= row[2] < hi]


@pytest.mark.parametrize(
    ("rows", "level", "lo", "hi", "kept"),
    [
        ("minute rows before the horizon's grace hour", MINUTE, 0, CUTOFF, False),
        ("minute rows of the grace hour", MINUTE, CUTOFF, HORIZON, True),
        ("recent minute rows", MINUTE, HORIZON, NOW, True),
        ("hour rows of old calls", HOUR, 0, CUTOFF, True),
        ("recent hour rows", HOUR, CUTOFF, NOW, True),
        ("day rows (and the daily top lists)", DAY, 0, NOW, True),
    ],
)
def test_prune_deletes_old_minute_rows_only(pruned: Pruned, rows: str, level: int, lo: int, hi: int,
                                            kept: bool) -> None:
    before = _kept(pruned.rows_before, level, lo, hi)
    after = _kept(_rows(pruned.db), level, lo, hi)
    assert before, f"the seeded calls leave no {rows}"
    assert after == (before if kept else [])


def test_prune_reports_what_it_deleted_and_a_second_run_finds_nothing(pruned: Pruned) -> None:
    assert pruned.deleted == len(_kept(pruned.rows_before, MINUTE, 0, CUTOFF)) > 5 * CHUNK
    assert len(_rows(pruned.db)) == len(pruned.rows_before) - pruned.deleted
    assert retention.prune(pruned.store, DAYS, NOW) == 0


@pytest.mark.parametrize("name", QUESTIONS)
def test_answers_are_the_same_after_pruning(pruned: Pruned, name: str) -> None:
    assert QUESTIONS[name](pruned.service) == pruned.before[name]


@pytest.mark.parametrize("name", [n for n in QUESTIONS if "summary" in n or n.startswith(("across", "within"))])
def test_answers_count_the_calls_of_the_range_they_report(pruned: Pruned, name: str) -> None:
    answer = pruned.before[name]
    window = Window(answer["from"], answer["to"], answer["filters"])
    assert answer["totals"] == raw.totals(pruned.db.reader(), window, pruned.db.paramstyle).to_json()


def test_old_edges_are_read_to_whole_hours(pruned: Pruned) -> None:
    answer = pruned.before["old summary"]
    assert (answer["from"], answer["to"]) == (OLD[0] - OLD[0] % HOUR, OLD[1] - OLD[1] % HOUR + HOUR)
    recent = pruned.before["recent summary"]
    assert (recent["from"], recent["to"]) == (floor(NOW - DAY - 1234, MINUTE), ceil(NOW - 100, MINUTE))
    assert recent["to"] % HOUR != 0


def test_minute_exact_old_ranges_would_have_changed(pruned: Pruned) -> None:
    """Why old edges are widened: read to the minute, an old range loses its edge minutes to the prune."""
    exact = StatsService(pruned.db, minute_days=0).summary(Window(*OLD))
    counted = raw.totals(pruned.db.reader(), Window(exact["from"], exact["to"]), pruned.db.paramstyle)
    assert 0 < exact["totals"]["attempts"] < counted.attempts


def _largest_minute(rows: list[tuple[Any, ...]]) -> int:
    """The most minute rows one dimension has in one minute (a chunk may finish a minute it started)."""
    per_minute: dict[tuple[str, int], int] = {}
    for row in rows:
        if row[0] == MINUTE:
            per_minute[row[1], row[2]] = per_minute.get((row[1], row[2]), 0) + 1
    return max(per_minute.values())


def test_sqlite_prunes_through_the_store_writer(pruned: Pruned) -> None:
    chunks = pruned.deleted // (CHUNK + _largest_minute(pruned.rows_before))
    if pruned.backend == "sqlite":  # every chunk, and the last one that found nothing, was a writer operation
        assert pruned.writer_ops >= chunks + 1 > 5
    else:  # PostgreSQL prunes on a connection of its own, like the partition maintenance
        assert pruned.writer_ops == 0


# -- chunks, horizons, refusals -------------------------------------------------------------
@pytest.mark.parametrize("rows", [10, 250, 10**6])
def test_each_chunk_deletes_at_most_its_rows_or_one_minute(tmp_path: Path, rows: int) -> None:
    url = f"sqlite:///{tmp_path}/calls.db"
    with ExitStack() as stack:
        _seed(url, stack)
        db = StatsDB(url)
        stack.callback(db.close)
        old = _kept(_rows(db), MINUTE, 0, CUTOFF)
        largest = _largest_minute(old)
        conn = db.connect()
        stack.callback(conn.close)
        chunks = []
        while True:
            conn.execute("BEGIN IMMEDIATE")
            chunks.append(retention.prune_chunk(conn, CUTOFF, rows))
            conn.execute("COMMIT")
            if not chunks[-1]:
                break
        assert sum(chunks) == len(old) and not _kept(_rows(db), MINUTE, 0, CUTOFF)
    assert max(chunks) < rows + largest  # the budget, or past it by less than the minute a dimension began
    assert len(chunks) > len(old) // (rows + largest)


@pytest.mark.parametrize(
    ("now", "days", "horizon", "cutoff"),
    [
        (NOW, 8, HORIZON, HORIZON - HOUR),
        (NOW - NOW % HOUR, 8, HORIZON, HORIZON - HOUR),  # already on an hour
        (NOW, 1, NOW - NOW % HOUR - DAY, NOW - NOW % HOUR - DAY - HOUR),
        (NOW, 0, None, None),  # 0 keeps every minute row
    ],
)
def test_horizon_and_prune_cutoff(now: int, days: int, horizon: int | None, cutoff: int | None) -> None:
    assert buckets.horizon(now, days) == horizon
    assert buckets.prune_before(now, days) == cutoff


@pytest.mark.parametrize(
    ("start", "end", "widened"),
    [
        (HORIZON + 60, HORIZON + 120, (HORIZON + 60, HORIZON + 120)),  # recent: exact to the minute
        (HORIZON - 60, HORIZON + 120, (HORIZON - HOUR, HORIZON + 120)),  # only the old end moves
        (HORIZON - 7200 + 60, HORIZON - 60, (HORIZON - 7200, HORIZON)),  # both old: outwards to hours
        (HORIZON - HOUR, HORIZON, (HORIZON - HOUR, HORIZON)),  # already whole hours
    ],
)
def test_widen_moves_old_ends_out_to_whole_hours(start: int, end: int, widened: tuple[int, int]) -> None:
    assert buckets.widen(start, end, HORIZON) == widened
    assert buckets.widen(start, end, None) == (start, end)


@pytest.mark.parametrize(
    ("window", "bucket", "refused"),
    [
        (Window(NOW - 3 * HOUR, NOW), "minute", False),
        (Window(HORIZON, HORIZON + HOUR), "minute", False),
        (Window(HORIZON - MINUTE, HORIZON + HOUR), "minute", True),
        (Window(*OLD), "minute", True),
        (Window(*OLD), "hour", False),
        (Window(*OLD, {"from_user_id": "user0003"}), "minute", True),  # the same rule for raw answers
    ],
)
def test_minute_buckets_only_within_the_retention(pruned: Pruned, window: Window, bucket: str,
                                                  refused: bool) -> None:
    if not refused:
        assert pruned.service.timeseries(window, "attempts", bucket)["points"]
        return
    with pytest.raises(PayloadError) as info:
        pruned.service.timeseries(window, "attempts", bucket)
    assert info.value.status == 400 and info.value.details[0]["field"] == "bucket"
    assert StatsService(pruned.db, minute_days=0).timeseries(window, "attempts", bucket)["points"]


def test_default_retention_is_the_settings_default() -> None:
    assert int(BY_NAME["minute_rollup_days"].default) == retention.DEFAULT_DAYS == StatsService.minute_days


@pytest.mark.postgres
def test_a_postgres_node_skips_the_prune_while_another_holds_it(postgres_url: str) -> None:
    with ExitStack() as stack:
        store = _seed(postgres_url, stack)
        db = StatsDB(postgres_url)
        stack.callback(db.close)
        before = _rows(db)
        other = db.connect()
        stack.callback(other.close)
        schema = other.execute("SELECT current_schema()").fetchone()[0]
        with other.transaction():
            other.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("minute-rollups", schema),))
            assert retention.prune(store, DAYS, NOW) == 0
            assert _rows(db) == before
        assert retention.prune(store, DAYS, NOW) == len(_kept(before, MINUTE, 0, CUTOFF)) > 0


_WRITE_PATHS: dict[str, list[str]] = {"sqlite": ["records", "rows", "staged, summed by the reader",
                                                 "staged, summed in SQL"], "postgres": ["records", "rows"]}


def _write(store: Store, path: str, records: list[CallRecord], folder: Path) -> None:
    rows = [sql_rows.record_row(r) for r in records]
    if path == "records":
        store.add_many(records)
    elif path == "rows":
        store.add_rows(rows)
    else:
        table, staged = staging.rows_table(rows), folder / "batch.stage"
        staging.write(str(staged), table, arrow_rollups.aggregate(table) if "reader" in path else None)
        store.add_staged(str(staged))  # type: ignore[attr-defined]
        staged.unlink()


def test_minute_rows_the_prune_would_delete_are_not_written(pruned: Pruned, tmp_path: Path) -> None:
    """A store whose hook knows the retention writes, by every path a call is stored, the rows a store
    that wrote every minute row holds once pruned."""
    expected = [row for row in pruned.rows_before if row[0] != MINUTE or row[2] >= CUTOFF]
    assert len(expected) < len(pruned.rows_before)
    for n, path in enumerate(_WRITE_PATHS[pruned.backend]):
        with ExitStack() as stack:
            if pruned.backend == "sqlite":
                url = f"sqlite:///{tmp_path}/calls{n}.db"
            else:
                url = stack.enter_context(postgres_helpers.temporary_schema())
            store = open_store(url)
            stack.callback(store.close)
            store.add_write_hook(RollupHook(DAYS, clock=lambda: NOW))
            for count, start, end, seed in CALLS:
                records = list(traffic.generate(count, start, end, seed=seed, users=20))
                for i in range(0, len(records), 250):
                    _write(store, path, records[i : i + 250], tmp_path)
            db = StatsDB(url)
            stack.callback(db.close)
            assert _rows(db) == expected, path


@pytest.mark.parametrize(("days", "minute_rows"), [("8", False), ("0", True)])
def test_a_configured_store_writes_old_minute_rows_only_if_they_are_kept(
        tmp_path: Path, days: str, minute_rows: bool) -> None:
    settings = load_settings({"HANGUP_DB": f"sqlite:///{tmp_path}/calls.db", "HANGUP_MINUTE_ROLLUP_DAYS": days})
    store = open_configured_store(settings)
    try:
        ended = int(time.time()) - 30 * DAY
        store.add_many(list(traffic.generate(20, ended - HOUR, ended, seed=1)))
        db = StatsDB(settings.db)
        levels = {row[0] for row in _rows(db)}
        db.close()
    finally:
        store.close()
    assert {HOUR, DAY} <= levels and (MINUTE in levels) is minute_rows
