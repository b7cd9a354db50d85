"""Signed webhooks of every platform through the app: stored once after commit, bad ones refused and quarantined.

``make_client`` and ``fresh_store`` are the fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_from_bytes

import jwt
import pytest
from nacl.signing import SigningKey
from plivo.utils.signature_v3 import construct_post_url, get_signature_v3
from twilio.request_validator import RequestValidator

from hangup.providers.generic import sign
from hangup.store.base import Store

DATA = Path(__file__).resolve().parent.parent / "data"
PUBLIC = "https://hangup.example.com"
PLIVO_TOKEN = "MjE5ZGQ1NGU2YTM1ZmVlZjQ3OTY0ZjA4"
TWILIO_TOKEN = "12345678901234567890123456789012"
TELNYX_KEY = SigningKey(b"t" * 32)
VONAGE_SECRET = "signature-secret-0123456789abcdef"
ENV = {
    "HANGUP_PUBLIC_URL": PUBLIC,
    "HANGUP_PLIVO_AUTH_TOKEN": PLIVO_TOKEN,
    "HANGUP_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "HANGUP_TELNYX_PUBLIC_KEY": base64.b64encode(bytes(TELNYX_KEY.verify_key)).decode(),
    "HANGUP_VONAGE_SIGNATURE_SECRET": VONAGE_SECRET,
    "HANGUP_FREESWITCH_BASIC_AUTH": "cdr:s3cret",
    "HANGUP_ASTERISK_BASIC_AUTH": "cdr:s3cret",
    "HANGUP_CALLCENTER_BASIC_AUTH": "cdr:s3cret",
    "HANGUP_GENERIC_SECRET": "generic-secret",
    "HANGUP_KAMAILIO_SECRET": "kamailio-secret",
}


@dataclass(frozen=True)
class Signed:
    body: bytes
    headers: dict[str, str]


def _payload(relative: str) -> bytes:
    return (DATA / relative).read_bytes().rstrip(b"\n")


def plivo(body: bytes, good: bool, stamp: float) -> Signed:
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    token = PLIVO_TOKEN if good else "b3RoZXItdG9rZW4tb3RoZXItdG9rZW4x"
    signature = get_signature_v3(token, construct_post_url(f"{PUBLIC}/callbacks/plivo", params).decode(), "4711")
    return Signed(body, {"content-type": "application/x-www-form-urlencoded",
                         "x-plivo-signature-v3": signature.decode(), "x-plivo-signature-v3-nonce": "4711"})


def twilio(body: bytes, good: bool, stamp: float) -> Signed:
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    signature = RequestValidator(TWILIO_TOKEN if good else "0" * 32).compute_signature(
        f"{PUBLIC}/callbacks/twilio", params)
    return Signed(body, {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature})


def telnyx(body: bytes, good: bool, stamp: float) -> Signed:
    key = TELNYX_KEY if good else SigningKey(b"x" * 32)
    signature = key.sign(str(int(stamp)).encode() + b"|" + body).signature
    return Signed(body, {"content-type": "application/json", "telnyx-timestamp": str(int(stamp)),
                         "telnyx-signature-ed25519": base64.b64encode(signature).decode()})


def vonage(body: bytes, good: bool, stamp: float) -> Signed:
    claims = {"iat": int(stamp), "jti": "j1", "payload_hash": hashlib.sha256(body).hexdigest()}
    token = jwt.encode(claims, VONAGE_SECRET if good else "another-secret-of-thirty-two-bytes!", algorithm="HS256")
    return Signed(body, {"content-type": "application/json", "authorization": f"Bearer {token}"})


def basic(body: bytes, good: bool, stamp: float) -> Signed:
    """HTTP Basic as FreeSWITCH, Asterisk and contact-centre posts send it (``cdr:s3cret`` in ``ENV``)."""
    credentials = base64.b64encode(b"cdr:s3cret" if good else b"cdr:guess").decode()
    return Signed(body, {"content-type": "application/json", "authorization": f"Basic {credentials}"})


def generic(body: bytes, good: bool, stamp: float) -> Signed:
    signature = sign("generic-secret" if good else "other-secret", str(int(stamp)), body)
    return Signed(body, {"content-type": "application/json", "x-hangup-timestamp": str(int(stamp)),
                         "x-hangup-signature": f"sha256={signature}"})


def kamailio(body: bytes, good: bool, stamp: float) -> Signed:
    """hangup's own scheme with the Kamailio secret, as ``deploy/kamailio/kamailio.cfg`` signs."""
    signature = sign("kamailio-secret" if good else "other-secret", str(int(stamp)), body)
    return Signed(body, {"content-type": "application/json", "x-hangup-timestamp": str(int(stamp)),
                         "x-hangup-signature": f"sha256={signature}"})


