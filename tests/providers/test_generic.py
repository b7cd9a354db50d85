from __future__ import annotations

import json
from pathlib import Path

import pytest
from payload_cases import BASE_URL, RECEIVED_AT, cases, compare, expected, request_for

from hangup.errors import Forbidden, HTTPError, PayloadError, Unauthorized
from hangup.providers.base import WebhookRequest
from hangup.providers.generic import PROVIDER, TOLERANCE, sign

URL = BASE_URL + "generic"
SECRETS = {"generic_secret": "s3cret"}
BODY = (Path(__file__).parent.parent / "data/generic/busy.json").read_bytes()


@pytest.mark.parametrize("payload", cases("generic"), ids=lambda p: p.name)
def test_recorded_events(payload: Path) -> None:
    want = expected(payload)
    request = request_for(payload, "generic")
    if "error" in want:
        with pytest.raises(PayloadError) as caught:
            PROVIDER.parse(request)
        assert [d["field"] for d in caught.value.details] == want["error"]
    else:
        record = PROVIDER.parse(request)
        assert record is not None
        compare(record, want)


def test_an_exported_record_posts_back_unchanged() -> None:
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", BODY, {}))
    assert record is not None
    again = PROVIDER.parse(WebhookRequest("POST", URL, "", json.dumps(record.to_json()).encode(), {}))
    assert again is not None
    assert (again.id, again.cause, again.causes, again.outcome, again.end_time) == (
        record.id, record.cause, record.causes, record.outcome, record.end_time)


def _headers(stamp: int, body: bytes = BODY, secret: str = "s3cret") -> dict[str, str]:
    return {"x-hangup-timestamp": str(stamp), "x-hangup-signature": "sha256=" + sign(secret, str(stamp), body)}


def test_signed_event_is_accepted() -> None:
    PROVIDER.verify(WebhookRequest("POST", URL, "", BODY, _headers(int(RECEIVED_AT)), RECEIVED_AT), SECRETS)


@pytest.mark.parametrize(
    ("headers", "body", "error"),
    [
        (_headers(int(RECEIVED_AT)), BODY + b" ", Forbidden),
        (_headers(int(RECEIVED_AT), secret="other"), BODY, Forbidden),
        (_headers(int(RECEIVED_AT) - TOLERANCE - 1), BODY, Forbidden),
        ({"x-hangup-timestamp": str(int(RECEIVED_AT))}, BODY, Unauthorized),
        ({"x-hangup-timestamp": "soon", "x-hangup-signature": "sha256=00"}, BODY, Unauthorized),
    ],
)
def test_bad_signatures_are_rejected(headers: dict[str, str], body: bytes, error: type[HTTPError]) -> None:
    with pytest.raises(error):
        PROVIDER.verify(WebhookRequest("POST", URL, "", body, headers, RECEIVED_AT), SECRETS)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(1780912800, 1780912800), ("1780912800.521", 1780912800), ("2026-06-08T10:00:00+02:00", 1780905600),
     ("2026-06-08 08:00:00", 1780905600), ("Mon, 08 Jun 2026 08:00:00 +0000", 1780905600),
     ("1780912800521000", 1780912800)],
)
def test_time_forms(value: object, seconds: int) -> None:
    body = json.dumps({"call_id": "t1", "end_time": value, "cause": "q850:16"}).encode()
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", body, {}))
    assert record is not None and record.end_time == seconds


@pytest.mark.parametrize("value", ["yesterday", "99999999999999", "0001-01-01T00:00:00Z", "-5", "4102444800",
                                   "2100-01-01T00:00:00Z"])
def test_times_out_of_range_are_named(value: str) -> None:
    body = json.dumps({"call_id": "t1", "end_time": value}).encode()
    with pytest.raises(PayloadError) as caught:
        PROVIDER.parse(WebhookRequest("POST", URL, "", body, {}))
    assert caught.value.details == [{"field": "end_time", "error": f"expected a time from 1970 to 2099, got {value!r}"}]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"duration": 2**63 - 1}, "duration"), ({"duration": 604801}, "duration"), ({"call_id": "a\x00b"}, "call_id"),
     ({"call_id": "a\rb"}, "call_id"), ({"setup_time": "10000-01-01T00:00:00Z"}, "setup_time")],
    ids=str,
)
def test_values_outside_their_range_are_named(change: dict[str, object], field: str) -> None:
    body = json.dumps({"call_id": "t1", "end_time": 1780912800, **change}).encode()
    with pytest.raises(PayloadError) as caught:
        PROVIDER.parse(WebhookRequest("POST", URL, "", body, {}))
    assert [d["field"] for d in caught.value.details] == [field]


def test_a_timestamp_header_that_is_not_plain_digits_is_a_401() -> None:
    headers = {"x-hangup-signature": "sha256=00", "x-hangup-timestamp": "\u00b2"}
    with pytest.raises(Unauthorized):
        PROVIDER.verify(WebhookRequest("POST", URL, "", b"{}", headers, RECEIVED_AT), SECRETS)
