"""Rollups kept by the write hook equal the same figures counted from raw rows, for any range and filter."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stats_fixtures import ranked, seeded_fixture, span_fixture  # noqa: F401

from hangup.records import CallRecord
from hangup.stats import raw, rebuild, rollup_reads, rollups
from hangup.stats.dimensions import BREAKDOWNS, TOPS
from hangup.stats.service import StatsService, aligned
from hangup.stats.totals import Totals, call_time
from hangup.stats.windows import Window
from hangup.store import Store

Seeded = tuple[Store, StatsService, list[CallRecord]]
# offsets from the start of the seeded traffic (3 days) and lengths, in seconds
RANGES = st.tuples(st.integers(-3600, 3 * 86400), st.integers(60, 4 * 86400))
FILTERS = st.sampled_from(
    [
        {},
        {"outcome": "busy"},
        {"call_end_reason": "1005"},
        {"provider": "callcenter"},
        {"service": "svc-meet"},
        {"fault": "network"},
        {"terminate": "16"},
        {"call_type": "V"},
    ]
)
HYPO = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _python_totals(records: list[CallRecord], start: int, end: int) -> Totals:
    return Totals.of(r for r in records if start <= call_time(r) < end)


@HYPO
@given(rng=RANGES, filters=FILTERS)
def test_totals_from_rollups_equal_raw_rows(
    seeded: Seeded, span: tuple[int, int], rng: tuple[int, int], filters: dict[str, str]
) -> None:
    _, service, _ = seeded
    start = span[0] + rng[0]
    window = aligned(Window(start, start + rng[1], filters))
    from_rollups, source = service.totals(window)
    assert source == "rollups"
    assert from_rollups == raw.totals(service.db.reader(), window, "qmark")


@HYPO
@given(rng=RANGES, by=st.sampled_from(BREAKDOWNS))
def test_breakdowns_from_rollups_equal_raw_rows(
    seeded: Seeded, span: tuple[int, int], rng: tuple[int, int], by: str
) -> None:
    _, service, _ = seeded
    start = span[0] + rng[0]
    window = aligned(Window(start, start + rng[1]))
    conn = service.db.reader()
    assert rollup_reads.breakdown(conn, window.start, window.end, by) == raw.breakdown(conn, window, by, "qmark")


@pytest.mark.parametrize("by", TOPS)
def test_top_lists_equal_raw_failed_rows(seeded: Seeded, span: tuple[int, int], by: str) -> None:
    _, service, _ = seeded
    START, END = span
    window = aligned(Window(START + 5000, END - 5000), 86400)
    conn = service.db.reader()
    from_rollups = rollup_reads.breakdown(conn, window.start, window.end, by)
    assert from_rollups == raw.breakdown(conn, window, by, "qmark", failed_only=True)
    assert all(t.failed == t.attempts for t in from_rollups.values())


@pytest.mark.parametrize("by", TOPS)
@pytest.mark.parametrize("limit", [1, 3, 10, 1000])
@pytest.mark.parametrize("offsets", [(0, 0), (5000, -5000), (86400, 0), (-90000, 90000)])
def test_top_equals_the_ranking_of_raw_failed_rows(
    seeded: Seeded, span: tuple[int, int], by: str, limit: int, offsets: tuple[int, int]
) -> None:
    _, service, _ = seeded
    window = aligned(Window(span[0] + offsets[0], span[1] + offsets[1]), 86400)
    conn = service.db.reader()
    found = rollup_reads.top(conn, window.start, window.end, by, limit)
    expected = ranked(raw.breakdown(conn, window, by, "qmark", failed_only=True), limit)
    assert list(found.items()) == list(expected.items())
    assert 0 < len(found) <= limit


@pytest.mark.parametrize("bucket", ["minute", "hour", "day"])
def test_series_equal_raw_rows(seeded: Seeded, span: tuple[int, int], bucket: str) -> None:
    _, service, _ = seeded
    END = span[1]
    window = Window(END - 86400 - 1234, END - 777, {"outcome": "completed"})
    from_rollups = service.timeseries(window, "asr", bucket)
    from_raw = service.timeseries(Window(window.start, window.end, {**window.filters, "normal": "true"}), "asr", bucket)
    assert from_rollups["source"] == "rollups" and from_raw["source"] == "raw"
    # completed calls are all normal, so adding normal=true changes the path, never the figures
    assert from_rollups["points"] == from_raw["points"]


def test_rollups_equal_figures_computed_in_python(seeded: Seeded, span: tuple[int, int]) -> None:
    _, service, records = seeded
    START, END = span
    window = aligned(Window(START + 7777, END - 3333))
    assert service.totals(window)[0] == _python_totals(records, window.start, window.end)


def _table(service: StatsService) -> list[Any]:
    cur = service.db.reader().cursor()
    cur.execute(f"SELECT * FROM {rollups.TABLE} ORDER BY level, dim, bucket, value")
    return cur.fetchall()


def test_rebuild_recomputes_exactly_what_the_hook_kept(seeded: Seeded) -> None:
    _, service, _ = seeded
    incremental = _table(service)
    assert len(incremental) > 1000
    assert rebuild.rebuild(service.db) == len(incremental)
    assert _table(service) == incremental


def test_repeated_deliveries_are_counted_once(seeded: Seeded, span: tuple[int, int]) -> None:
    store, service, records = seeded
    START, END = span
    window = aligned(Window(START - 86400, END + 86400))
    before = service.totals(window)[0]
    results = store.add_many(records[:50])
    assert {r.status for r in results} == {"duplicate"}
    assert service.totals(window)[0] == before == Totals.of(records)


def test_a_failed_batch_leaves_no_rollups(tmp_path: Any, span: tuple[int, int]) -> None:
    from hangup.composition import open_store
    from hangup.stats import traffic
    from hangup.stats.db import StatsDB, attach_rollups

    url = f"sqlite:///{tmp_path}/c.db"
    store = open_store(url)
    attach_rollups(store)
    attach_rollups(store)  # idempotent: one hook

    def boom(conn: Any, inserted: Any) -> None:
        if any(r.id.endswith("-3") for r in inserted):
            raise RuntimeError("later hook failed")

    store.add_write_hook(boom)
    START, END = span
    calls = list(traffic.generate(5, START, END, seed=3))
    results = []
    for call in calls:
        try:
            results.append(store.add_many([call])[0].status)
        except RuntimeError:
            results.append("failed")
    db = StatsDB(url)
    try:
        totals = rollup_reads.totals(db.reader(), START - 60, END + 60)
        assert results.count("failed") == 1
        assert totals.attempts == 4 == store.count()
    finally:
        db.close()
        store.close()
