from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from payload_cases import BASE_URL, RECEIVED_AT, cases, compare, expected, request_for

from hangup.errors import Forbidden, HTTPError, Unauthorized
from hangup.providers.base import WebhookRequest
from hangup.providers.vonage import MAX_AGE, PROVIDER

SECRET = "signature-secret-0123456789abcdef"
SECRETS = {"vonage_signature_secret": SECRET}
URL = BASE_URL + "vonage"
BODY = (Path(__file__).parent.parent / "data/vonage/completed.json").read_bytes()


@pytest.mark.parametrize("payload", cases("vonage"), ids=lambda p: p.name)
def test_recorded_events(payload: Path) -> None:
    want = expected(payload)
    record = PROVIDER.parse(request_for(payload, "vonage"))
    if want is None:
        assert record is None
    else:
        assert record is not None
        compare(record, want)


def _token(body: bytes, secret: str = SECRET, **claims: Any) -> str:
    payload = {"iat": int(RECEIVED_AT) - 2, "jti": "a1b2", "api_key": "abcd1234",
               "application_id": "aaaaaaaa-0000-1111-2222-333333333333",
               "payload_hash": hashlib.sha256(body).hexdigest(), **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")


def _request(body: bytes, authorization: str | None) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    return WebhookRequest("POST", URL, "", body, headers, RECEIVED_AT)


def test_signed_event_is_accepted() -> None:
    PROVIDER.verify(_request(BODY, "Bearer " + _token(BODY)), SECRETS)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("tampered", Forbidden),
        ("wrong_secret", Forbidden),
        ("no_payload_hash", Forbidden),
        ("stale", Forbidden),
        ("expired", Forbidden),
        ("no_iat", Forbidden),
        ("iat_not_a_number", Forbidden),
        ("not_bearer", Unauthorized),
        ("missing", Unauthorized),
        ("garbage", Forbidden),
    ],
)
def test_bad_tokens_are_rejected(change: str, error: type[HTTPError]) -> None:
    claims: dict[str, Any] = {}
    if change == "no_payload_hash":
        claims["payload_hash"] = None
    if change == "stale":
        claims["iat"] = int(RECEIVED_AT) - MAX_AGE - 10
    if change == "expired":
        claims["exp"] = 1_000_000
    if change == "no_iat":
        claims["iat"] = None
    if change == "iat_not_a_number":
        claims["iat"] = "soon"
    token = _token(BODY, "another-secret-of-thirty-two-bytes!" if change == "wrong_secret" else SECRET, **claims)
    body = BODY.replace(b'"duration":"8"', b'"duration":"80"') if change == "tampered" else BODY
    authorization = {"not_bearer": "Basic " + token, "missing": None, "garbage": "Bearer abc.def.ghi"}.get(
        change, "Bearer " + token)
    with pytest.raises(error):
        PROVIDER.verify(_request(body, authorization), SECRETS)


def test_unsigned_traffic_needs_explicit_consent() -> None:
    with pytest.raises(Unauthorized):
        PROVIDER.verify(_request(BODY, None), {})
    PROVIDER.verify(_request(BODY, None), {"vonage_accept_unsigned": "1"})


STATUSES = ["completed", "busy", "cancelled", "failed", "rejected", "timeout", "unanswered"]
DETAILS = ["invalid_number", "restricted", "declined", "cannot_route", "number_out_of_service", "internal_error",
           "carrier_timeout", "unavailable", "timeout"]


@pytest.mark.parametrize("status", STATUSES)
def test_every_final_status_classifies(status: str) -> None:
    body = json.dumps({"uuid": "u1", "status": status}).encode()
    record = PROVIDER.parse(_request(body, None))
    assert record is not None and record.cause == f"vonage-status:{status}" and record.outcome != "unknown"


@pytest.mark.parametrize("detail", DETAILS)
def test_every_detail_classifies(detail: str) -> None:
    body = json.dumps({"uuid": "u1", "status": "failed", "detail": detail}).encode()
    record = PROVIDER.parse(_request(body, None))
    assert record is not None and record.cause == f"vonage-detail:{detail}" and record.outcome != "unknown"


@pytest.mark.parametrize("event", [{"uuid": "u1", "status": "answered"}, {"uuid": "u1", "dtmf": {"digits": "1"}}])
def test_non_final_events_are_not_call_ends(event: dict[str, Any]) -> None:
    assert PROVIDER.parse(_request(json.dumps(event).encode(), None)) is None
