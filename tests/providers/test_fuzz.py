"""Whatever arrives, an adapter answers with a record, ``None`` or an ``HTTPError`` (a 4xx) — never a crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hangup.errors import Forbidden, HTTPError, Unauthorized
from hangup.providers.base import WebhookRequest
from hangup.providers.registry import get_provider

PLATFORMS = ["plivo", "twilio", "telnyx", "vonage", "freeswitch", "asterisk", "callcenter", "generic", "kamailio"]
KEYS = ["CallUUID", "CallSid", "CallStatus", "HangupCauseCode", "Duration", "StartTime", "uuid", "status", "detail",
        "duration", "start_time", "call_id", "cause", "causes", "data", "payload", "event_type", "hangup_cause",
        "variables", "disposition", "billsec", "Call Status", "Bye Reason", "answered", "direction", "extra",
        "v", "event", "setup_time", "end_time", "answer_time", "final_code", "final_reply_by", "bye_by", "reasons",
        "canceled", "timeout"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["2026-06-08T10:00:00Z", "9999999999999999999", "-1",
                                                           "completed", "call.hangup", "NORMAL_CLEARING", "q850:16"]))
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
                                    b' "data": {"event_type": "call.hangup", "payload": {"call_leg_id": "\\ud800"}}}']))
content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/xml", "text/csv",
                                 "application/x-www-form-base64-encoded", ""])


@pytest.mark.parametrize("platform", PLATFORMS)
@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(body=bodies, content_type=content_types, method=st.sampled_from(["GET", "POST"]))
def test_parse_never_crashes(platform: str, body: bytes, content_type: str, method: str) -> None:
    query = body.decode("latin-1") if method == "GET" else ""
    request = WebhookRequest(method, f"https://h/callbacks/{platform}", query, body if method == "POST" else b"",
                             {"content-type": content_type}, 1_780_000_000.0)
    try:
        get_provider(platform).parse(request)
    except HTTPError as exc:
        assert 400 <= exc.status < 500 and exc.to_json()["ok"] is False


SECRETS = {"plivo_auth_token": "t", "twilio_auth_token": "t", "telnyx_public_key": "dGVzdA==",
           "vonage_signature_secret": "s" * 32, "freeswitch_basic_auth": "u:p", "asterisk_basic_auth": "u:p",
           "callcenter_basic_auth": "u:p", "generic_secret": "s"}
HEADER_NAMES = ["x-plivo-signature-v3", "x-plivo-signature-v3-nonce", "x-twilio-signature", "telnyx-timestamp",
                "telnyx-signature-ed25519", "authorization", "x-hangup-signature", "x-hangup-timestamp",
                "x-twilio-webhooks-signature-settings"]


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
