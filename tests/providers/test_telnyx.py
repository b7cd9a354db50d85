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
