"""Who answered, reported in a request of its own (Plivo, Telnyx, Vonage), joined to the call's end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from payload_cases import DATA
from test_webhooks_e2e import ENV, Signed, plivo, telnyx, vonage

from hangup import ingest
from hangup.causes import default_catalog
from hangup.composition import open_store
from hangup.providers.registry import providers
from hangup.store import detections
from hangup.store.base import Store

TELNYX_LEG = "e1f2a3b4-c5d6-11ee-8a9b-02420a0d7f11"
VONAGE_UUID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
PLIVO_UUID = "70ce9e67-9a4b-4b4a-8c8e-5b7f0d2e1a11"


def _telnyx(event_type: str, result: str) -> bytes:
    """The shape of Telnyx's machine detection webhooks (developers.telnyx.com, "Answering Machine Detection")."""
    return json.dumps({"data": {"record_type": "event", "event_type": event_type, "id": "0ccc7b54-4df3-4bca",
                                "occurred_at": "2026-06-08T10:00:09.000000Z",
                                "payload": {"call_control_id": "v3:aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW",
                                            "call_leg_id": TELNYX_LEG, "call_session_id": "s1", "result": result,
                                            "from": "+13125550100", "to": "+13125550111"}}}).encode()


def _plivo(machine: str) -> bytes:
    """Plivo's MachineDetection request (plivo.com "Asynchronous machine detection", its parameter list)."""
    return urlencode({"From": "917983165036", "Machine": machine, "To": "14155550123", "RequestUUID": "r1",
                      "ALegRequestUUID": "r1", "CallUUID": PLIVO_UUID, "IfMachine": "continue",
                      "Direction": "outbound", "ALegUUID": PLIVO_UUID, "Event": "MachineDetection",
                      "CallStatus": "in-progress"}).encode()


def _vonage(status: str) -> bytes:
    return json.dumps({"uuid": VONAGE_UUID, "conversation_uuid": "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
                       "status": status, "direction": "outbound", "timestamp": "2026-06-08T12:00:05.000Z"}).encode()


Case = tuple[str, Callable[[bytes, bool, float], Signed], bytes, Path, str]
CASES: list[Case] = [
    ("telnyx", telnyx, _telnyx("call.machine.detection.ended", "machine"), DATA / "telnyx/normal_clearing.json",
     "machine"),
    ("telnyx", telnyx, _telnyx("call.machine.premium.detection.ended", "human_residence"),
     DATA / "telnyx/normal_clearing.json", "human"),
    ("plivo", plivo, _plivo("true"), DATA / "plivo/completed_caller.form", "machine"),
    ("plivo", plivo, _plivo("false"), DATA / "plivo/completed_caller.form", "human"),
    ("vonage", vonage, _vonage("human"), DATA / "vonage/completed.json", "human"),
    ("vonage", vonage, _vonage("machine"), DATA / "vonage/completed.json", "machine"),
]


def _post(client: Any, platform: str, sign: Callable[[bytes, bool, float], Signed], body: bytes) -> Any:
    signed = sign(body, True, time.time())
    return client.post(f"/callbacks/{platform}", content=signed.body, headers=signed.headers)


@pytest.mark.parametrize(("platform", "sign", "detection", "end", "want"), CASES,
                         ids=[f"{c[0]}-{c[4]}" for c in CASES])
def test_a_detection_reported_before_the_end_reads_on_the_stored_call(
        make_client: Any, fresh_store: Store, platform: str, sign: Callable[[bytes, bool, float], Signed],
        detection: bytes, end: Path, want: str) -> None:
    client = make_client(**ENV)
    kept = _post(client, platform, sign, detection)
    assert kept.status_code == 200 and kept.json() == {"ok": True, "stored": False}
    assert fresh_store.count() == 0
    stored = _post(client, platform, sign, end.read_bytes().rstrip(b"\n") if end.suffix == ".form"
                   else end.read_bytes())
    assert stored.status_code == 200, stored.text
    call = fresh_store.get(stored.json()["id"])
    assert call is not None and call.answered_by == want
    assert any(k.startswith("detection.") for k in call.extra)


def test_a_call_end_without_a_detection_reads_unknown(make_client: Any, fresh_store: Store) -> None:
    client = make_client(**ENV)
    stored = _post(client, "vonage", vonage, (DATA / "vonage/completed.json").read_bytes())
    call = fresh_store.get(stored.json()["id"])
    assert call is not None and call.answered_by == "unknown"


def test_reclassifying_keeps_a_detection_that_came_on_its_own(make_client: Any, fresh_store: Store) -> None:
    client = make_client(**ENV)
    _post(client, "vonage", vonage, _vonage("machine"))
    stored = fresh_store.get(_post(client, "vonage", vonage, (DATA / "vonage/completed.json").read_bytes())
                             .json()["id"])
    assert stored is not None
    again = ingest.reclassify_record(stored, providers(), default_catalog())
    assert again.answered_by == "machine" and again.extra == stored.extra
    assert not ingest.changed(stored, again)


@pytest.mark.parametrize("store_kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_detections_whose_call_end_never_came_are_pruned_after_a_day(
        tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path}/calls.db" if store_kind == "sqlite" else request.getfixturevalue("postgres_url")
    store = open_store(url)
    now = 1_800_000_000.0
    try:
        for call, age in (("old", detections.KEPT_SECONDS + 60), ("recent", 3_600), ("edge", detections.KEPT_SECONDS)):
            detections.save(url, "plivo", call, {"Machine": "true"}, now - age)
        assert detections.prune(url, now) == 1
        assert detections.find(url, "plivo", "old") == {}
        assert detections.find(url, "plivo", "recent") == detections.find(url, "plivo", "edge") == {
            "detection.Machine": "true"}
        assert detections.prune(url, now) == 0
    finally:
        store.close()
