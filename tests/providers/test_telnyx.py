from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from payload_cases import BASE_URL, RECEIVED_AT, cases, compare, expected, request_for

from hangup.errors import Forbidden, HTTPError, PayloadError, Unauthorized
from hangup.providers.base import WebhookRequest
from hangup.providers.telnyx import PROVIDER, TOLERANCE

KEY = SigningKey(b"k" * 32)
SECRETS = {"telnyx_public_key": base64.b64encode(bytes(KEY.verify_key)).decode()}
URL = BASE_URL + "telnyx"
BODY = (Path(__file__).parent.parent / "data/telnyx/rejected.json").read_bytes()


@pytest.mark.parametrize("payload", cases("telnyx"), ids=lambda p: p.name)
def test_recorded_webhooks(payload: Path) -> None:
    want = expected(payload)
    record = PROVIDER.parse(request_for(payload, "telnyx"))
    if want is None:
        assert record is None
    else:
        assert record is not None
        compare(record, want)


def _signed(body: bytes, stamp: int, key: SigningKey = KEY) -> dict[str, str]:
    signature = key.sign(str(stamp).encode() + b"|" + body).signature
    return {"telnyx-signature-ed25519": base64.b64encode(signature).decode(), "telnyx-timestamp": str(stamp),
            "content-type": "application/json"}


def _request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest("POST", URL, "", body, headers, RECEIVED_AT)


def test_signed_webhook_is_accepted() -> None:
    PROVIDER.verify(_request(BODY, _signed(BODY, int(RECEIVED_AT) - 5)), SECRETS)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("tampered", Forbidden),
        ("wrong_key", Forbidden),
        ("stale", Forbidden),
        ("future", Forbidden),
        ("other_timestamp", Forbidden),
        ("short_signature", Forbidden),
        ("no_signature", Unauthorized),
        ("no_timestamp", Unauthorized),
    ],
)
def test_bad_signatures_are_rejected(change: str, error: type[HTTPError]) -> None:
    skew = {"stale": -(TOLERANCE + 1), "future": TOLERANCE + 1}.get(change, 0)
    stamp = int(RECEIVED_AT) + skew
    headers = _signed(BODY, stamp, SigningKey(b"x" * 32) if change == "wrong_key" else KEY)
    body = BODY.replace(b"call_rejected", b"normal_clearing") if change == "tampered" else BODY
    if change == "other_timestamp":
        headers["telnyx-timestamp"] = str(stamp - 1)
    if change == "short_signature":
        headers["telnyx-signature-ed25519"] = base64.b64encode(b"abc").decode()
    if change == "no_signature":
        del headers["telnyx-signature-ed25519"]
    if change == "no_timestamp":
        del headers["telnyx-timestamp"]
    with pytest.raises(error):
        PROVIDER.verify(_request(body, headers), SECRETS)


def test_unsigned_traffic_needs_explicit_consent() -> None:
    with pytest.raises(Unauthorized):
        PROVIDER.verify(_request(BODY, {}), {})
    PROVIDER.verify(_request(BODY, {}), {"telnyx_accept_unsigned": "yes"})


TELNYX_CAUSES = ["call_rejected", "normal_clearing", "originator_cancel", "timeout", "time_limit", "user_busy",
                 "not_found", "no_answer"]


@pytest.mark.parametrize("cause", TELNYX_CAUSES)
def test_every_documented_cause_classifies(cause: str) -> None:
    body = json.dumps({"data": {"event_type": "call.hangup", "payload": {"call_leg_id": "l1", "hangup_cause": cause,
                                                                         "hangup_source": "caller"}}}).encode()
    record = PROVIDER.parse(_request(body, {}))
    assert record is not None and record.cause == f"telnyx-cause:{cause}" and record.outcome != "unknown"


