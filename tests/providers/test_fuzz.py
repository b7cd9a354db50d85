"""Whatever arrives, an adapter answers with a record, ``None`` or an ``HTTPError`` (a 4xx) — never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receiver_helpers import ClientFactory

from hangup.errors import Forbidden, HTTPError, Unauthorized
from hangup.providers.base import WebhookRequest
from hangup.providers.registry import get_provider
from hangup.store.base import Store

PLATFORMS = ["plivo", "twilio", "telnyx", "vonage", "freeswitch", "asterisk", "callcenter", "generic", "kamailio"]
KEYS = ["CallUUID", "CallSid", "CallStatus", "HangupCauseCode", "Duration", "StartTime", "uuid", "status", "detail",
        "duration", "start_time", "call_id", "cause", "causes", "data", "payload", "event_type", "hangup_cause",
        "variables", "disposition", "billsec", "Call Status", "Bye Reason", "answered", "direction", "extra",
        "v", "event", "setup_time", "end_time", "answer_time", "final_code", "final_reply_by", "bye_by", "reasons",
        "canceled", "timeout", "AnsweredBy", "MachineDetectionDuration", "Machine", "Event", "result",
        "call_leg_id"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["2026-06-08T10:00:00Z", "9999999999999999999", "-1",
                                                           "completed", "call.hangup", "NORMAL_CLEARING", "q850:16",
                                                           "9" * 5000, "\u00b2", "--5", "q850:\u00b2"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
                      max_leaves=12)
json_bodies = st.dictionaries(st.sampled_from(KEYS), values, max_size=8).map(lambda d: json.dumps(d).encode())
form_bodies = st.dictionaries(st.sampled_from(KEYS), st.text(max_size=20), max_size=8).map(
    lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode("utf-8", "surrogatepass"))
bodies = st.one_of(json_bodies, form_bodies, st.binary(max_size=200),
                   st.sampled_from([b"cdr=", b"cdr=%3Ccdr", b"<cdr><variables><uuid>x</uuid></variables></cdr>",
                                    b'{"data": {"event_type": "call.hangup", "payload": []}}', b"[]", b"null",
                                    b'{"call_id": "\\ud800", "CallUUID": "\\udfff", "uuid": "\\uDBFF",'
                                    b' "status": "busy",'
                                    b' "data": {"event_type": "call.hangup", "payload": {"call_leg_id": "\\ud800"}}}',
                                    b'{"call_id": "c1", "to": "\xed\xa0\x80", "status": "busy"}',
                                    '{"call_id": "\ud800"}'.encode("utf-16-le", "surrogatepass")]))
content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/xml", "text/csv",
                                 "application/x-www-form-base64-encoded", ""])


def _request(platform: str, body: bytes, content_type: str, method: str) -> WebhookRequest:
    """The generated body as the platform's callback would carry it: a GET's query or a POST's body."""
    query = body.decode("latin-1") if method == "GET" else ""
    return WebhookRequest(method, f"https://h/callbacks/{platform}", query, body if method == "POST" else b"",
                          {"content-type": content_type}, 1_780_000_000.0)


@pytest.mark.parametrize("platform", PLATFORMS)
@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(body=bodies, content_type=content_types, method=st.sampled_from(["GET", "POST"]))
def test_parse_never_crashes(platform: str, body: bytes, content_type: str, method: str) -> None:
    try:
        record = get_provider(platform).parse(_request(platform, body, content_type, method))
    except HTTPError as exc:
        assert 400 <= exc.status < 500 and exc.to_json()["ok"] is False
    else:  # what is accepted can be stored: no lone surrogate, which UTF-8 cannot hold
        json.dumps(record.to_json() if record else None, ensure_ascii=False).encode()


DETECTING = [p for p in PLATFORMS if hasattr(get_provider(p), "detection")]


@pytest.mark.parametrize("platform", DETECTING)
@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(body=bodies, content_type=content_types, method=st.sampled_from(["GET", "POST"]))
def test_a_detection_is_read_storable_or_refused(platform: str, body: bytes, content_type: str, method: str) -> None:
    """What ``detection`` reads is kept in the store: an id PostgreSQL can hold (no NUL), fields UTF-8 can."""
    try:
        found = get_provider(platform).detection(_request(platform, body, content_type, method))  # type: ignore[attr-defined]
    except HTTPError as exc:
        assert 400 <= exc.status < 500
        return
    if found is not None:
        call_id, fields = found
        assert call_id and "\x00" not in call_id
        json.dumps([call_id, fields], ensure_ascii=False).encode()  # fields are kept as JSON text (NUL escaped)


