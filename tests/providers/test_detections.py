"""Who answered, reported in a request of its own (Plivo, Telnyx, Twilio, Vonage), applied to the call's end
whichever comes first; every test runs on both stores."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from payload_cases import DATA
from test_webhooks_e2e import ENV, Signed, plivo, telnyx, twilio, vonage

from hangup import ingest
from hangup.causes import default_catalog
from hangup.composition import open_store
from hangup.providers.registry import providers
from hangup.records import CallRecord
from hangup.stats import rebuild, rollup_reads, rollups
from hangup.stats.db import StatsDB
from hangup.store import detections
from hangup.store.base import Store
from hangup.store.digest import digest
from hangup.store.schema import DETECTIONS_TABLE

TELNYX_LEG = "e1f2a3b4-c5d6-11ee-8a9b-02420a0d7f11"
VONAGE_UUID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
PLIVO_UUID = "70ce9e67-9a4b-4b4a-8c8e-5b7f0d2e1a11"
TWILIO_END = (DATA / "twilio/completed.form").read_bytes().rstrip(b"\n")
TWILIO_SID = "CA0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # the call of twilio/completed.form


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


def _twilio(answered_by: str) -> bytes:
    """Twilio's ``AsyncAmdStatusCallback`` request, built (not captured) from the parameters Twilio documents for
    it: AccountSid, CallSid, AnsweredBy and MachineDetectionDuration in milliseconds
    (twilio.com/docs/voice/answering-machine-detection; the same four in Telnyx's Twilio-compatible TeXML AMD
    callback, developers.telnyx.com/api-reference/callbacks/texml-call-amd). The call is twilio/completed.form's."""
    return urlencode({"AccountSid": "AC95a1b2c3d4e5f60718293a4b5c6d7e8f", "CallSid": TWILIO_SID,
                      "AnsweredBy": answered_by, "MachineDetectionDuration": "2400"}).encode()


