"""The digest of a call's facts stays the same across releases that add fact fields, and a digest stored by an
earlier definition is computed again from the stored row: on both back ends and every write path, a repeat of a
stored call is a duplicate when its facts are the same and a conflict when they differ."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from store_fixtures import backend_fixture, fresh_store_fixture, store_url_fixture  # noqa: F401
from test_record_fields import RECORDS
from test_sqlite import call

from hangup.record_fields import Fact, Role, describe
from hangup.records import FIELDS, CallRecord
from hangup.stats import arrow_rollups
from hangup.store import sql, staging
from hangup.store.base import CopyStore, StagedResult, StagingStore, Store
from hangup.store.copy_batch import from_tables
from hangup.store.database import paramstyle_of, to_paramstyle
from hangup.store.digest import PREFIX, digest, digest_of, stale, stale_sql

FACTS = tuple(f for f in FIELDS if f.role is Role.FACT)


def legacy_digest(record: CallRecord) -> str:
    """The digest as releases before ``PREFIX`` stored it: ``repr`` of every fact, then ``extra``'s sorted items."""
    text = repr(tuple(getattr(record, f.name) for f in FACTS if f.kind != "map"))
    for f in FACTS:
        if f.kind == "map" and (values := getattr(record, f.name)):
            text += repr(sorted(values.items()))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


# -- the digest of a record type with one more fact field ----------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class LaterRecord(CallRecord):
    """``CallRecord`` as a later release might declare it: one more fact, with a default."""

    dialed_digits: Fact[str] = ""


LATER_DIGEST = digest_of(tuple(f for f in describe(LaterRecord) if f.role is Role.FACT))


def _later(record: CallRecord, **changes: Any) -> LaterRecord:
    return LaterRecord(**{f.name: getattr(record, f.name) for f in FIELDS}, **changes)


@pytest.mark.parametrize("make", RECORDS.values(), ids=RECORDS)
@pytest.mark.parametrize(("changes", "same"), [({}, True), ({"dialed_digits": ""}, True),
                                                ({"dialed_digits": "5551234"}, False)],
                         ids=["left out", "given its default", "given a value"])
def test_a_fact_field_added_at_its_default_leaves_the_digest(make: Callable[[], CallRecord],
                                                             changes: dict[str, Any], same: bool) -> None:
    record = make()
    assert (LATER_DIGEST(_later(record, **changes)) == digest(record)) is same


@pytest.mark.parametrize(("stored", "is_stale"), [
    ("", True), (legacy_digest(call(1)), True), (digest(call(1)), False)], ids=["none", "legacy", "current"])
def test_only_a_digest_of_this_definition_is_compared(stored: str, is_stale: bool) -> None:
    assert stale(stored) is is_stale
    assert digest(call(1)).startswith(PREFIX)


@pytest.mark.parametrize(("first", "second", "same"), [
    ({}, {"received_at": 9.0, "raw": "again", "cause": "planet:1005"}, True),  # receipt and verdict are no facts
    ({}, {"stid": "None"}, False), ({"stid": None}, {"stid": ""}, False),
    ({"extra": {"a": "1", "b": "2"}}, {"extra": {"b": "2", "a": "1"}}, True),
    ({"extra": {"a": "1"}}, {"extra": {"a": "2"}}, False),
    ({"direction": "unknown"}, {"direction": "inbound"}, False),
])
def test_the_digest_is_of_the_facts(first: dict[str, Any], second: dict[str, Any], same: bool) -> None:
    assert (digest(call(1, **first)) == digest(call(1, **second))) is same


# -- stored digests of an earlier definition, on both back ends --------------------------------------------
def _set_digest(store: Store, call_id: str, value: str) -> None:
    """Give a stored call the digest an earlier release (or a bulk import) would have stored."""
    def task(conn: Any) -> None:
        style = paramstyle_of(conn)
        conn.execute(to_paramstyle("UPDATE calls SET digest = ? WHERE id = ?", style), (value, call_id))
        if style == "format":  # PostgreSQL compares the digest its claim of the id holds
            conn.execute(to_paramstyle("UPDATE call_keys SET digest = ? WHERE id = ?", style), (value, call_id))

    store.run_in_writer(task)  # type: ignore[attr-defined]


def _statuses(results: Sequence[Any]) -> list[str]:
    return [str(r.status) for r in results]


def _counted(done: StagedResult) -> list[str]:
    return ["inserted"] * done.inserted + ["duplicate"] * done.duplicates + ["conflict"] * done.conflicts