SECRETS = {"plivo_auth_token": "t", "twilio_auth_token": "t", "telnyx_public_key": "dGVzdA==",
           "vonage_signature_secret": "s" * 32, "freeswitch_basic_auth": "u:p", "asterisk_basic_auth": "u:p",
           "callcenter_basic_auth": "u:p", "generic_secret": "s"}
HEADER_NAMES = ["x-plivo-signature-v3", "x-plivo-signature-v3-nonce", "x-twilio-signature", "telnyx-timestamp",
                "telnyx-signature-ed25519", "authorization", "x-hangup-signature", "x-hangup-timestamp",
                "x-twilio-webhooks-signature-settings"]


@pytest.mark.parametrize(("platform", "headers"), [
    # a signature time of more digits than int() reads: a 400 naming only "request" (the adapter failed)
    ("generic", {"x-hangup-timestamp": "9" * 5000, "x-hangup-signature": "sha256=00"}),
    ("telnyx", {"telnyx-timestamp": "9" * 5000, "telnyx-signature-ed25519": "AA=="}),
])
def test_a_found_signature_time_is_refused_naming_its_header(platform: str, headers: dict[str, str]) -> None:
    request = WebhookRequest("POST", f"https://h/callbacks/{platform}", "", b"{}", headers, 1_780_000_000.0)
    with pytest.raises(Unauthorized) as refused:
        get_provider(platform).verify(request, SECRETS)
    assert refused.value.details[0]["field"] in headers


@pytest.mark.parametrize("platform", PLATFORMS)
@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(headers=st.dictionaries(st.sampled_from(HEADER_NAMES),
                               st.one_of(st.text(max_size=40), st.sampled_from(["Bearer a.b.c", "Basic dTpw",
                                                                               "1780000000", "Basic %%"])),
                               max_size=5),
       body=st.binary(max_size=64))
def test_verify_only_refuses(platform: str, headers: dict[str, str], body: bytes) -> None:
    request = WebhookRequest("POST", f"https://h/callbacks/{platform}", "", body, headers, 1_780_000_000.0)
    try:
        get_provider(platform).verify(request, SECRETS)
    except (Unauthorized, Forbidden):
        pass


DATA = Path(__file__).resolve().parent.parent / "data"
BIG = "9" * 5000  # int() refuses over 4300 digits (ValueError)
FORM, JSON = "application/x-www-form-urlencoded", "application/json"


def _data(relative: str, old: bytes = b"", new: bytes = b"") -> bytes:
    return (DATA / relative).read_bytes().strip().replace(old, new)


#: Inputs that once broke the receiver's rules (found by longer runs of the generators above, each minimised):
#: (platform, headers, body, status, field the 4xx names). Before: a 503, or a 400 naming only "request".
FOUND = [
    # a lone surrogate as UTF-8 bytes, which json.loads of bytes decodes: stored, it failed the commit (503)
    ("callcenter", {"content-type": JSON}, b'{"call_id": "c1", "to": "\xed\xa0\x80", "call_status": "Busy"}',
     400, "body"),
    # the same in a UTF-16 body, which json.loads also reads
    ("generic", {"content-type": JSON}, '{"call_id": "\ud800"}'.encode("utf-16-le", "surrogatepass"), 400, "body"),
    ("plivo", {"content-type": FORM}, _data("plivo/busy.form", b"StartTime=2026-06-08+12%3A01%3A05",
                                            f"StartTime={BIG}".encode()), 400, "StartTime"),
    # a cause code or SIP status of more digits than int() reads: not one, the call is stored
    ("telnyx", {"content-type": JSON}, _data("telnyx/rejected.json", b"call_rejected", BIG.encode()), 200, ""),
    ("vonage", {"content-type": JSON},
     _data("vonage/rejected_declined.json", b'"status"', f'"sip_code":"{BIG}","status"'.encode()), 200, ""),
    # a Content-Length int() refused: a 503 before the body was read
    ("plivo", {"content-type": FORM, "content-length": BIG}, _data("plivo/busy.form"), 413, ""),
    ("plivo", {"content-type": FORM, "content-length": b"\xb2"}, _data("plivo/busy.form"), 200, ""),  # "²" in latin-1
]


@pytest.mark.parametrize(("platform", "headers", "body", "status", "field"), FOUND)
def test_found_inputs_are_refused_naming_the_field_or_stored(
        make_client: ClientFactory, fresh_store: Store, platform: str, headers: dict[str, str | bytes], body: bytes,
        status: int, field: str) -> None:
    client = make_client(**{f"HANGUP_{platform.upper()}_ACCEPT_UNSIGNED": "1"})
    response = client.post(f"/callbacks/{platform}", content=body, headers=headers)
    assert response.status_code == status, response.text
    if field:
        assert field in {detail["field"] for detail in response.json()["details"]}
        assert fresh_store.quarantine_count() == 1
    assert fresh_store.count() == (1 if status == 200 else 0)