def _vonage(status: str) -> bytes:
    return json.dumps({"uuid": VONAGE_UUID, "conversation_uuid": "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
                       "status": status, "direction": "outbound", "timestamp": "2026-06-08T12:00:05.000Z"}).encode()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store the app of ``make_client`` writes to, on each back end."""
    url = f"sqlite:///{tmp_path}/calls.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = open_store(url)
    yield store
    store.close()


Case = tuple[str, Callable[[bytes, bool, float], Signed], bytes, Path, str]
CASES: list[Case] = [
    ("telnyx", telnyx, _telnyx("call.machine.detection.ended", "machine"), DATA / "telnyx/normal_clearing.json",
     "machine"),
    ("telnyx", telnyx, _telnyx("call.machine.premium.detection.ended", "human_residence"),
     DATA / "telnyx/normal_clearing.json", "human"),
    ("plivo", plivo, _plivo("true"), DATA / "plivo/completed_caller.form", "machine"),
    ("plivo", plivo, _plivo("false"), DATA / "plivo/completed_caller.form", "human"),
    ("twilio", twilio, _twilio("machine_end_beep"), DATA / "twilio/completed.form", "machine"),
    ("twilio", twilio, _twilio("human"), DATA / "twilio/completed.form", "human"),
    ("twilio", twilio, _twilio("fax"), DATA / "twilio/completed.form", "fax"),
    ("vonage", vonage, _vonage("human"), DATA / "vonage/completed.json", "human"),
    ("vonage", vonage, _vonage("machine"), DATA / "vonage/completed.json", "machine"),
]


def _post(client: Any, platform: str, sign: Callable[[bytes, bool, float], Signed], body: bytes) -> Any:
    return _post_signed(client, platform, sign(body, True, time.time()))


def _post_signed(client: Any, platform: str, signed: Signed) -> Any:
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


_PLIVO_END = (DATA / "plivo/completed_caller.form").read_bytes().rstrip(b"\n")
#: The platforms' call ends of ``CASES``, and Plivo's with a reading of its own in the end event (``Machine``, as
#: a hangup callback of a call placed with synchronous detection carries it).
ENDS: dict[str, bytes] = {"telnyx": (DATA / "telnyx/normal_clearing.json").read_bytes(), "plivo": _PLIVO_END,
                          "plivo-own": _PLIVO_END + b"&Machine=false", "twilio": TWILIO_END,
                          # a status callback of a call placed with synchronous detection carries AnsweredBy itself
                          "twilio-own": TWILIO_END + b"&AnsweredBy=human",
                          "vonage": (DATA / "vonage/completed.json").read_bytes()}
DETECTIONS: dict[str, Callable[[str], bytes]] = {
    "telnyx": lambda result: _telnyx("call.machine.detection.ended", result), "plivo": _plivo, "twilio": _twilio,
    "vonage": _vonage}
SIGNERS: dict[str, Callable[[bytes, bool, float], Signed]] = {"telnyx": telnyx, "plivo": plivo, "twilio": twilio,
                                                              "vonage": vonage}
#: The native key of each platform's detection result, and what else of the request is kept with it.
RESULT_KEYS = {"telnyx": "result", "plivo": "Machine", "twilio": "AnsweredBy", "vonage": "status"}
KEPT_BESIDE = {"twilio": {"detection.MachineDetectionDuration": "2400"}}

# (platform, the posts in order: "end" or a detection's raw result, answered_by after the first end, at the end)
ORDERS: list[tuple[str, tuple[str, ...], str, str]] = [
    ("vonage", ("human", "end"), "human", "human"),
    ("vonage", ("end", "machine"), "unknown", "machine"),
    ("telnyx", ("end", "human_residence"), "unknown", "human"),
    ("telnyx", ("end", "fax_detected"), "unknown", "fax"),
    ("plivo", ("end", "false"), "unknown", "human"),
    ("twilio", ("machine_start", "end"), "machine", "machine"),
    ("twilio", ("end", "machine_end_silence"), "unknown", "machine"),
    ("twilio", ("end", "human", "unknown"), "unknown", "unknown"),
    ("twilio-own", ("end", "machine_end_other"), "human", "machine"),
    ("twilio", ("end", "fax", "end"), "unknown", "fax"),
    ("vonage", ("end", "human", "human"), "unknown", "human"),  # the same detection twice
    ("vonage", ("end", "human", "machine"), "unknown", "machine"),  # a second result: the latest wins
    ("telnyx", ("end", "human", "not_sure"), "unknown", "unknown"),
    # the end read its own Machine=false; the detection's own report wins in either order (detections.py)
    ("plivo-own", ("end", "true"), "human", "machine"),
    ("plivo-own", ("true", "end"), "machine", "machine"),
    # the platform retries the end after a late detection was applied: still one call, the same facts, no conflict
    ("vonage", ("end", "machine", "end"), "unknown", "machine"),
    ("telnyx", ("end", "human_residence", "end"), "unknown", "human"),
]


def _rollup_rows(store: Store) -> list[tuple[object, ...]]:
    with store.database.reading() as conn:  # type: ignore[attr-defined]
        return [tuple(row) for row in conn.execute(
            f"SELECT * FROM {rollups.TABLE} ORDER BY level, dim, bucket, value").fetchall()]


def _rebuilt_rows(store: Store) -> list[tuple[object, ...]]:
    db = StatsDB(store.url)
    try:
        rebuild.rebuild(db)
    finally:
        db.close()
    return _rollup_rows(store)


def _kept(store: Store, provider: str, call_id: str) -> dict[str, str] | None:
    """The fields of the detection kept for a call (``None``: none is)."""
    rows = store.database.read(  # type: ignore[attr-defined]
        f"SELECT fields FROM {DETECTIONS_TABLE} WHERE provider = ? AND provider_call_id = ?", (provider, call_id))
    return dict(json.loads(rows[0][0])) if rows else None


def _human_answers(store: Store, call: CallRecord) -> int:
    day = call.end_time - call.end_time % 86400
    with store.database.reading() as conn:  # type: ignore[attr-defined]
        return rollup_reads.totals(conn, day - 86400, day + 2 * 86400).answered_human


@pytest.mark.parametrize(("end", "posts", "after_end", "want"), ORDERS,
                         ids=[f"{o[0]}-{'-'.join(o[1])}" for o in ORDERS])
def test_a_detection_reads_on_the_stored_call_before_or_after_its_end(
        make_client: Any, fresh_store: Store, end: str, posts: tuple[str, ...], after_end: str, want: str) -> None:
    """The call, its extra and the rollups after each post: a late detection moves the call's human answer
    once (the live rollups equal a rebuild from the calls), one applied again changes nothing."""
    platform = end.split("-")[0]
    client = make_client(**ENV, HANGUP_MINUTE_ROLLUP_DAYS="0")  # the fixtures' calls are older than 8 days
    call: CallRecord | None = None
    for n, post in enumerate(posts):
        before = (digest(call), call.answered_by, _rollup_rows(fresh_store)) if call is not None else None
        answer = _post(client, platform, SIGNERS[platform], ENDS[end] if post == "end" else
                       DETECTIONS[platform](post))
        assert answer.status_code == 200, answer.text
        if post == "end":
            call_id = answer.json()["id"]
        elif call is None:
            assert answer.json() == {"ok": True, "stored": False} and fresh_store.count() == 0
            continue
        call = fresh_store.get(call_id)
        assert call is not None
        if post == "end":
            assert call.answered_by == (after_end if "end" not in posts[:n] else want)
        else:
            assert {k: v for k, v in call.extra.items() if k.startswith("detection.")} == {
                f"detection.{RESULT_KEYS[platform]}": post, **KEPT_BESIDE.get(platform, {})}
        assert _human_answers(fresh_store, call) == int(call.answered_by == "human")
        if n and posts[n - 1] == post and before is not None:
            assert (digest(call), call.answered_by, _rollup_rows(fresh_store)) == before
        live = _rollup_rows(fresh_store)
        assert live and _rebuilt_rows(fresh_store) == live
    assert call is not None and call.answered_by == want and fresh_store.count() == 1
    assert fresh_store.conflicts(call.id) == []  # a retried end is a duplicate, not a second version


def test_a_detection_for_a_call_not_stored_is_kept_for_its_end(make_client: Any, fresh_store: Store) -> None:
    client = make_client(**ENV)
    answer = _post(client, "vonage", vonage, _vonage("machine"))
    assert answer.status_code == 200 and answer.json() == {"ok": True, "stored": False}
    assert fresh_store.count() == 0
    assert _kept(fresh_store, "vonage", VONAGE_UUID) == {"status": "machine"}


_NUL = "ab\\u0000cd"  # a control character in a JSON id: PostgreSQL cannot hold it (it answered 503)
# (platform, the detection request, signed with the right key, the answer's status, the field it names)
REFUSED: list[tuple[str, bytes, bool, int, str]] = [
    ("twilio", _twilio("machine_start"), False, 403, "x-twilio-signature"),
    ("twilio", _twilio("machine_start").replace(f"CallSid={TWILIO_SID}&".encode(), b""), True, 400, "CallSid"),
    ("twilio", _twilio("human").replace(TWILIO_SID.encode(), b"CA1%00"), True, 400, "CallSid"),
    ("plivo", _plivo("true").replace(f"CallUUID={PLIVO_UUID}".encode(), b"CallUUID=ab%00cd"), True, 400,
     "CallUUID"),
    ("plivo", _plivo("true").replace(f"CallUUID={PLIVO_UUID}&".encode(), b""), True, 400, "CallUUID"),
    ("telnyx", _telnyx("call.machine.detection.ended", "human").replace(TELNYX_LEG.encode(), _NUL.encode()), True,
     400, "payload.call_leg_id"),
    ("vonage", _vonage("machine").replace(VONAGE_UUID.encode(), _NUL.encode()), True, 400, "uuid"),
]


@pytest.mark.parametrize(("platform", "body", "good", "status", "field"), REFUSED,
                         ids=[f"{r[0]}-{r[4]}-{n}" for n, r in enumerate(REFUSED)])
def test_a_detection_refused_is_quarantined_and_not_kept(
        make_client: Any, fresh_store: Store, platform: str, body: bytes, good: bool, status: int,
        field: str) -> None:
    signed = SIGNERS[platform](body, good, time.time())
    answer = _post_signed(make_client(**ENV), platform, signed)
    assert answer.status_code == status and [d["field"] for d in answer.json()["details"]] == [field]
    (entry,) = fresh_store.quarantined()
    assert (entry.provider, entry.status, entry.body) == (platform, status, body)
    assert fresh_store.database.read(f"SELECT COUNT(*) FROM {DETECTIONS_TABLE}")[0][0] == 0  # type: ignore[attr-defined]


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
            asyncio.run(store.write_with_hooks(lambda conn, hooks, call=call, age=age: detections.keep(
                conn, "plivo", call, {"Machine": "true"}, now - age, hooks)))
        assert detections.prune(url, now) == 1
        assert _kept(store, "plivo", "old") is None
        assert _kept(store, "plivo", "recent") == _kept(store, "plivo", "edge") == {"Machine": "true"}
        assert detections.prune(url, now) == 0
    finally:
        store.close()
