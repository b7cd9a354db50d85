"""The emitter's HTTP input and orphan closing."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest
from emit_helpers import AsgiClient, Clock, clock_fixture, outbox_fixture  # noqa: F401 - fixtures

from hangup.emit.api import create_emitter_app
from hangup.emit.outbox import SQLiteOutbox, State
from hangup.emit.service import Emitter
from hangup.providers.base import WebhookRequest
from hangup.providers.planet import PROVIDER
from hangup.records import CallRecord

URL = "http://receiver.test/callbacks/planet"
SID = "6364e8b3-bdac-436e-9631-0bce2498ce0c"
ENDED: dict[str, Any] = {
    "sid": SID, "from_service_id": "planetkit", "from_user_id": "alice", "to_service_id": "planetkit",
    "to_user_id": "bob", "type": "A", "setup_time": 1_700_000_000, "start_time": 1_700_000_005,
    "end_time": 1_700_000_065, "released_by": "caller", "how": "bye", "srcip": "198.51.100.7", "dstip": "2001:db8::9",
}  # fmt: skip
STARTED = {k: ENDED[k] for k in ("sid", "from_service_id", "from_user_id", "to_service_id", "to_user_id",
                                   "setup_time", "srcip", "dstip")}  # fmt: skip


def receiver_parse(query: str) -> CallRecord:
    record = PROVIDER.parse(WebhookRequest("GET", f"http://hangup.test/callbacks/planet?{query}", query))
    assert record is not None
    return record


@pytest.fixture
def emitter(outbox: SQLiteOutbox, clock: Clock) -> Emitter:
    return Emitter(outbox, URL, orphan_timeout=60.0, hostname="voip-7.test", clock=clock)


@pytest.fixture
def client(emitter: Emitter) -> AsgiClient:
    return AsgiClient(create_emitter_app(emitter))


def test_call_ended_is_queued_before_the_answer(client: AsgiClient, outbox: SQLiteOutbox) -> None:
    response = client.post("/api/events/call-ended", json=ENDED)
    assert response.status_code == 202
    body = response.json()
    assert body["ok"] and body["callback"]["call_end_reason"] == 1004 and body["callback"]["duration"] == 60
    [entry] = outbox.entries(State.PENDING)
    assert entry.id == body["id"] and parse_qs(entry.query)["releaser"] == ["initiator"]
    record = receiver_parse(entry.query)
    assert record.flags == () and record.outcome == "completed" and record.srcip == "198.51.100.7"


def test_a_repeated_event_is_not_queued_twice(client: AsgiClient, outbox: SQLiteOutbox) -> None:
    first = client.post("/api/events/call-ended", json=ENDED)
    again = client.post("/api/events/call-ended", json=ENDED)
    assert again.status_code == 200 and again.json()["duplicate"] and again.json()["id"] == first.json()["id"]
    assert len(outbox.entries()) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ENDED, "setup_time": "yesterday"}, "setup_time"),
        ({k: v for k, v in ENDED.items() if k != "how"}, "how"),
        ({**ENDED, "how": "cancel"}, "start_time"),
        ({**ENDED, "type": "X"}, "type"),
        ({**ENDED, "released_by": "server"}, "server"),
        ([1, 2], "$"),
        ({**ENDED, "srcip": ""}, "srcip"),
        ({**ENDED, "dstip": "callee.example"}, "dstip"),
        ({**ENDED, "sid": "6364e8b3 bdac-436e-9631-0bce2498ce0c"}, "sid"),
        ({**ENDED, "from_user_id": "ali\u0000ce"}, "from_user_id"),
        ({**ENDED, "user_rel_code": "x\ny"}, "user_rel_code"),
        ({**ENDED, "end_time": 4_102_444_800}, "end_time"),  # 2100: the receiver would refuse the callback
        ({**ENDED, "end_time": ENDED["start_time"] + 604_801}, "end_time"),  # over 7 days of conversation
    ],
)
def test_bad_events_get_4xx_naming_the_field(client: AsgiClient, body: object, field: str) -> None:
    response = client.post("/api/events/call-ended", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["ok"] is False and error["error_id"] == "invalid_payload"
    assert field in [d["field"] for d in error["details"]]


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"null", b"x" * 70_000,
                                 b'{"x":' * 1000 + b"1" + b"}" * 1000, b'{"x":' + b"[" * 5000 + b"]" * 5000 + b"}"])
def test_garbage_bodies_are_4xx(client: AsgiClient, raw: bytes) -> None:
    for path in ("/api/events/call-ended", "/api/events/call-started"):
        response = client.post(path, content=raw)
        assert 400 <= response.status_code < 500 and response.json()["ok"] is False


@pytest.mark.parametrize("field", ["sid", "srcip", "from_user_id"])
def test_bad_call_starts_name_the_field(client: AsgiClient, field: str) -> None:
    response = client.post("/api/events/call-started", json={**STARTED, field: ""})
    assert response.status_code == 400 and field in [d["field"] for d in response.json()["details"]]


def test_started_call_without_an_end_is_closed_as_orphaned(
    client: AsgiClient, emitter: Emitter, outbox: SQLiteOutbox, clock: Clock
) -> None:
    assert client.post("/api/events/call-started", json=STARTED).status_code == 202
    assert client.post("/api/events/call-started", json=STARTED).json()["duplicate"]
    assert emitter.sweep_orphans() == 0
    clock.now += 61
    assert emitter.sweep_orphans() == 1
    [entry] = outbox.entries()
    params = {k: v[0] for k, v in parse_qs(entry.query, keep_blank_values=True).items()}
    assert entry.flags == ("orphaned",)
    assert (params["call_end_reason"], params["terminate"], params["releaser"]) == ("1100", "127", "voip-7.test")
    assert params["rel_code_str"] == "ORPHANED" and params["duration"] == "0"
    assert receiver_parse(entry.query).outcome == "failed"
    late_end = client.post("/api/events/call-ended", json=ENDED)
    assert late_end.status_code == 200 and late_end.json()["duplicate"]


def test_an_ended_call_is_not_closed_as_orphaned(
    client: AsgiClient, emitter: Emitter, outbox: SQLiteOutbox, clock: Clock
) -> None:
    client.post("/api/events/call-started", json=STARTED)
    client.post("/api/events/call-ended", json=ENDED)
    clock.now += 3600
    assert emitter.sweep_orphans() == 0
    assert [e.flags for e in outbox.entries()] == [()]
