"""Calls made of legs in the store (``hangup.store.legs``): every leg kept, the call their merge, counted once.

Each arrival order of each call of ``tests/data/asterisk/legs`` goes through every write path of both back ends:
the call reads as its README says, its legs are all kept, and the rollups hold one call with its talk time. The
real multi-leg calls of the corpus (``tests/data/real/asterisk-cel``: Wazo's CEL events, one leg per channel) go
the same way in several arrival orders.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from legs_data import EXPECTED, orders, record
from store_fixtures import backend_fixture, store_url_fixture  # noqa: F401

from hangup.composition import attach_standard_hooks, open_store
from hangup.importer.formats import READERS
from hangup.records import CallRecord, call_id_for
from hangup.stats import rebuild, rollup_reads, rollups
from hangup.stats.db import StatsDB
from hangup.store import sql, staging
from hangup.store.base import AddStatus, Store
from hangup.store.sqlite import SQLiteStore

Write = Callable[[Store, Sequence[CallRecord], Path], list[str]]


def _one_by_one(store: Store, legs: Sequence[CallRecord], _: Path) -> list[str]:
    async def each() -> list[str]:
        return [str((await store.add(leg)).status) for leg in legs]

    return asyncio.run(each())


def _one_batch(store: Store, legs: Sequence[CallRecord], _: Path) -> list[str]:
    return [str(r.status) for r in store.add_many(legs)]


def _rows_without_digest(store: Store, legs: Sequence[CallRecord], _: Path) -> list[str]:
    """As a bulk import brings them (on PostgreSQL ``add_rows`` is its path)."""
    return [str(r.status) for r in store.add_rows([(*sql.record_row(leg)[:-1], "") for leg in legs])]


def _staged_one_by_one(store: Store, legs: Sequence[CallRecord], folder: Path) -> list[str]:
    """As SQLite imports take them: staging files, here one a leg, so each later leg meets a stored call."""
    if not isinstance(store, SQLiteStore):
        return _rows_without_digest(store, legs, folder)
    statuses = []
    for n, leg in enumerate(legs):
        path = str(folder / f"{leg.id}-{n}.stage")
        staging.write(path, staging.rows_table([(*sql.record_row(leg)[:-1], "")]))
        result = store.add_staged(path)
        statuses.append("inserted" if result.inserted else "leg" if result.legs else "other")
    return statuses


WRITES: dict[str, Write] = {"add": _one_by_one, "add_many": _one_batch, "add_rows": _rows_without_digest,
                            "staged": _staged_one_by_one}


@pytest.fixture(name="store")
def store_fixture(store_url: str) -> Iterator[Store]:
    store = attach_standard_hooks(open_store(store_url))
    yield store
    store.close()


def _totals(store: Store, call: CallRecord) -> tuple[int, int, int]:
    """(attempts, answered, talk seconds) the rollups count over the call's day."""
    day = call.end_time - call.end_time % 86400
    with store.database.reading() as conn:  # type: ignore[attr-defined]
        found = rollup_reads.totals(conn, day - 86400, day + 2 * 86400)
    return found.attempts, found.answered, found.duration_sum


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("uniqueid", sorted(EXPECTED))
def test_legs_in_any_order_make_one_call_counted_once(store: Store, tmp_path: Path, uniqueid: str,
                                                      write: str) -> None:
    count, answered, talk, dstchannel = EXPECTED[uniqueid]
    for n, order in enumerate(orders(uniqueid)):
        legs = [record(fields) for fields in order]
        statuses = WRITES[write](store, legs, tmp_path)
        assert statuses == ["inserted"] + ["leg"] * (count - 1), order
        call = store.get(legs[0].id)
        assert call is not None
        assert (call.answered, call.duration, call.extra["dstchannel"]) == (answered, talk, dstchannel)
        assert sorted(leg.leg_id for leg in store.legs(call.id)) == sorted(leg.leg_id for leg in legs)
        assert _totals(store, call) == (n + 1, n + 1, (n + 1) * talk)  # one call per order stored so far


REAL_CEL = Path(__file__).resolve().parents[1] / "data" / "real" / "asterisk-cel"
#: file → (legs, answered, talk seconds, the deciding leg's outcome), as its ``.expected.json`` reads the call
REAL_CALLS = {"wazo-incoming-answered": (2, True, 5, "completed"),
              "wazo-group-ring-all-no-answer": (25, False, 0, "no_answer")}


