"""``PostgresStore.add_rows`` (COPY, set-based statements) stores a batch exactly as ``add_many`` does.

Each case stores some calls first, then one batch: once through ``add_many`` (the reference) and once as
rows through the COPY path, each into a schema of its own, and compares every answer, the stored calls,
the conflicts with their differences, what a plain hook saw and the rollups. The calls stored first are
stored as ``add_many`` stores them, or as an import stores them (rows without a digest).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import postgres_helpers
import psycopg
import pytest
from test_sqlite import call

from hangup.composition import MIGRATIONS
from hangup.records import CallRecord
from hangup.stats import arrow_rollups, raw, rollup_reads, rollups
from hangup.stats.buckets import DAY, MINUTE
from hangup.stats.db import StatsDB
from hangup.stats.dimensions import ALL
from hangup.stats.windows import Window
from hangup.store import postgres_bulk_load as bulk_load
from hangup.store import sql, staging
from hangup.store.base import CallQuery, CopyBatch, StagedResult
from hangup.store.copy_batch import from_tables
from hangup.store.postgres import PostgresStore
from hangup.store.url import parse_url

pytestmark = pytest.mark.postgres

#: The rollup hook's clock: minute rows before 2024-03-12 12:00 (8 days earlier) are not written.
NOW = datetime(2024, 3, 20, 12, tzinfo=UTC).timestamp()


def at(year: int, month: int, day: int = 15, second: int = 0) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp()) + second


def ended(n: int, when: int, **changes: Any) -> CallRecord:
    return call(n, **{"setup_time": when - 40, "start_time": when - 30, "end_time": when,
                      "received_at": when + 1.0, **changes})


def imported(record: CallRecord) -> sql.Row:
    """The row of ``record`` as an import brings it: without a digest."""
    return (*sql.record_row(record)[:-1], "")


MARCH = at(2024, 3)
AWKWARD = {
    "raw": "a\tb\nc\r\\N\\.\x00'\"é😀",
    "reason": "quote ' \" backslash \\ tab \t newline \n end",
    "stid": "\\N",
    "user_rel_code": "\x00",
    "rel_code_str": "ünïcödé \u2028 \\x00",
    "extra": {"k\t": "v\n\\", "nul": "a\x00b", "empty": "", "q": "\"'"},
}

_WITHOUT_NUL = {name: value.replace("\x00", "") if isinstance(value, str) else
                {k: v.replace("\x00", "") for k, v in value.items()} for name, value in AWKWARD.items()}

CASES: dict[str, tuple[list[CallRecord], list[CallRecord]]] = {
    "all new": ([], [ended(1, MARCH), ended(2, MARCH + 61, answered=False, normal=False, fault="network"),
                     ended(3, MARCH + 3600, outcome="busy", normal=False, fault="callee")]),
    "repeats of stored calls": ([ended(1, MARCH), ended(2, MARCH)],
                                [ended(2, MARCH, received_at=MARCH + 99.0), ended(1, MARCH), ended(3, MARCH)]),
    "changed repeats": ([ended(1, MARCH), ended(2, MARCH)],
                        [ended(1, MARCH, duration=31, raw="second"), ended(4, MARCH),
                         ended(2, MARCH, extra={"x": "y"}, terminate=None)]),
    "a call twice in one batch": ([], [ended(1, MARCH), ended(2, MARCH), ended(1, MARCH, received_at=MARCH + 5.0),
                                       ended(1, MARCH, duration=99), ended(2, MARCH, stid="other")]),
    "several months": ([ended(5, at(2024, 1))],
                       [ended(1, at(2023, 12, 31)), ended(2, at(2024, 1, 1)), ended(3, at(2024, 2, 29)),
                        ended(4, at(2024, 3, 19)), ended(5, at(2024, 1)), ended(6, -5), ended(7, at(2025, 7))]),
    "text COPY must escape": ([ended(2, MARCH, **AWKWARD)],
                              [ended(1, MARCH, **AWKWARD), ended(2, MARCH, **AWKWARD),
                               ended(3, MARCH, **{**AWKWARD, "raw": "a\ufffdb"}),
                               ended(4, MARCH, from_user_id="ü'\"\\\t", to_user_id="\\N", srcip="1\n2")]),
    "text CSV must quote": ([ended(2, MARCH, **_WITHOUT_NUL)],
                            [ended(1, MARCH, **_WITHOUT_NUL), ended(2, MARCH, **_WITHOUT_NUL),
                             ended(3, MARCH, from_user_id="ü'\"\\\t,", to_user_id="\\N", srcip="1\n2", stid="",
                                   reason='"\n\\.\n', provider_call_id="a,b")]),
    "NUL told from U+FFFD": ([ended(1, MARCH, stid="a\x00b")],
                             [ended(1, MARCH, stid="a\ufffdb"), ended(2, MARCH, stid="c\x00d"),
                              ended(2, MARCH, stid="c\ufffdd"), ended(2, MARCH, stid="c\x00d")]),
    "extra in another order": ([ended(1, MARCH, extra={"a": "1", "b": "2"})],
                               [ended(1, MARCH, extra={"b": "2", "a": "1"}), ended(1, MARCH, extra={"a": "1"})]),
}


@dataclasses.dataclass
class Outcome:
    """Everything a batch left behind in one store."""

    statuses: list[str]
    calls: dict[str, CallRecord]
    conflicts: list[tuple[str, str, dict[str, list[Any]]]]
    seen: list[CallRecord]
    rollups: list[tuple[Any, ...]]


@pytest.fixture
def urls() -> Iterator[tuple[str, str]]:
    with postgres_helpers.temporary_schema() as first, postgres_helpers.temporary_schema() as second:
        yield first, second


def copied(batch: Sequence[CallRecord]) -> CopyBatch | None:
    """The batch as an import's reading process sends it as COPY text (``None``: it sends rows)."""
    table = staging.rows_table([imported(c) for c in batch])
    return from_tables(table, arrow_rollups.aggregate(table))