def _add(store: Store, records: Sequence[CallRecord]) -> list[str]:
    async def each() -> list[Any]:
        return [await store.add(r) for r in records]

    return _statuses(asyncio.run(each()))


_STAGED = itertools.count()


def _bulk_import(store: Store, records: Sequence[CallRecord]) -> list[str]:
    """As ``hangup import`` stores a batch: a staging file (SQLite) or ``COPY`` text (PostgreSQL), no digests."""
    table = staging.rows_table([(*sql.record_row(r)[:-1], "") for r in records])
    if isinstance(store, StagingStore):
        path = f"{store.staging_dir()}/digest-test-{next(_STAGED)}.stage"  # a file per batch, as imports write
        staging.write(path, table)
        return _counted(store.add_staged(path))
    batch = from_tables(table, arrow_rollups.aggregate(table))
    assert isinstance(store, CopyStore) and batch is not None
    return _counted(store.add_copied(batch))


WRITES: dict[str, Callable[[Store, Sequence[CallRecord]], list[str]]] = {
    "add": _add,
    "add_many": lambda store, records: _statuses(store.add_many(records)),
    "add_rows": lambda store, records: _statuses(store.add_rows([sql.record_row(r) for r in records])),
    "add_rows, no digest": lambda store, records: _statuses(
        store.add_rows([(*sql.record_row(r)[:-1], "") for r in records])),
    "bulk import": _bulk_import,
}
#: What the first delivery's stored digest is: as stored today, of an earlier definition, none (an import).
STORED: dict[str, Callable[[CallRecord], str | None]] = {
    "current": lambda record: None, "legacy": legacy_digest, "none": lambda record: "",
}
#: The repeat (the same facts received again: a duplicate; other facts: a conflict) and its status.
REPEATS: dict[str, tuple[dict[str, Any], str]] = {
    "same facts": ({"received_at": 5000.0}, "duplicate"),
    "same facts, extra in another order": ({"extra": {"b": "2", "a": "1"}, "received_at": 5000.0}, "duplicate"),
    "other facts": ({"duration": 31}, "conflict"),
}


@pytest.mark.parametrize("repeat", REPEATS, ids=REPEATS)
@pytest.mark.parametrize("stored", STORED, ids=STORED)
@pytest.mark.parametrize("write", WRITES, ids=WRITES)
def test_a_repeat_is_told_by_its_facts_whatever_digest_was_stored(fresh_store: Store, write: str, stored: str,
                                                                   repeat: str) -> None:
    first = call(1, extra={"a": "1", "b": "2"})
    assert _statuses(fresh_store.add_many([first, call(2)])) == ["inserted", "inserted"]
    kept = STORED[stored](first)
    if kept is not None:
        _set_digest(fresh_store, first.id, kept)
    changes, status = REPEATS[repeat]
    answered = WRITES[write](fresh_store, [dataclasses.replace(first, **changes), call(3)])
    assert sorted(answered) == sorted([status, "inserted"])  # a bulk import counts, in no order
    assert fresh_store.get(first.id) == first
    assert len(fresh_store.conflicts(first.id)) == (status == "conflict")


def test_stale_sql_says_what_stale_says(fresh_store: Store) -> None:
    stored = ("", legacy_digest(call(1)), digest(call(1)))
    query = f"SELECT d, {stale_sql('d')} FROM (SELECT ? AS d UNION ALL SELECT ? UNION ALL SELECT ?) t"

    def task(conn: Any) -> dict[str, bool]:
        return {d: bool(is_stale) for d, is_stale in conn.execute(to_paramstyle(query, paramstyle_of(conn)), stored)}

    assert fresh_store.run_in_writer(task) == {d: stale(d) for d in stored}  # type: ignore[attr-defined]


@pytest.mark.parametrize("write", WRITES, ids=WRITES)
def test_a_conflicting_version_retried_is_kept_once(fresh_store: Store, write: str) -> None:
    """A platform retrying a delivery whose facts differ from the stored call's: each retry answers conflict,
    the version is kept once; another version is kept beside it."""
    first = call(1)
    fresh_store.add_many([first])
    version, other = dataclasses.replace(first, duration=31), dataclasses.replace(first, duration=32)
    for attempt in range(3):
        assert WRITES[write](fresh_store, [dataclasses.replace(version, received_at=6000.0 + attempt)]) == [
            "conflict"]
    assert [c.differences for c in fresh_store.conflicts(first.id)] == [{"duration": [30, 31]}]
    assert WRITES[write](fresh_store, [other]) == ["conflict"]
    assert sorted(c.differences["duration"][1] for c in fresh_store.conflicts(first.id)) == [31, 32]
    assert fresh_store.get(first.id) == first
