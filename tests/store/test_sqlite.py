"""The SQLite store: migrations, idempotent writes, conflicts, group commit, hooks, queries, restarts."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from store_fixtures import backend_fixture, fresh_store_fixture, sqlite_store_fixture, store_url_fixture  # noqa: F401

from hangup.composition import MIGRATIONS, open_store
from hangup.errors import PayloadError, StoreError
from hangup.records import CallRecord
from hangup.store.base import AddStatus, CallQuery, QuarantineEntry, Store
from hangup.store.migrations import Migration
from hangup.store.url import parse_url


def call(n: int, **changes: Any) -> CallRecord:
    sid = f"{n:036d}"
    base = CallRecord(
        id=sid, provider="planet", provider_call_id=sid, from_service_id="svc", from_user_id=f"u{n % 3}",
        to_service_id="svc", to_user_id=f"v{n % 5}", call_type="A" if n % 2 else "V", setup_time=1000 + n,
        start_time=1005 + n, end_time=1035 + n, duration=30, answered=True, call_end_reason=1004, terminate=16,
        releaser="initiator", cause="planet:1004", causes=("planet:1004", "planet-terminate:16"),
        outcome="completed", ended_by="caller", fault="none", normal=True, reason="Caller ended the call",
        raw=f"sid={sid}", received_at=2000.0 + n,
    )
    return dataclasses.replace(base, **changes)


def test_migrations_are_recorded_once(store_url: str) -> None:
    url = store_url
    first = open_store(url)
    applied = first.applied_migrations()
    first.close()
    again = open_store(url)
    assert again.migrate() == []
    assert again.applied_migrations() == applied == [m.name for m in MIGRATIONS]
    assert {"0001_calls", "0002_call_conflicts", "0003_quarantine"} <= set(applied)
    again.close()


def test_a_module_can_contribute_a_migration(tmp_path: Path) -> None:
    extra = Migration("0999_extra", ("CREATE TABLE extra_t (id {autoid}, v {real})",))
    store = open_store(f"sqlite:///{tmp_path}/x.db", migrations=[*MIGRATIONS, extra])
    assert store.applied_migrations()[-1] == "0999_extra"
    store.close()
    assert sqlite3.connect(tmp_path / "x.db").execute("SELECT COUNT(*) FROM extra_t").fetchone() == (0,)


def test_wal_and_full_sync_by_default(sqlite_store: Store) -> None:
    conn = sqlite3.connect(sqlite_store.path)  # type: ignore[attr-defined]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sqlite_store.synchronous == "FULL"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("url", "scheme"), [("sqlite:///a.db", "sqlite"), ("calls.db", "sqlite"),
                                              ("postgresql://u@h/db", "postgresql"),
                                              ("postgresql+psycopg://h/db", "postgresql")])
def test_the_back_end_is_chosen_by_url_scheme(url: str, scheme: str) -> None:
    assert parse_url(url).dialect == scheme


def test_an_unknown_scheme_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="unknown store URL scheme"):
        open_store("mysql://h/db")


def test_duplicate_delivery_is_stored_once(fresh_store: Store) -> None:
    results = fresh_store.add_many([call(1), call(1), dataclasses.replace(call(1), raw="other order", received_at=9)])
    assert [r.status for r in results] == [AddStatus.INSERTED, AddStatus.DUPLICATE, AddStatus.DUPLICATE]
    assert fresh_store.count() == 1 and fresh_store.conflicts() == []


def test_a_conflicting_duplicate_keeps_the_first_and_records_the_difference(fresh_store: Store) -> None:
    fresh_store.add_many([call(1)])
    second = call(1, duration=31, raw="second")
    assert fresh_store.add_many([second])[0].status == AddStatus.CONFLICT
    stored = fresh_store.get(call(1).id)
    assert stored is not None and stored.duration == 30
    (conflict,) = fresh_store.conflicts(call(1).id)
    assert conflict.differences == {"duration": [30, 31]} and conflict.raw == "second"


def test_conflict_inside_one_batch(fresh_store: Store) -> None:
    results = fresh_store.add_many([call(1), call(1, terminate=17)])
    assert [r.status for r in results] == [AddStatus.INSERTED, AddStatus.CONFLICT]
    assert fresh_store.conflicts()[0].differences == {"terminate": [16, 17]}


def test_found_by_hangup_id_or_platform_id(fresh_store: Store) -> None:
    record = call(1, id="hangup-id-1", provider="plivo", provider_call_id="native-1")
    fresh_store.add_many([record])
    assert fresh_store.get("hangup-id-1") == fresh_store.get("native-1") == record
    assert fresh_store.get("nope") is None


def test_round_trip_keeps_every_field(fresh_store: Store) -> None:
    record = call(7, stid=None, user_rel_code="app-42", extra={"k": "ü"}, flags=("a", "b"), q850=16, sip=None)
    fresh_store.add_many([record])
    assert fresh_store.get(record.id) == record


def test_concurrent_async_adds_are_group_committed_exactly_once(fresh_store: Store) -> None:
    async def main() -> list[Any]:
        return await asyncio.gather(*(fresh_store.add(call(n % 300)) for n in range(900)))

    results = asyncio.run(main())
    assert sum(r.status == AddStatus.INSERTED for r in results) == 300
    assert fresh_store.count() == 300
    stats = fresh_store.writer_stats()
    assert stats.batches < 900  # several events shared a commit


def test_threads_and_readers_do_not_block_each_other(fresh_store: Store) -> None:
    def write(offset: int) -> None:
        fresh_store.add_many([call(offset + i) for i in range(50)])

    threads = [threading.Thread(target=write, args=(k * 50,)) for k in range(4)]
    for t in threads:
        t.start()
    counts = [fresh_store.count() for _ in range(20)]
    for t in threads:
        t.join()
    assert counts == sorted(counts) and fresh_store.count() == 200


def test_data_survives_a_restart(store_url: str) -> None:
    url = store_url
    store = open_store(url)
    store.add_many([call(n) for n in range(10)])
    store.close()
    reopened = open_store(url)
    assert reopened.count() == 10 and reopened.get(call(3).id) == call(3)
    reopened.close()


def test_write_hooks_run_in_the_same_transaction_with_inserted_calls_only(fresh_store: Store) -> None:
    seen: list[list[str]] = []

    def hook(conn: Any, records: Sequence[CallRecord]) -> None:
        seen.append([r.id for r in records])
        ph = "?" if isinstance(conn, sqlite3.Connection) else "%s"  # the back end's own connection
        cur = conn.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS hook_t (id TEXT)")
        cur.executemany(f"INSERT INTO hook_t VALUES ({ph})", [(r.id,) for r in records])

    fresh_store.add_write_hook(hook)
    fresh_store.add_many([call(1), call(1), call(2)])
    assert sorted(sum(seen, [])) == [call(1).id, call(2).id]


def test_a_failing_hook_rolls_the_batch_back(fresh_store: Store) -> None:
    def hook(conn: Any, records: Sequence[CallRecord]) -> None:
        raise RuntimeError("rollup broke")

    fresh_store.add_write_hook(hook)
    with pytest.raises(RuntimeError):
        fresh_store.add_many([call(1)])
    assert fresh_store.count() == 0


# -- queries ----------------------------------------------------------------------------------------
@pytest.fixture
def seeded(fresh_store: Store) -> Store:
    records = [call(n) for n in range(40)]
    records[5] = dataclasses.replace(records[5], outcome="busy", normal=False, call_end_reason=1001, terminate=17,
                                     flags=("terminate_disagrees",))
    records[6] = dataclasses.replace(records[6], provider="plivo", releaser="responder")
    fresh_store.add_many(records)
    return fresh_store


FILTERS = [
    (CallQuery(), 40),
    (CallQuery(from_user_id="u1"), 13),
    (CallQuery(to_user_id="v0"), 8),
    (CallQuery(call_type="A"), 20),
    (CallQuery(outcome="busy"), 1),
    (CallQuery(call_end_reason=1001), 1),
    (CallQuery(terminate=17), 1),
    (CallQuery(normal=False), 1),
    (CallQuery(flagged=True), 1),
    (CallQuery(provider="plivo"), 1),
    (CallQuery(releaser="responder"), 1),
    (CallQuery(since=1045, until=1055), 10),
    (CallQuery(from_user_id="u1", call_type="V"), 6),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS, ids=lambda v: str(v)[:60])
def test_filters(seeded: Store, query: CallQuery, expected: int) -> None:
    assert seeded.count(query) == expected
    assert len(list(seeded.iter_calls(query, batch=7))) == expected


def test_keyset_pagination_visits_every_call_once_newest_first(seeded: Store) -> None:
    seen: list[CallRecord] = []
    query = CallQuery(limit=7)
    while True:
        page = seeded.query(query)
        seen.extend(page.calls)
        if page.next_cursor is None:
            break
        query = dataclasses.replace(query, cursor=page.next_cursor)
    assert len(seen) == 40 == len({r.id for r in seen})
    assert [r.end_time for r in seen] == sorted((r.end_time for r in seen), reverse=True)


@pytest.mark.parametrize("cursor", ["garbage", "W10", "WyJ4IiwxXQ"])
def test_a_bad_cursor_is_a_payload_error(seeded: Store, cursor: str) -> None:
    with pytest.raises(PayloadError):
        seeded.query(CallQuery(cursor=cursor))


def test_time_range_query_uses_an_index(sqlite_store: Store) -> None:
    conn = sqlite3.connect(sqlite_store.path)  # type: ignore[attr-defined]
    plan = " ".join(str(r) for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM calls WHERE ended_at >= 1 AND ended_at < 2 ORDER BY ended_at DESC, id DESC"))
    assert "USING INDEX calls_ended" in plan or "USING COVERING INDEX calls_ended" in plan


def test_quarantine_round_trip_and_replay_mark(fresh_store: Store) -> None:
    entry = QuarantineEntry(id=0, received_at=1.5, provider="planet", method="GET", path="/callbacks/planet",
                            query="sid=1", body=b"\xff\x00", headers={"user-agent": "x"}, client="1.2.3.4",
                            status=400, error={"ok": False, "details": [{"field": "sid"}]})
    new_id = fresh_store.quarantine(entry)
    fresh_store.mark_replayed(new_id, "rejected again")
    (stored,) = fresh_store.quarantined()
    assert stored.id == new_id and stored.body == b"\xff\x00" and stored.query == "sid=1"
    assert stored.replay_result == "rejected again" and stored.replayed_at is not None
    assert fresh_store.quarantine_count() == 1 and fresh_store.quarantine_entry(new_id) == stored


def test_reclassification_overwrites_only_derived_fields(fresh_store: Store) -> None:
    fresh_store.add_many([call(1)])
    changed = fresh_store.replace_classification([call(1, outcome="failed", flags=("x",), duration=999)])
    stored = fresh_store.get(call(1).id)
    assert changed == 1 and stored is not None
    assert (stored.outcome, stored.flags, stored.duration) == ("failed", ("x",), 30)


def test_memory_urls_are_refused() -> None:
    with pytest.raises(StoreError, match="file path"):
        open_store("sqlite:///:memory:")
