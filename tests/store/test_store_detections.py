"""A call's end joined with its separately reported detection in the writer's transaction that stores it
(``hangup.store.detections.joined`` through ``add_joined``), on both stores and between two PostgreSQL nodes.

Vonage's end is a recorded one (``tests/data/real/vonage/dotnet-sdk-completed.json``, from the Vonage .NET SDK's
tests, Apache-2.0; ``tests/data/real/PROVENANCE.md``). The real Plivo and Telnyx ends there are of unanswered
calls, which no detection changes, so theirs are the answered payload cases of ``tests/data/<platform>`` the
adapter tests use. The detections are kept as the adapters hand them over (the call id and the native fields).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from store_fixtures import backend_fixture, fresh_store_fixture, store_url_fixture  # noqa: F401

from hangup import ingest
from hangup.composition import attach_standard_hooks, open_store
from hangup.providers.base import WebhookRequest
from hangup.providers.registry import providers
from hangup.records import CallRecord
from hangup.stats import rollup_reads
from hangup.store import detections
from hangup.store.base import AddStatus, Store

DATA = Path(__file__).parents[1] / "data"
#: An answered call's end of each platform that reports detections on their own.
ENDS: dict[str, Path] = {"plivo": DATA / "plivo/completed_caller.form", "telnyx": DATA / "telnyx/normal_clearing.json",
                         "vonage": DATA / "real/vonage/dotnet-sdk-completed.json"}
#: The field each platform's detection reports, and its value for a human and for a machine.
READINGS: dict[str, tuple[str, dict[str, str]]] = {
    "plivo": ("Machine", {"human": "false", "machine": "true"}),
    "telnyx": ("result", {"human": "human", "machine": "machine"}),
    "vonage": ("status", {"human": "human", "machine": "machine"}),
}

# (requests in order: "end", or a detection reading who answered; the answer to each end; answered_by at the end)
ORDERS: list[tuple[tuple[str, ...], tuple[AddStatus, ...], str]] = [
    (("human", "end"), (AddStatus.INSERTED,), "human"),  # joined in the insert
    (("end", "machine"), (AddStatus.INSERTED,), "machine"),  # the stored call rewritten by ``keep``
    (("end", "machine", "end"), (AddStatus.INSERTED, AddStatus.DUPLICATE), "machine"),  # retried after a late one
    (("human", "end", "end"), (AddStatus.INSERTED, AddStatus.DUPLICATE), "human"),  # retried after a joined one
    (("human", "machine", "end"), (AddStatus.INSERTED,), "machine"),  # the latest detection wins
]


def _end(platform: str) -> CallRecord:
    path = ENDS[platform]
    body = path.read_bytes().rstrip(b"\n") if path.suffix == ".form" else path.read_bytes()
    record = ingest.parse(providers()[platform], WebhookRequest(
        method="POST", url=f"/callbacks/{platform}", query="", body=body, headers={}, received_at=time.time()), {},
        verify=False)
    assert record is not None
    return record


def _keep(store: Store, platform: str, call_id: str, answered_by: str) -> None:
    field, values = READINGS[platform]
    asyncio.run(store.write_with_hooks(lambda conn, hooks: detections.keep(
        conn, platform, call_id, {field: values[answered_by]}, time.time(), hooks)))


def _human_answers(store: Store, call: CallRecord) -> int:
    day = call.end_time - call.end_time % 86400
    with store.database.reading() as conn:  # type: ignore[attr-defined]
        return rollup_reads.totals(conn, day - 86400, day + 2 * 86400).answered_human


def _operations(store: Store) -> tuple[int, int]:
    stats = store.writer_stats()
    return stats.batches, stats.events


@pytest.mark.parametrize("platform", sorted(ENDS))
@pytest.mark.parametrize(("posts", "answers", "want"), ORDERS, ids=["-".join(o[0]) for o in ORDERS])
def test_an_end_is_joined_with_its_kept_detection_in_the_transaction_that_stores_it(
        fresh_store: Store, platform: str, posts: tuple[str, ...], answers: tuple[AddStatus, ...], want: str) -> None:
    """Every request is one writer operation in one commit: an end reads its kept detection inside its insert
    (no connection of its own, no second transaction after it), and the call it answers with is the call stored."""
    attach_standard_hooks(fresh_store)
    end = _end(platform)
    statuses: list[AddStatus] = []
    for post in posts:
        before = _operations(fresh_store)
        if post == "end":
            record, result = asyncio.run(ingest.store_call(providers()[platform], end, fresh_store))
            statuses.append(result.status)
            stored = fresh_store.get(record.id)
            assert stored is not None and (stored.answered_by, stored.extra) == (record.answered_by, record.extra)
        else:
            _keep(fresh_store, platform, end.provider_call_id, post)
        assert _operations(fresh_store) == (before[0] + 1, before[1] + 1)
    assert tuple(statuses) == answers
    call = fresh_store.get(end.id)
    assert call is not None and call.answered_by == want and fresh_store.count() == 1
    assert fresh_store.conflicts(call.id) == []
    assert _human_answers(fresh_store, call) == int(want == "human")


def test_an_end_of_a_platform_without_separate_detections_is_not_joined(fresh_store: Store) -> None:
    """A detection kept for a call of a platform whose adapter reads none on its own (FreeSWITCH: mod_amd's result
    is in the CDR) is not read into its end."""
    end = dataclasses.replace(_end("vonage"), provider="freeswitch", id="freeswitch-end")
    assert getattr(providers()["freeswitch"], "detection", None) is None
    asyncio.run(fresh_store.write_with_hooks(lambda conn, hooks: detections.keep(
        conn, "freeswitch", end.provider_call_id, {"amd_result": "MACHINE"}, time.time(), hooks)))
    record, result = asyncio.run(ingest.store_call(providers()["freeswitch"], end, fresh_store))
    assert result.status is AddStatus.INSERTED and record == end


@pytest.mark.postgres
def test_a_detection_and_its_end_written_by_two_nodes_at_once_converge(postgres_url: str) -> None:
    """One node keeps the detection while the other stores the end, at the same moment, call after call (each
    node does each in turn): whichever commits second sees the other, so every call is stored as human and
    counted once as a human answer."""
    nodes = [attach_standard_hooks(open_store(postgres_url)) for _ in range(2)]
    template = _end("vonage")
    calls = [dataclasses.replace(template, id=f"race-{n}", provider_call_id=f"race-{n}") for n in range(16)]
    try:
        for n, call in enumerate(calls):
            keeper, ender = nodes[n % 2], nodes[1 - n % 2]
            barrier = threading.Barrier(2)

            def detect(call: CallRecord = call, keeper: Store = keeper, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                _keep(keeper, "vonage", call.provider_call_id, "human")

            def end(call: CallRecord = call, ender: Store = ender, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                _, result = asyncio.run(ingest.store_call(providers()["vonage"], call, ender))
                assert result.status is AddStatus.INSERTED

            with ThreadPoolExecutor(2) as pool:
                for done in [pool.submit(detect), pool.submit(end)]:
                    done.result()
            stored = nodes[n % 2].get(call.id)
            assert stored is not None and stored.answered_by == "human"
            assert stored.extra["detection.status"] == "human"
        assert _human_answers(nodes[0], calls[0]) == len(calls)
        assert nodes[0].count() == len(calls)
    finally:
        for node in nodes:
            node.close()

