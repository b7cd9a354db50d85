from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest
from payload_cases import BASE_URL, cases, compare, expected, request_for
from twilio.request_validator import RequestValidator

from hangup.errors import Forbidden, HTTPError, Unauthorized
from hangup.providers.base import WebhookRequest
from hangup.providers.twilio import PROVIDER

TOKEN = "12345678901234567890123456789012"
URL = BASE_URL + "twilio"
SECRETS = {"twilio_auth_token": TOKEN}


@pytest.mark.parametrize("payload", cases("twilio"), ids=lambda p: p.name)
def test_recorded_callbacks(payload: Path) -> None:
    want = expected(payload)
    record = PROVIDER.parse(request_for(payload, "twilio"))
    if want is None:
        assert record is None
    else:
        assert record is not None
        compare(record, want)
        assert record.extra["CallSid"] == record.provider_call_id


def _params() -> dict[str, str]:
    body = (Path(__file__).parent.parent / "data/twilio/busy.form").read_text().strip()
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _post(url: str, params: dict[str, str], signature: str, extra: dict[str, str] | None = None) -> WebhookRequest:
    headers = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature, **(extra or {})}
    return WebhookRequest("POST", url, url.partition("?")[2], urlencode(params).encode(), headers)


@pytest.mark.parametrize(
    ("signed_url", "received_url"),
    [
        (URL, URL),
        (URL + "?tenant=acme", URL + "?tenant=acme"),
        ("https://hangup.example.com:443/callbacks/twilio", URL),  # signed with the port, received without
        (URL, "https://hangup.example.com:443/callbacks/twilio"),
    ],
)
def test_sdk_signed_form_post_is_accepted(signed_url: str, received_url: str) -> None:
    params = _params()
    signature = RequestValidator(TOKEN).compute_signature(signed_url, params)
    assert RequestValidator(TOKEN).validate(received_url, params, signature)
    PROVIDER.verify(_post(received_url, params, signature), SECRETS)


