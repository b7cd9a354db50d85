"""The call log filtered by the platform's own call id (a SIP Call-ID): store, API and its SQLite plan."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3

import pytest
from receiver_helpers import ClientFactory

from hangup.records import CallRecord
from hangup.sip.dialogs import calls_from
from hangup.sip.packet import Packet
from hangup.store.base import CallQuery, Store
from hangup.store.params import call_query


def _sip_call(call_id: str) -> CallRecord:
    lines = [
        "INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1",
        "From: <sip:alice@example.com>;tag=a", "To: <sip:bob@example.com>", f"Call-ID: {call_id}",
        "CSeq: 1 INVITE", "Content-Length: 0",
    ]
    invite = ("\r\n".join(lines) + "\r\n\r\n").encode()
    busy = invite.replace(b"INVITE sip:bob@example.com SIP/2.0", b"SIP/2.0 486 Busy Here").replace(
        b"To: <sip:bob@example.com>", b"To: <sip:bob@example.com>;tag=b")
    packets = [Packet(1000.0, "10.0.0.1", 5060, "10.0.0.2", 5060, "udp", invite),
               Packet(1002.0, "10.0.0.2", 5060, "10.0.0.1", 5060, "udp", busy)]
    [record] = list(calls_from(packets))
    return record


@pytest.fixture
def stored(fresh_store: Store) -> Store:
    first, second = _sip_call("a84b4c76e66710@pc33.atlanta.com"), _sip_call("other@10.0.0.1")
    planet = dataclasses.replace(first, id="6364e8b3-bdac-436e-9631-0bce2498ce0c", provider="planet",
                                 provider_call_id="6364e8b3-bdac-436e-9631-0bce2498ce0c")
    for record in (first, second, planet):
        asyncio.run(fresh_store.add(record))
    return fresh_store


@pytest.mark.parametrize(("value", "expected"), [
    ("a84b4c76e66710@pc33.atlanta.com", ["sip"]),
    ("6364e8b3-bdac-436e-9631-0bce2498ce0c", ["planet"]),  # a platform whose id is hangup's id
    ("nobody@nowhere", []),
])
def test_store_filter(stored: Store, value: str, expected: list[str]) -> None:
    found = list(stored.iter_calls(CallQuery(provider_call_id=value)))
    assert [r.provider for r in found] == expected and all(r.provider_call_id == value for r in found)
    assert stored.count(call_query([("provider_call_id", value)])) == len(expected)


def test_a_sip_call_id_that_is_another_calls_hangup_id_finds_nothing_else(stored: Store) -> None:
    sip_id = _sip_call("other@10.0.0.1").id  # hangup's id of a SIP call, not any call's platform id
    assert stored.count(CallQuery(provider_call_id=sip_id)) == 0


def test_sqlite_answers_through_indexes(stored: Store) -> None:
    from hangup.store import sql

    where = sql.where(CallQuery(provider_call_id="x"), "?")
    plan = " ".join(str(row) for row in sqlite3.connect(stored.path).execute(  # type: ignore[attr-defined]
        f"EXPLAIN QUERY PLAN SELECT id FROM calls{where.sql}", where.params))
    assert "calls_provider_call" in plan and "SCAN calls" not in plan.replace("SCAN calls USING", "")


def test_api_filter(make_client: ClientFactory, stored: Store) -> None:
    client = make_client()
    body = client.get("/api/calls", params={"provider_call_id": "a84b4c76e66710@pc33.atlanta.com"}).json()
    assert [c["provider_call_id"] for c in body["calls"]] == ["a84b4c76e66710@pc33.atlanta.com"]
    assert body["calls"][0]["outcome"] == "busy"