Signer = Callable[[bytes, bool, float], Signed]
PLATFORMS: dict[str, tuple[str, Signer, bytes, bytes]] = {
    # platform: (payload, signer, text to tamper, replacement)
    "plivo": ("plivo/busy.form", plivo, b"HangupCauseCode=3010", b"HangupCauseCode=4000"),
    "twilio": ("twilio/busy.form", twilio, b"CallStatus=busy", b"CallStatus=completed"),
    "telnyx": ("telnyx/rejected.json", telnyx, b"call_rejected", b"normal_clearing"),
    "vonage": ("vonage/rejected_declined.json", vonage, b'"declined"', b'"unavailable"'),
    "freeswitch": ("freeswitch/inbound_recv_bye.json", basic, b"NORMAL_CLEARING", b"CALL_REJECTED"),
    "asterisk": ("asterisk/ami_no_answer.json", basic, b'"HangupCause":"19"', b'"HangupCause":"17"'),
    "callcenter": ("callcenter/call_ended_dropped.json", basic, b'"503"', b'"486"'),
    "generic": ("generic/busy.json", generic, b'"q850:17"', b'"q850:16"'),
    "kamailio": ("kamailio/busy_486_reason.json", kamailio, b'"final_code":486', b'"final_code":603'),
}
#: Platforms whose scheme carries a time, so a replay outside the tolerance is refused.
TIMED = ("telnyx", "vonage", "generic", "kamailio")
#: Platforms sending HTTP Basic credentials, which do not cover the body: no "tampered" case for them.
BASIC = ("freeswitch", "asterisk", "callcenter")


def _post(make_client: Any, platform: str, signed: Signed) -> tuple[int, dict[str, object]]:
    response = make_client(**ENV).post(f"/callbacks/{platform}", content=signed.body, headers=signed.headers)
    return response.status_code, response.json()


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_signed_callback_is_stored_once(make_client: Any, fresh_store: Store, platform: str) -> None:
    relative, signer, _, _ = PLATFORMS[platform]
    client = make_client(**ENV)
    signed = signer(_payload(relative), True, time.time())
    first = client.post(f"/callbacks/{platform}", content=signed.body, headers=signed.headers)
    again = client.post(f"/callbacks/{platform}", content=signed.body, headers=signed.headers)
    assert first.status_code == 200, first.json()
    assert (first.json()["status"], again.json()["status"]) == ("inserted", "duplicate")
    stored = fresh_store.get(first.json()["id"])
    assert stored is not None and stored.provider == platform and stored.outcome != "unknown"
    assert fresh_store.count() == 1 and fresh_store.quarantine_count() == 0


BAD = [(platform, case, status) for platform in sorted(PLATFORMS)
       for case, status in (("tampered", 403), ("wrong_key", 403), ("unsigned", 401))
       if not (platform in BASIC and case == "tampered")]