def test_sha256_shared_key_signature_is_accepted() -> None:
    params = _params()
    signature = RequestValidator(TOKEN).compute_signature(URL, params, "HMAC_SHA256")
    settings = {"x-twilio-webhooks-signature-settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
    PROVIDER.verify(_post(URL, params, signature, settings), SECRETS)


def test_json_body_is_covered_by_body_sha256() -> None:
    body = b'{"CallSid":"CA1","CallStatus":"completed"}'
    url = f"{URL}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = RequestValidator(TOKEN).compute_signature(url, {})
    assert RequestValidator(TOKEN).validate(url, body.decode(), signature)
    headers = {"content-type": "application/json", "x-twilio-signature": signature}
    PROVIDER.verify(WebhookRequest("POST", url, url.partition("?")[2], body, headers), SECRETS)
    with pytest.raises(Forbidden):
        PROVIDER.verify(WebhookRequest("POST", url, url.partition("?")[2], body + b" ", headers), SECRETS)


@pytest.mark.parametrize(
    ("change", "error"),
    [("tampered", Forbidden), ("wrong_key", Forbidden), ("other_url", Forbidden), ("missing", Unauthorized),
     ("bad_algorithm", Forbidden)],
)
def test_bad_signatures_are_rejected(change: str, error: type[HTTPError]) -> None:
    params = _params()
    token = "0" * 32 if change == "wrong_key" else TOKEN
    signature = RequestValidator(token).compute_signature(URL + ("/x" if change == "other_url" else ""), params)
    if change == "tampered":
        params["CallStatus"] = "completed"
    request = _post(URL, params, "" if change == "missing" else signature,
                    {"x-twilio-webhooks-signature-settings": "algorithm=HMAC_MD5"} if change == "bad_algorithm" else {})
    with pytest.raises(error):
        PROVIDER.verify(request, SECRETS)


def test_unsigned_traffic_needs_explicit_consent() -> None:
    request = _post(URL, _params(), "")
    with pytest.raises(Unauthorized):
        PROVIDER.verify(request, {})
    PROVIDER.verify(request, {"twilio_accept_unsigned": "1"})


@pytest.mark.parametrize("status", ["completed", "busy", "no-answer", "canceled", "failed"])
def test_every_final_status_classifies(status: str) -> None:
    body = urlencode({"CallSid": "CA1", "CallStatus": status, "CallDuration": "0"}).encode()
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", body))
    assert record is not None and record.cause == f"twilio-status:{status}" and record.outcome != "unknown"


@pytest.mark.parametrize("status", ["queued", "initiated", "ringing", "in-progress", "answered"])
def test_progress_statuses_are_not_call_ends(status: str) -> None:
    body = urlencode({"CallSid": "CA1", "CallStatus": status}).encode()
    assert PROVIDER.parse(WebhookRequest("POST", URL, "", body)) is None


def test_missing_status_is_named() -> None:
    with pytest.raises(HTTPError) as caught:
        PROVIDER.parse(WebhookRequest("POST", URL, "", b"CallSid=CA1&CallDuration=x"))
    assert {d["field"] for d in caught.value.details} == {"CallStatus", "CallDuration"}


@pytest.mark.parametrize(("source", "ended_by"), [("callee", "callee"), ("caller", "caller"), ("", "unknown")])
def test_hangup_source_of_twilio_compatible_callbacks_says_who_ended(source: str, ended_by: str) -> None:
    # Telnyx TeXML's completed callback, as its documentation shows it ("HangupSource": "callee").
    params = {"AccountSid": "cb6cfbbc-eb00-41af-a3f3-0d7b32009e4b", "CallDuration": "2",
              "CallSid": "v2:7V3r4VFCGLTzKLOveE0", "CallStatus": "completed",
              "CallbackSource": "call-progress-events", "From": "+18445550100", "HangupSource": source,
              "SequenceNumber": "0", "Timestamp": "2021-04-28 21:51:18.731479Z", "To": "+13125550101"}
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", urlencode(params).encode()))
    assert record is not None and (record.outcome, record.ended_by, record.duration) == ("completed", ended_by, 2)


@pytest.mark.parametrize(("code", "sip"), [("404", 404), ("0", None), ("16", None)])
def test_sip_response_code_kept_only_when_it_is_a_sip_status(code: str, sip: int | None) -> None:
    body = urlencode({"CallSid": "CA1", "CallStatus": "failed", "SipResponseCode": code}).encode()
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", body))
    assert record is not None and record.sip == sip


#: The AsyncAmdStatusCallback request's parameters as Twilio documents them
#: (twilio.com/docs/voice/answering-machine-detection): built from that list, not a captured request.
AMD = {"AccountSid": "AC95a1b2c3d4e5f60718293a4b5c6d7e8f", "CallSid": "CA0f1e2d3c4b5a69788796a5b4c3d2e1f0",
       "AnsweredBy": "machine_end_beep", "MachineDetectionDuration": "2400"}


@pytest.mark.parametrize(("method", "params", "found"), [
    ("POST", AMD, ("CA0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                   {"AnsweredBy": "machine_end_beep", "MachineDetectionDuration": "2400"})),
    ("GET", AMD, ("CA0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                  {"AnsweredBy": "machine_end_beep", "MachineDetectionDuration": "2400"})),
    ("POST", {**AMD, "AnsweredBy": "unknown"}, ("CA0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                                                {"AnsweredBy": "unknown", "MachineDetectionDuration": "2400"})),
    # a status callback of a call with synchronous detection carries AnsweredBy: a call end, not a detection
    ("POST", {**AMD, "CallStatus": "completed"}, None),
    ("POST", {**AMD, "CallStatus": "in-progress"}, None),
    ("POST", {"CallSid": "CA1", "CallStatus": "ringing"}, None),
])
def test_async_amd_callback_is_a_detection_not_a_call_end(
        method: str, params: dict[str, str], found: tuple[str, dict[str, str]] | None) -> None:
    body = urlencode(params)
    request = (WebhookRequest("GET", URL + "?" + body, body, b"") if method == "GET"
               else WebhookRequest("POST", URL, "", body.encode()))
    assert PROVIDER.detection(request) == found
    if found is not None:
        assert PROVIDER.parse(request) is None


@pytest.mark.parametrize(("params", "error"), [
    ({k: v for k, v in AMD.items() if k != "CallSid"}, "required"),
    ({**AMD, "CallSid": " "}, "required"),
    ({**AMD, "CallSid": "CA1\x00"}, "contains a control character"),
])
def test_async_amd_callback_without_its_call_is_refused_naming_call_sid(params: dict[str, str], error: str) -> None:
    with pytest.raises(HTTPError) as caught:
        PROVIDER.parse(WebhookRequest("POST", URL, "", urlencode(params).encode()))
    assert caught.value.status == 400 and caught.value.details == [{"field": "CallSid", "error": error}]


def test_async_amd_callback_signed_by_the_sdk_is_verified() -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, AMD)
    PROVIDER.verify(_post(URL, AMD, signature), SECRETS)
    with pytest.raises(Forbidden):
        PROVIDER.verify(_post(URL, {**AMD, "AnsweredBy": "human"}, signature), SECRETS)


# SignalWire's compatibility API (tests/data/real/twilio/signalwire-python-captured-*.form): the SIP status is
# ``SipResultCode`` and who hung up is ``HangupBy``, the address of that party (the call's From or To).
SIGNALWIRE = {"CallSid": "a97d4e8a-6047-4e2b-be48-fb96b33b5642", "CallStatus": "no-answer",
              "From": "sip:+17065550140@sip.swire.io", "To": "sip:agent@example.sip.swire.io"}


@pytest.mark.parametrize(("extra", "sip", "ended_by"), [
    ({"SipResultCode": "487", "HangupBy": "sip:+17065550140@sip.swire.io"}, 487, "caller"),
    ({"SipResultCode": "486", "HangupBy": "sip:agent@example.sip.swire.io"}, 486, "callee"),
    ({"SipResultCode": "487", "HangupBy": "sip:someone-else@example.com"}, 487, "callee"),  # the status's word
    ({"SipResultCode": "487", "SipResponseCode": "480"}, 480, "callee"),  # Twilio's own name wins
    ({"SipResultCode": "487", "HangupSource": "callee", "HangupBy": "sip:+17065550140@sip.swire.io"}, 487, "callee"),
    ({}, 480, "callee"),  # no SIP status sent: the catalog's equivalent of no-answer
])
def test_signalwire_names_its_sip_status_and_the_party_that_hung_up(extra: dict[str, str], sip: int,
                                                                    ended_by: str) -> None:
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", urlencode(SIGNALWIRE | extra).encode()))
    assert record is not None and (record.outcome, record.sip, record.ended_by) == ("no_answer", sip, ended_by)


def test_signalwire_sip_result_code_that_is_not_a_number_is_named() -> None:
    with pytest.raises(HTTPError) as caught:
        PROVIDER.parse(WebhookRequest("POST", URL, "", urlencode(SIGNALWIRE | {"SipResultCode": "x"}).encode()))
    assert {d["field"] for d in caught.value.details} == {"SipResultCode"}


#: SignalWire's SDK's captured callbacks (both of outbound calls), their ``HangupBy`` taken away: ``HangupDirection``
#: alone says who hung up, as ``HangupBy`` did (the busy one's ``inbound``: the callee; the unanswered one's
#: ``outbound``: the caller, where the status alone would say the callee).
@pytest.mark.parametrize(("name", "ended_by"), [
    ("signalwire-python-captured-busy.form", "callee"),
    ("signalwire-python-captured-no-answer.form", "caller"),
])
def test_signalwire_hangup_direction_of_a_recorded_callback_without_hangup_by(name: str, ended_by: str) -> None:
    body = (Path(__file__).parent.parent / "data/real/twilio" / name).read_text().strip()
    params = {k: v[0] for k, v in parse_qs(body).items() if k != "HangupBy"}
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", urlencode(params).encode()))
    assert record is not None and record.ended_by == ended_by
    assert record.extra["HangupDirection"] == params["HangupDirection"]


@pytest.mark.parametrize(("extra", "ended_by"), [
    ({"Direction": "outbound-api", "HangupDirection": "outbound"}, "caller"),
    ({"Direction": "outbound-dial", "HangupDirection": "Outbound"}, "caller"),
    ({"Direction": "outbound-api", "HangupDirection": "inbound"}, "callee"),
    ({"Direction": "outbound-api", "HangupDirection": "sideways"}, "callee"),  # no value it sends: the status's word
    # HangupBy, when sent, says it
    ({"Direction": "outbound-api", "HangupDirection": "outbound", "HangupBy": "sip:agent@example.sip.swire.io"},
     "callee"),
    # of an inbound call no recorded callback tells which side each value is: kept in extra, not read
    ({"Direction": "inbound", "HangupDirection": "outbound"}, "callee"),
    ({"HangupDirection": "outbound"}, "callee"),  # no call direction
])
def test_signalwire_hangup_direction_is_read_for_outbound_calls_without_hangup_by(extra: dict[str, str],
                                                                                  ended_by: str) -> None:
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", urlencode(SIGNALWIRE | extra).encode()))
    assert record is not None and (record.outcome, record.ended_by) == ("no_answer", ended_by)
    assert record.extra["HangupDirection"] == extra["HangupDirection"]