def store_copied(store: PostgresStore, batch: list[CallRecord]) -> list[str]:
    """Store ``batch`` as an import does with COPY text; the counts as statuses, in the order of ``add_many``'s
    answers sorted."""
    text = copied(batch)
    if text is None:
        return sorted(str(r.status) for r in store.add_rows([imported(c) for c in batch]))
    done = store.add_copied(text)
    return sorted(["inserted"] * done.inserted + ["duplicate"] * done.duplicates + ["conflict"] * done.conflicts)


def run(url: str, stored: list[CallRecord], batch: list[CallRecord], *, stored_as_rows: bool,
        batch_as_rows: bool, batch_as_text: bool = False, plain_hook: bool = True) -> Outcome:
    store = PostgresStore(url, migrations=MIGRATIONS)
    seen: list[CallRecord] = []
    try:
        store.add_write_hook(rollups.RollupHook(minute_days=8, clock=lambda: NOW))
        if stored:
            if stored_as_rows:
                store.add_rows([imported(c) for c in stored])
            else:
                store.add_many(stored)
        if plain_hook:  # a hook that takes records: the rows of a batch of COPY text go through the session table
            store.add_write_hook(lambda conn, records: seen.extend(records))
        if batch_as_text:
            statuses = store_copied(store, batch)
            conflicts = [(c.call_id, c.raw, c.differences) for c in reversed(store.conflicts(limit=1000))]
            return Outcome(statuses, {c.id: c for c in store.iter_calls(CallQuery())}, conflicts, seen,
                           rollup_rows(url))
        results = store.add_rows([imported(c) for c in batch]) if batch_as_rows else store.add_many(batch)
        assert [r.id for r in results] == [c.id for c in batch]
        conflicts = [(c.call_id, c.raw, c.differences) for c in reversed(store.conflicts(limit=1000))]
        return Outcome([str(r.status) for r in results], {c.id: c for c in store.iter_calls(CallQuery())},
                       conflicts, seen, rollup_rows(url))
    finally:
        store.close()


