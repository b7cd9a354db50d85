"""Kamailio call-end events: recorded bodies and their verdicts, the signature, the receiver, the log import."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from payload_cases import BASE_URL, RECEIVED_AT, cases, parsed_as_expected, request_for
from receiver_helpers import ClientFactory

from hangup.errors import Forbidden, HTTPError, PayloadError, Unauthorized
from hangup.importer.formats import READERS
from hangup.importer.run import guess_format
from hangup.providers.base import WebhookRequest
from hangup.providers.generic import sign
from hangup.providers.kamailio import PROVIDER
from hangup.store.base import Store

URL = BASE_URL + "kamailio"
SECRETS = {"kamailio_secret": "s3cret"}
DATA = Path(__file__).parent.parent / "data" / "kamailio"
BODY = (DATA / "busy_486_reason.json").read_bytes().strip()


@pytest.mark.parametrize("payload", cases("kamailio"), ids=lambda p: p.name)
def test_recorded_events(payload: Path) -> None:
    record = parsed_as_expected(PROVIDER, payload, "kamailio")
    if record is not None:
        assert record.provider == "kamailio"
        assert record.provider_call_id == json.loads(payload.read_text())["call_id"]


def _headers(stamp: int, body: bytes = BODY, secret: str = "s3cret") -> dict[str, str]:
    return {"x-hangup-timestamp": str(stamp), "x-hangup-signature": "sha256=" + sign(secret, str(stamp), body)}


@pytest.mark.parametrize(
    ("headers", "body", "secrets", "error"),
    [
        (_headers(int(RECEIVED_AT)), BODY, SECRETS, None),
        (_headers(int(RECEIVED_AT)), BODY + b" ", SECRETS, Forbidden),
        (_headers(int(RECEIVED_AT), secret="other"), BODY, SECRETS, Forbidden),
        (_headers(int(RECEIVED_AT) - 301), BODY, SECRETS, Forbidden),
        ({"x-hangup-timestamp": str(int(RECEIVED_AT))}, BODY, SECRETS, Unauthorized),
        ({}, BODY, {}, Unauthorized),
        ({}, BODY, {"kamailio_accept_unsigned": "true"}, None),
    ],
)
def test_signature(headers: dict[str, str], body: bytes, secrets: dict[str, str],
                   error: type[HTTPError] | None) -> None:
    request = WebhookRequest("POST", URL, "", body, headers, RECEIVED_AT)
    if error is None:
        PROVIDER.verify(request, secrets)
    else:
        with pytest.raises(error):
            PROVIDER.verify(request, secrets)


def test_the_receiver_stores_once_skips_challenges_and_quarantines_bad_events(
        make_client: ClientFactory, fresh_store: Store) -> None:
    client = make_client(HANGUP_KAMAILIO_ACCEPT_UNSIGNED="true")
    post = {"headers": {"content-type": "application/json"}}
    first = client.post("/callbacks/kamailio", content=BODY, **post).json()
    again = client.post("/callbacks/kamailio", content=BODY, **post).json()
    challenge = client.post("/callbacks/kamailio", content=(DATA / "challenge_407.json").read_bytes(), **post)
    bad = client.post("/callbacks/kamailio", content=(DATA / "bad_fields.json").read_bytes(), **post)
    assert (first["status"], again["status"]) == ("inserted", "duplicate")
    assert challenge.status_code == 200 and challenge.json()["stored"] is False
    assert bad.status_code == 400 and "final_code" in {d["field"] for d in bad.json()["details"]}
    assert fresh_store.count() == 1 and len(fresh_store.quarantined()) == 1


EVENT = (DATA / "caller_bye.json").read_text().strip()


@pytest.mark.parametrize(
    ("log", "records", "rejected"),
    [
        # kamailio -E (stderr), with and without the SIP message prefix
        (f" 3(13729) NOTICE: <script>: HANGUP_CALL_END {EVENT}\n", ["1-100@127.0.0.1"], 0),
        (f" 1(13727) NOTICE: {{1 1 BYE 1-100@127.0.0.1}} <script>: HANGUP_CALL_END {EVENT}\n", ["1-100@127.0.0.1"], 0),
        # syslog, among the proxy's other lines, which are skipped
        ("Dec  6 04:50:00 sip1 /usr/sbin/kamailio[812]: INFO: <core> [main.c:3055]: main(): processes\n"
         f"Dec  6 04:50:01 sip1 /usr/sbin/kamailio[813]: NOTICE: <script>: HANGUP_CALL_END {EVENT}\n"
         "Dec  6 04:50:01 sip1 /usr/sbin/kamailio[820]: INFO: <script>: HANGUP posted 1-100@127.0.0.1\n",
         ["1-100@127.0.0.1"], 0),
        # a line cut short (syslog's line limit) is rejected, the next one still read
        (f"NOTICE: HANGUP_CALL_END {EVENT[:80]}\nNOTICE: HANGUP_CALL_END {EVENT}\n", ["1-100@127.0.0.1"], 1),
        # a challenge is not a call end: neither record nor rejection
        ("NOTICE: HANGUP_CALL_END " + (DATA / "challenge_407.json").read_text(), [], 0),
        ("no events in this log\n", [], 0),
    ],
)
def test_the_log_line_imports(log: str, records: list[str], rejected: int) -> None:
    items = list(READERS["kamailio-log"](io.StringIO(log), RECEIVED_AT))
    assert [i.record.provider_call_id for i in items if i.record] == records
    assert sum(1 for i in items if i.error) == rejected


def test_a_kamailio_log_is_recognised_by_content() -> None:
    assert guess_format("kamailio.log", f"NOTICE: <script>: HANGUP_CALL_END {EVENT}\n") == "kamailio-log"


@pytest.mark.parametrize(
    ("case", "extra"),
    [
        ("caller_bye", {"event": "dialog:end", "bye_by": "caller", "pdd": "0.050",
                        "answer_time": "1780912803.100000", "from_uri": "sip:alice@127.0.0.1:5081"}),
        ("no_answer_timer", {"event": "dialog:failed", "final_code": "408", "final_reason": "Request Timeout",
                             "final_reply_by": "proxy", "timeout": "no_answer"}),
        ("cancel_elsewhere", {"canceled": "true", "cancel_reasons": 'SIP;cause=200;text="Call completed elsewhere"'}),
    ],
)
def test_the_raw_facts_are_kept(case: str, extra: dict[str, str]) -> None:
    record = PROVIDER.parse(request_for(DATA / f"{case}.json", "kamailio"))
    assert record is not None
    assert {key: record.extra.get(key) for key in extra} == extra
    assert "pdd" in record.extra or "ring_time" not in record.raw


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_time": "4102444800.000000"}, "end_time"),  # 2100-01-01: past hangup.bounds' times
        ({"end_time": f"{1780912803.1 + 8 * 86400:.6f}"}, "end_time"),  # 8 days of conversation
        ({"reasons": "Q.850;cause=999"}, "reasons"),  # a Q.850 cause is 1..127
        ({"call_id": "1-100@127.0.0.1\x00"}, "call_id"),  # a control character in the id
    ],
)
def test_values_outside_their_bounds_are_refused_naming_the_field(change: dict[str, str], field: str) -> None:
    body = json.dumps({**json.loads(EVENT), **change}).encode()
    with pytest.raises(PayloadError) as raised:
        PROVIDER.parse(WebhookRequest("POST", URL, "", body, {}, RECEIVED_AT))
    assert field in {d["field"] for d in raised.value.details}
