"""The SQLite outbox: durable enqueue, leases, dead letters, repair."""

from __future__ import annotations

from pathlib import Path

from emit_helpers import outbox_fixture  # noqa: F401 - fixture

from hangup.emit.outbox import NewEntry, SQLiteOutbox, StartedCall, State

URL = "http://receiver.test/callbacks/planet"


def new(sid: str, flags: tuple[str, ...] = ()) -> NewEntry:
    return NewEntry(sid, URL, f"sid={sid}", flags)


def test_enqueue_is_idempotent_per_sid_and_destination(outbox: SQLiteOutbox) -> None:
    [(first, created)] = outbox.enqueue([new("a")], 10.0)
    [(again, created_again)] = outbox.enqueue([new("a")], 11.0)
    assert created and not created_again and first == again
    assert outbox.counts()[State.PENDING] == 1


def test_enqueued_entries_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    box = SQLiteOutbox(url)
    box.enqueue([new("a"), new("b", ("orphaned",))], 10.0)
    box.close()
    reopened = SQLiteOutbox(url)
    assert reopened.migrate() == []
    entries = {e.sid: e for e in reopened.entries()}
    assert set(entries) == {"a", "b"} and entries["b"].flags == ("orphaned",)
    reopened.close()


def test_claim_leases_entries_until_the_lease_runs_out(outbox: SQLiteOutbox) -> None:
    outbox.enqueue([new("a"), new("b")], 10.0)
    claimed = outbox.claim(10, 10.0, lease=30.0)
    assert sorted(e.sid for e in claimed) == ["a", "b"] and all(e.attempts == 1 for e in claimed)
    assert outbox.claim(10, 20.0, lease=30.0) == []  # still leased: a second worker gets nothing
    again = outbox.claim(10, 41.0, lease=30.0)  # the first worker died: sent again
    assert sorted(e.sid for e in again) == ["a", "b"] and all(e.attempts == 2 for e in again)


def test_claim_respects_the_limit_and_due_time(outbox: SQLiteOutbox) -> None:
    outbox.enqueue([new(str(i)) for i in range(5)], 10.0)
    assert len(outbox.claim(2, 10.0, 30.0)) == 2
    assert outbox.claim(10, 9.0, 30.0) == []


def test_delivered_retried_and_dead_states(outbox: SQLiteOutbox) -> None:
    ids = [i for i, _ in outbox.enqueue([new("a"), new("b"), new("c")], 10.0)]
    outbox.claim(10, 10.0, 30.0)
    outbox.mark_delivered(ids[0], 200, 11.0)
    outbox.mark_retry(ids[1], 15.0, 503, "HTTP 503", 11.0)
    outbox.mark_dead(ids[2], 404, "HTTP 404", "x" * 5000, 11.0)
    assert outbox.counts() == {State.PENDING: 1, State.DELIVERED: 1, State.DEAD: 1}
    assert [e.sid for e in outbox.claim(10, 15.0, 30.0)] == ["b"]
    dead = outbox.get(ids[2])
    assert dead is not None and dead.last_status == 404 and len(dead.response_body) == 2048


def test_retry_and_purge(outbox: SQLiteOutbox) -> None:
    ids = [i for i, _ in outbox.enqueue([new("a"), new("b"), new("c")], 10.0)]
    outbox.mark_dead(ids[0], 400, "HTTP 400", "", 11.0)
    outbox.mark_dead(ids[1], 400, "HTTP 400", "", 11.0)
    outbox.mark_delivered(ids[2], 200, 11.0)
    assert outbox.retry([ids[0]], 20.0) == 1
    assert [e.sid for e in outbox.entries(State.PENDING)] == ["a"]
    assert outbox.purge([State.DELIVERED, State.DEAD], older_than=12.0) == 2
    assert [e.sid for e in outbox.entries()] == ["a"]


def test_started_calls_are_forgotten_when_their_end_is_enqueued(outbox: SQLiteOutbox) -> None:
    assert outbox.start_call(StartedCall("a", "{}", 10.0, 70.0))
    assert not outbox.start_call(StartedCall("a", "{}", 10.0, 70.0))
    assert outbox.start_call(StartedCall("b", "{}", 10.0, 70.0))
    outbox.enqueue([new("a")], 20.0)
    assert [s.sid for s in outbox.due_starts(100.0, 10)] == ["b"]
    assert outbox.due_starts(50.0, 10) == []
    assert not outbox.start_call(StartedCall("a", "{}", 30.0, 90.0))  # already ended


def test_closing_orphans_forgets_every_started_call_given(outbox: SQLiteOutbox) -> None:
    for sid in "abc":
        assert outbox.start_call(StartedCall(sid, "{}", 10.0, 70.0))
    outbox.close_orphans(["a", "b", "c"], [new("a", ("orphaned",))], 100.0)
    assert outbox.started_count() == 0 and outbox.due_starts(100.0, 10) == []
    assert [(e.sid, e.flags) for e in outbox.entries()] == [("a", ("orphaned",))]


def test_retry_and_purge_match_lists_of_ids_and_states(outbox: SQLiteOutbox) -> None:
    ids = [i for i, _ in outbox.enqueue([new(str(n)) for n in range(4)], 10.0)]
    for entry_id in ids:
        outbox.mark_dead(entry_id, 410, "HTTP 410", "", 11.0)
    assert outbox.retry([], 20.0) == 0
    assert outbox.retry(ids[:2], 20.0) == 2 and outbox.counts()[State.PENDING] == 2
    assert outbox.retry(None, 21.0) == 2 and outbox.counts()[State.DEAD] == 0
    assert outbox.purge([], older_than=99.0) == 0
    assert outbox.purge([State.DEAD, State.PENDING], older_than=99.0) == 4