def rollup_rows(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(parse_url(url).conninfo) as conn:
        return conn.execute(f"SELECT * FROM {rollups.TABLE} ORDER BY level, dim, bucket, value").fetchall()


@pytest.mark.parametrize("stored_as_rows", [False, True], ids=["stored by add_many", "stored by an import"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_copy_path_stores_a_batch_as_add_many_does(urls: tuple[str, str], case: str,
                                                      stored_as_rows: bool) -> None:
    stored, batch = CASES[case]
    reference = run(urls[0], stored, batch, stored_as_rows=False, batch_as_rows=False)
    copied = run(urls[1], stored, batch, stored_as_rows=stored_as_rows, batch_as_rows=True)
    assert copied == reference
    first = {}
    for record in [*stored, *batch]:
        first.setdefault(record.id, record)
    assert copied.calls == {cid: _as_stored(c) for cid, c in first.items()}
    assert copied.rollups  # the rollups were written, not left empty on both sides


@pytest.mark.parametrize("plain_hook", [True, False], ids=["a plain hook", "rollups only"])
@pytest.mark.parametrize("stored_as_rows", [False, True], ids=["stored by add_many", "stored by an import"])
@pytest.mark.parametrize("case", list(CASES))
def test_copy_text_stores_a_batch_as_add_many_does(urls: tuple[str, str], case: str, stored_as_rows: bool,
                                                   plain_hook: bool) -> None:
    stored, batch = CASES[case]
    reference = run(urls[0], stored, batch, stored_as_rows=False, batch_as_rows=False, plain_hook=plain_hook)
    text = run(urls[1], stored, batch, stored_as_rows=stored_as_rows, batch_as_rows=True, batch_as_text=True,
               plain_hook=plain_hook)
    assert text == dataclasses.replace(reference, statuses=sorted(reference.statuses))
    assert text.rollups


@pytest.mark.parametrize(
    ("case", "as_text"),
    [("all new", True), ("text CSV must quote", True), ("a call twice in one batch", True), ("changed repeats", True),
     ("several months", False),  # a call ended before 1970: SQL buckets it otherwise
     ("text COPY must escape", False), ("NUL told from U+FFFD", False)],  # NUL: COPY cannot carry it
)
def test_batches_copy_text_cannot_carry_go_as_rows(case: str, as_text: bool) -> None:
    assert (copied(CASES[case][1]) is not None) == as_text


def test_copy_text_lands_in_the_partitions_of_its_months(urls: tuple[str, str]) -> None:
    batch = [ended(1, at(2023, 12, 31)), ended(2, at(2024, 2, 29)), ended(3, at(2025, 7))]
    text = copied(batch)
    assert text is not None
    store = PostgresStore(urls[0], migrations=MIGRATIONS)
    try:
        assert store.add_copied(text) == StagedResult(3, 0, 0)
        placed = dict(store.database.read("SELECT id, tableoid::regclass::text FROM calls"))  # noqa: SLF001
    finally:
        store.close()
    assert placed == {call(1).id: "calls_p202312", call(2).id: "calls_p202402", call(3).id: "calls_p202507"}


def _as_stored(record: CallRecord) -> CallRecord:
    """A record as PostgreSQL gives it back: NUL as U+FFFD."""
    def safe(value: Any) -> Any:
        return value.replace("\x00", "\ufffd") if isinstance(value, str) else value

    # extra is kept as JSON text, where NUL is written "\u0000": it reads back as it went in.
    changes = {f.name: safe(getattr(record, f.name)) for f in dataclasses.fields(record)}
    return dataclasses.replace(record, **changes)


def test_the_answers_of_the_cases_are_the_expected_ones() -> None:
    expected = {
        "repeats of stored calls": ["duplicate", "duplicate", "inserted"],
        "changed repeats": ["conflict", "inserted", "conflict"],
        "a call twice in one batch": ["inserted", "inserted", "duplicate", "conflict", "conflict"],
        "NUL told from U+FFFD": ["conflict", "inserted", "conflict", "duplicate"],
        "extra in another order": ["duplicate", "conflict"],
    }
    for case, statuses in expected.items():
        stored, batch = CASES[case]
        with postgres_helpers.temporary_schema() as url:
            assert run(url, stored, batch, stored_as_rows=True, batch_as_rows=True).statuses == statuses, case


def test_conflicts_of_a_batch_keep_their_differences(urls: tuple[str, str]) -> None:
    stored, batch = CASES["changed repeats"]
    got = run(urls[0], stored, batch, stored_as_rows=True, batch_as_rows=True)
    assert got.conflicts == [
        (call(1).id, "second", {"duration": [30, 31]}),
        (call(2).id, f"sid={call(2).id}", {"terminate": [16, None], "extra": [{}, {"x": "y"}]}),
    ]


def test_the_rows_of_a_batch_land_in_the_partitions_of_their_months(urls: tuple[str, str]) -> None:
    _, batch = CASES["several months"]
    store = PostgresStore(urls[0], migrations=MIGRATIONS)
    try:
        store.add_rows([imported(c) for c in batch])
        placed = dict(store.database.read("SELECT id, tableoid::regclass::text FROM calls"))  # noqa: SLF001
    finally:
        store.close()
    assert placed == {
        call(1).id: "calls_p202312", call(2).id: "calls_p202401", call(3).id: "calls_p202402",
        call(4).id: "calls_p202403", call(5).id: "calls_p202401", call(6).id: "calls_default",
        call(7).id: "calls_p202507",
    }


def test_minute_rollups_older_than_the_floor_are_left_out(urls: tuple[str, str]) -> None:
    _, batch = CASES["several months"]
    rows = run(urls[0], [], batch, stored_as_rows=False, batch_as_rows=True).rollups
    floor = rollups.RollupHook(minute_days=8, clock=lambda: NOW).minute_floor()
    assert floor is not None
    minutes = [r[2] for r in rows if r[0] == MINUTE]
    assert minutes and all(bucket >= floor for bucket in minutes)
    assert any(r[0] != MINUTE and r[2] < floor for r in rows)  # hours and days of old calls are kept


def test_a_large_batch_counts_as_the_raw_rows(urls: tuple[str, str]) -> None:
    start = at(2024, 3, 1)
    batch = [ended(n, start + 37 * n, answered=n % 3 > 0, normal=n % 4 > 0, fault="network" if n % 4 else "none",
                   from_service_id="" if n % 5 == 0 else f"s{n % 7}", call_end_reason=None if n % 6 else 1003)
             for n in range(3000)]
    store = PostgresStore(urls[0], migrations=MIGRATIONS)
    store.add_write_hook(rollups.hook)
    try:
        results = store.add_rows([imported(c) for c in [*batch, *batch[:100]]])
    finally:
        store.close()
    assert [str(r.status) for r in results] == ["inserted"] * 3000 + ["duplicate"] * 100
    db = StatsDB(urls[0])
    try:
        conn = db.reader()
        window = Window(start, start + 37 * 3000 + MINUTE)
        assert rollup_reads.totals(conn, window.start, window.end) == raw.totals(conn, window, db.paramstyle)
        assert rollup_reads.breakdown(conn, window.start, window.end, "service") == raw.breakdown(
            conn, window, "service", db.paramstyle)
    finally:
        db.close()


@pytest.mark.parametrize("as_text", [False, True], ids=["rows", "COPY text in a bulk load"])
def test_nodes_importing_the_same_rows_at_once_store_each_call_once(urls: tuple[str, str], as_text: bool) -> None:
    records = [ended(n, MARCH + n) for n in range(2000)]
    nodes = [PostgresStore(urls[0], migrations=MIGRATIONS), PostgresStore(urls[0], migrations=MIGRATIONS)]
    for node in nodes:
        node.add_write_hook(rollups.hook)
    statuses: list[list[str]] = [[], []]
    gate = threading.Barrier(2)

    def send(k: int, batch: Sequence[CallRecord]) -> None:
        gate.wait()
        with nodes[k].bulk_load() if as_text else contextlib.nullcontext():
            for i in range(0, len(batch), 500):
                chunk = list(batch[i:i + 500])
                statuses[k].extend(store_copied(nodes[k], chunk) if as_text else
                                   [str(r.status) for r in nodes[k].add_rows([imported(c) for c in chunk])])

    threads = [threading.Thread(target=send, args=(0, records)),
               threading.Thread(target=send, args=(1, list(reversed(records))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sorted(statuses[0] + statuses[1]) == ["duplicate"] * 2000 + ["inserted"] * 2000
        assert nodes[0].count() == 2000 and nodes[0].conflicts() == []
        total = sum(r[4] for r in rollup_rows(urls[0]) if r[0] == DAY and r[1] == ALL)
        assert total == 2000  # counted once per call, whichever node stored it
        present = {r[0] for r in nodes[0].database.read(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
        assert set(bulk_load.DEFERRED) <= present  # built again by whichever node finished last
    finally:
        for node in nodes:
            node.close()