def _real_orders(name: str) -> list[list[CallRecord]]:
    """The real call's legs in file order, reversed and shuffled; each order a call of its own (its id suffixed)."""
    with (REAL_CEL / f"{name}.export.csv").open(newline="") as stream:
        legs = [item.record for item in READERS["asterisk-cel"](stream, 1.0) if item.record is not None]
    shuffled = [random.Random(seed).sample(legs, len(legs)) for seed in (1, 2)]
    orders = [legs, legs[::-1], *shuffled]
    return [[dataclasses.replace(leg, provider_call_id=f"{leg.provider_call_id}-{n}",
                                 id=call_id_for(leg.provider, f"{leg.provider_call_id}-{n}")) for leg in order]
            for n, order in enumerate(orders)]


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("name", sorted(REAL_CALLS))
def test_real_legs_in_any_order_make_one_call_counted_once(store: Store, tmp_path: Path, name: str,
                                                           write: str) -> None:
    count, answered, talk, outcome = REAL_CALLS[name]
    calls = []
    for n, legs in enumerate(_real_orders(name)):
        assert len(legs) == count
        assert WRITES[write](store, legs, tmp_path) == ["inserted"] + ["leg"] * (count - 1)
        call = store.get(legs[0].id)
        assert call is not None and len(store.legs(call.id)) == count
        assert (call.answered, call.duration, call.outcome) == (answered, talk, outcome)
        calls.append(dataclasses.replace(call, id="", provider_call_id="", received_at=0.0))
        assert _totals(store, call) == (n + 1, (n + 1) * answered, (n + 1) * talk)  # each order one call
    assert all(call == calls[0] for call in calls)  # the same call whatever the order


@pytest.mark.parametrize("write", ["add_many", "add_rows"])
def test_a_leg_again_is_a_duplicate_and_a_changed_leg_a_conflict(store: Store, tmp_path: Path, write: str) -> None:
    first, second = (record(fields) for fields in orders("1772445600.10")[0])
    WRITES[write](store, [first, second], tmp_path)
    again = WRITES[write](store, [first, second], tmp_path)
    changed = dataclasses.replace(second, duration=99)
    assert again == ["duplicate", "duplicate"]
    assert WRITES[write](store, [changed], tmp_path) == ["conflict"]
    assert [c.call_id for c in store.conflicts(first.id)] == [first.id]
    call = store.get(first.id)
    assert call is not None and call.duration == 183 and _totals(store, call) == (1, 1, 183)


def test_records_without_legs_still_conflict(store: Store, tmp_path: Path) -> None:
    first = record(orders("1772449200.20")[0][0])
    plain = dataclasses.replace(first, leg_id="")
    other = dataclasses.replace(plain, duration=1)
    assert [r.status for r in store.add_many([plain, other])] == [AddStatus.INSERTED, AddStatus.CONFLICT]
    assert store.legs(plain.id) == []


@pytest.mark.postgres
def test_legs_stored_by_two_nodes_at_once_make_one_call(postgres_url: str) -> None:
    """Two nodes store the second and third legs of each call at the same moment: each merges after the
    other's commit (the call's row is locked), so every leg counts and the call is counted once."""
    uniqueid = "1772452800.30"
    _, answered, talk, _ = EXPECTED[uniqueid]
    nodes = [attach_standard_hooks(open_store(postgres_url)) for _ in range(2)]
    try:
        calls = orders(uniqueid)
        for order in calls:
            first, *others = (record(fields) for fields in order)
            nodes[0].add_many([first])
            barrier = threading.Barrier(2)

            def store(node: Store, leg: CallRecord, barrier: threading.Barrier = barrier) -> str:
                barrier.wait()
                return str(node.add_many([leg])[0].status)

            with ThreadPoolExecutor(2) as pool:
                statuses = list(pool.map(store, nodes, others))
            assert statuses == ["leg", "leg"]
            call = nodes[1].get(first.id)
            assert call is not None and (call.answered, call.duration) == (answered, talk)
            assert len(nodes[1].legs(first.id)) == 3
        assert _totals(nodes[0], call) == (len(calls), len(calls), len(calls) * talk)
    finally:
        for node in nodes:
            node.close()


@pytest.mark.parametrize("write", sorted(WRITES))
def test_the_corrected_rollups_equal_a_rebuild_from_the_calls(store: Store, store_url: str, tmp_path: Path,
                                                              write: str) -> None:
    """Taking a call's old row back and adding its new one leaves exactly the rollups of the stored calls."""
    for uniqueid in sorted(EXPECTED):
        for order in orders(uniqueid):
            WRITES[write](store, [record(fields) for fields in order], tmp_path)
    query = f"SELECT * FROM {rollups.TABLE} ORDER BY level, dim, bucket, value"
    with store.database.reading() as conn:  # type: ignore[attr-defined]
        incremental = conn.execute(query).fetchall()
    db = StatsDB(store_url)
    try:
        rebuild.rebuild(db)
    finally:
        db.close()
    with store.database.reading() as conn:  # type: ignore[attr-defined]
        assert conn.execute(query).fetchall() == incremental != []