@pytest.mark.parametrize(("platform", "case", "status"), BAD)
def test_bad_signatures_are_refused_and_quarantined(make_client: Any, fresh_store: Store, platform: str,
                                                    case: str, status: int) -> None:
    relative, signer, old, new = PLATFORMS[platform]
    body = _payload(relative)
    signed = signer(body, case != "wrong_key", time.time())
    if case == "tampered":
        assert old in body
        signed = Signed(body.replace(old, new), signed.headers)
    if case == "unsigned":
        signed = Signed(body, {"content-type": signed.headers["content-type"]})
    code, answer = _post(make_client, platform, signed)
    assert code == status and answer["ok"] is False and answer["status"] == status and answer["details"]
    assert fresh_store.count() == 0
    (entry,) = fresh_store.quarantined()
    assert (entry.provider, entry.status, entry.body) == (platform, status, signed.body)


@pytest.mark.parametrize("platform", TIMED)
def test_replays_outside_the_tolerance_are_refused(make_client: Any, fresh_store: Store,
                                                   platform: str) -> None:
    relative, signer, _, _ = PLATFORMS[platform]
    code, answer = _post(make_client, platform, signer(_payload(relative), True, time.time() - 3600))
    assert code == 403 and answer["error_id"] == "forbidden"
    assert fresh_store.count() == 0 and fresh_store.quarantine_count() == 1


def test_progress_events_are_acknowledged_without_storing(make_client: Any, fresh_store: Store) -> None:
    signed = twilio(_payload("twilio/ringing.form"), True, time.time())
    code, answer = _post(make_client, "twilio", signed)
    assert (code, answer) == (200, {"ok": True, "stored": False})
    assert fresh_store.count() == 0


def test_accept_unsigned_lets_unsigned_traffic_in(make_client: Any, fresh_store: Store) -> None:
    client = make_client(HANGUP_PLIVO_ACCEPT_UNSIGNED="true")
    response = client.post("/callbacks/plivo", content=_payload("plivo/busy.form"),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and fresh_store.count() == 1


def test_asterisk_cdr_posted_as_json_is_stored(make_client: Any, fresh_store: Store) -> None:
    client = make_client(HANGUP_ASTERISK_ACCEPT_UNSIGNED="true")
    body = _payload("asterisk/ami_no_answer.json")
    first = client.post("/callbacks/asterisk", content=body, headers={"content-type": "application/json"})
    line = client.post("/callbacks/asterisk", content=_payload("asterisk/answered.csv"),
                       headers={"content-type": "text/csv"})
    assert (first.status_code, line.status_code) == (200, 200)
    stored = fresh_store.get(first.json()["id"])
    assert stored is not None and stored.outcome == "no_answer" and stored.q850 == 19
    assert fresh_store.count() == 2


def _full_cdr(size: int) -> bytes:
    """The recorded CDR grown to ``size`` bytes with channel variables, as a full mod_json_cdr post is."""
    cdr = json.loads(_payload("freeswitch/inbound_recv_bye.json"))
    filler = "x" * 200
    for n in range(size // 200):
        cdr["variables"][f"sip_h_X-Padding-{n}"] = filler
    return json.dumps(cdr).encode()


@pytest.mark.parametrize(("size", "encoded", "status"), [
    (400_000, False, 200), (400_000, True, 200), (1_100_000, False, 413),
])
def test_full_freeswitch_cdrs_fit_the_default_body_limit(make_client: Any, fresh_store: Store, size: int,
                                                         encoded: bool, status: int) -> None:
    body = _full_cdr(size)
    signed = basic(b"cdr=" + quote_from_bytes(body).encode() if encoded else body, True, time.time())
    headers = {**signed.headers, "content-type": "application/x-www-form-urlencoded"} if encoded else signed.headers
    response = make_client(HANGUP_FREESWITCH_BASIC_AUTH="cdr:s3cret").post(
        "/callbacks/freeswitch", content=signed.body, headers=headers)
    assert response.status_code == status, response.text[:300]
    assert fresh_store.count() == (1 if status == 200 else 0)
    assert fresh_store.quarantine_count() == 0