@pytest.mark.parametrize("source", ["caller", "callee"])
def test_hangup_source_decides_who_ended(source: str) -> None:
    body = json.dumps({"data": {"event_type": "call.hangup", "payload": {"call_leg_id": "l1",
                       "hangup_cause": "normal_clearing", "hangup_source": source}}}).encode()
    record = PROVIDER.parse(_request(body, {}))
    assert record is not None and record.ended_by == source


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"data": {"event_type": "call.hangup"}}'])
def test_malformed_bodies_name_the_field(body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        PROVIDER.parse(_request(body, {}))
    assert caught.value.details and caught.value.details[0]["field"]


@pytest.mark.parametrize(("sip_hangup_cause", "sip"), [("486", 486), ("200", 200), ("16", None), ("", None)])
def test_sip_hangup_cause_is_kept_only_when_it_is_a_sip_status(sip_hangup_cause: str, sip: int | None) -> None:
    # Telnyx's own example of a caller's hang-up carries "sip_hangup_cause": "16", the Q.850 value.
    body = json.dumps({"data": {"event_type": "call.hangup", "payload": {
        "call_leg_id": "l1", "hangup_cause": "normal_clearing", "hangup_source": "caller",
        "sip_hangup_cause": sip_hangup_cause}}}).encode()
    record = PROVIDER.parse(_request(body, {}))
    assert record is not None and record.outcome == "completed"
    assert record.sip == sip
    assert (f"sip:{sip_hangup_cause}" in record.causes) == (sip is not None)
    assert record.extra["sip_hangup_cause"] == sip_hangup_cause


# -- REST history (``hangup import``): GET /v2/call_events and GET /v2/detail_records -----------------------
REAL_CALL_EVENTS = Path(__file__).resolve().parents[1] / "data/real/telnyx/mock-spec-call-events.export.json"
LEG = "308fe500-5213-11e9-ace7-02420a0f0668"


def _rest(item: dict[str, object]) -> WebhookRequest:
    return WebhookRequest("POST", "", "", json.dumps(item).encode(), {"content-type": "application/json"},
                          RECEIVED_AT, "hangup import")


def _real_call_event(**changes: object) -> dict[str, object]:
    """The documented ``call.hangup`` call event (telnyx-mock spec3.json), with ``changes``."""
    event: dict[str, object] = json.loads(REAL_CALL_EVENTS.read_text())["data"][0]
    return {**event, **changes}


#: A voice detail record with the keys of Telnyx's documented ``webrtc_detail_record`` example.
WEBRTC = {"record_type": "webrtc_detail_record", "id": "4b679aae-b7e7-11ef-9fe0-02420aef3920",
          "telnyx_leg_id": "4b679aae-b7e7-11ef-9fe0-02420aef3920", "session_id": "63149763-3850-4f9a",
          "telnyx_session_id": "4b679edc-b7e7-11ef-adfb-02420aef3920", "cli": "+15125550101", "cld": "+18005550102",
          "direction": "outbound", "connection_id": "2519141575053804765", "started_at": "2024-12-11T17:42:30Z",
          "finished_at": "2024-12-11T17:43:24Z", "call_sec": 50, "billed_sec": 60}


@pytest.mark.parametrize(
    ("item", "want"),
    [
        # the documented example: a leg's end, nothing said of why
        (_real_call_event(), {"provider_call_id": LEG, "end_time": 1553857819, "cause": "", "answered": False}),
        # metadata holding the logged webhook (its layout is not documented: each form hangup reads)
        (_real_call_event(metadata={"data": {"payload": {"hangup_cause": "user_busy", "hangup_source": "callee"}}}),
         {"provider_call_id": LEG, "cause": "telnyx-cause:user_busy", "outcome": "busy", "ended_by": "callee"}),
        (_real_call_event(metadata={"payload": {"hangup_cause": "timeout", "sip_hangup_cause": "480"}}),
         {"cause": "telnyx-cause:timeout", "sip": 480}),
        (_real_call_event(metadata={"hangup_cause": "normal_clearing", "start_time": "2019-03-29T11:09:19Z"}),
         {"cause": "telnyx-cause:normal_clearing", "setup_time": 1553857759, "duration": 60,
          "flags": ["duration_includes_ringing"]}),
        # other events of the leg are not its end
        (_real_call_event(name="call.answered"), None),
        (_real_call_event(name="call.initiated", type="command"), None),
        # a voice detail record: one leg, call_sec its talk time
        (WEBRTC, {"provider_call_id": WEBRTC["telnyx_leg_id"], "from_e164": "+15125550101", "direction": "outbound",
                  "setup_time": 1733938950, "start_time": 1733938954, "end_time": 1733939004, "duration": 50,
                  "answered": True, "route": "2519141575053804765", "cause": ""}),
        ({**WEBRTC, "record_type": "sip-trunking", "telnyx_leg_id": None, "call_leg_id": "leg-2", "call_sec": 0,
          "hangup_cause": "user_busy", "sip_hangup_cause": "486"},
         {"provider_call_id": "leg-2", "answered": False, "duration": 0, "start_time": 0, "outcome": "busy",
          "sip": 486}),
        # detail records of other products are not call ends
        ({"record_type": "message_detail_record", "uuid": "m-1", "cli": "+15125550101"}, None),
        ({"record_type": "conference_participant_detail_record", "call_leg_id": "leg-3", "call_sec": 9}, None),
    ],
)
def test_rest_history_records(item: dict[str, object], want: dict[str, object] | None) -> None:
    record = PROVIDER.parse(_rest(item))
    if want is None:
        assert record is None
        return
    assert record is not None
    assert {k: getattr(record, k) if k != "flags" else list(record.flags) for k in want} == want
    assert PROVIDER.reclassify(record) == record  # its raw is the REST record, read again the same way


def test_a_detail_record_without_a_leg_is_refused_naming_it() -> None:
    with pytest.raises(PayloadError) as caught:
        PROVIDER.parse(_rest({**WEBRTC, "telnyx_leg_id": "", "id": ""}))
    assert caught.value.to_json()["details"][0]["field"] == "telnyx_leg_id"


def test_call_event_pages_saved_one_after_another_import_once(tmp_path: Path) -> None:
    from hangup.importer.run import Importer, guess_format
    from hangup.store.sqlite import SQLiteStore

    page = REAL_CALL_EVENTS.read_text()
    second = json.dumps({"data": [_real_call_event(name="call.bridged"),
                                  {**WEBRTC, "record_type": "webrtc"}], "meta": {"page_number": 2}})
    path = tmp_path / "history.json"
    path.write_text(page + page + second)  # page 1 fetched twice, then page 2: curl appending each page
    assert guess_format(path.name, path.read_text()[:8192]) == "telnyx"
    store = SQLiteStore(str(tmp_path / "calls.db"))
    summary = Importer(store, rejects_path=str(tmp_path / "rejects.jsonl")).run([str(path)], None).to_json()
    assert {k: summary[k] for k in ("imported", "duplicates", "ignored", "rejected")} == {
        "imported": 2, "duplicates": 1, "ignored": 1, "rejected": 0}
