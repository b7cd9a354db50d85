from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from payload_cases import BASE_URL, cases, compare, expected, request_for

from hangup.errors import Forbidden, PayloadError, Unauthorized
from hangup.providers.asterisk import PROVIDER, record_from_row, row_from_csv
from hangup.providers.base import WebhookRequest

URL = BASE_URL + "asterisk"


@pytest.mark.parametrize("payload", cases("asterisk"), ids=lambda p: p.name)
def test_recorded_cdrs(payload: Path) -> None:
    record = PROVIDER.parse(request_for(payload, "asterisk"))
    assert record is not None
    compare(record, expected(payload))


@pytest.mark.parametrize(
    ("disposition", "outcome"),
    [("ANSWERED", "completed"), ("NO ANSWER", "no_answer"), ("BUSY", "busy"), ("FAILED", "failed"),
     ("CONGESTION", "failed")],
)
def test_every_disposition_classifies(disposition: str, outcome: str) -> None:
    record = record_from_row({"uniqueid": "1.1", "disposition": disposition})
    assert record.cause == f"asterisk-disposition:{disposition}" and record.outcome == outcome


@pytest.mark.parametrize(
    ("disposition", "answer", "billsec", "answered", "duration"),
    [
        # Asterisk's answer time and billsec are the caller's channel's; the disposition is the dial's
        ("NO ANSWER", "2024-01-28 02:04:06", "60", False, 0),
        ("BUSY", "2024-01-28 02:04:06", "60", False, 0),
        ("FAILED", "2024-01-28 02:04:06", "60", False, 0),
        ("CONGESTION", "2024-01-28 02:04:06", "60", False, 0),
        ("NO ANSWER", "", "0", False, 0),
        ("ANSWERED", "2024-01-28 02:04:06", "60", True, 60),
        ("ANSWERED", "", "0", True, 0),
        ("DOCUMENTATION", "2024-01-28 02:04:06", "60", True, 60),  # not a disposition: the times decide
    ],
)
def test_a_disposition_saying_not_answered_wins_over_billsec(
        disposition: str, answer: str, billsec: str, answered: bool, duration: int) -> None:
    row = {"uniqueid": "1706407440.7", "channel": "PJSIP/100-00000007", "dstchannel": "PJSIP/200-00000008",
           "lastapp": "Dial", "start": "2024-01-28 02:04:00", "answer": answer, "end": "2024-01-28 02:05:06",
           "billsec": billsec, "disposition": disposition}
    record = record_from_row(row)
    assert (record.answered, record.duration) == (answered, duration)
    assert record.start_time == (record.setup_time + 6 if answered and answer else 0)
    assert record.extra["billsec"] == billsec  # the platform's value is kept as written


@pytest.mark.parametrize("status", ["ANSWER", "BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL", "DONTCALL",
                                    "TORTURE", "INVALIDARGS"])
def test_every_dialstatus_classifies(status: str) -> None:
    record = record_from_row({"uniqueid": "1.1", "disposition": "FAILED", "userfield": f"dialstatus={status}"})
    assert record.cause == f"asterisk-dialstatus:{status}" and record.outcome != "unknown"


def test_a_recorded_hangup_cause_refines_failed() -> None:
    record = record_from_row({"uniqueid": "1.1", "disposition": "FAILED", "hangupcause": "34"})
    assert record.cause == "q850:34" and record.q850 == 34
    assert "asterisk-disposition:FAILED" in record.causes


def test_rows_without_uniqueid_get_a_stable_id() -> None:
    row = {"channel": "PJSIP/1000-1", "start": "2026-06-08 10:00:00", "disposition": "ANSWERED", "billsec": "3"}
    assert record_from_row(row).id == record_from_row(dict(row)).id


@pytest.mark.parametrize("body", [b"just,three,columns", b"{", b"[1]"])
def test_bodies_that_are_not_cdrs(body: bytes) -> None:
    with pytest.raises(PayloadError):
        PROVIDER.parse(WebhookRequest("POST", URL, "", body, {}))


def test_missing_disposition_and_bad_times_are_named() -> None:
    body = json.dumps({"UniqueID": "1.2", "StartTime": "yesterday", "BillableSeconds": "-1"}).encode()
    with pytest.raises(PayloadError) as caught:
        PROVIDER.parse(WebhookRequest("POST", URL, "", body, {}))
    assert {d["field"] for d in caught.value.details} == {"start", "billsec", "disposition"}


def test_basic_auth() -> None:
    secrets = {"asterisk_basic_auth": "ast:pw"}
    good = {"authorization": "Basic " + base64.b64encode(b"ast:pw").decode()}
    bad = {"authorization": "Basic " + base64.b64encode(b"ast:no").decode()}
    PROVIDER.verify(WebhookRequest("POST", URL, "", b"{}", good), secrets)
    with pytest.raises(Forbidden):
        PROVIDER.verify(WebhookRequest("POST", URL, "", b"{}", bad), secrets)
    with pytest.raises(Unauthorized):
        PROVIDER.verify(WebhookRequest("POST", URL, "", b"{}", {}), {})


def test_seventeenth_column_is_uniqueid_or_userfield() -> None:
    base = ["", "1000", "2001", "ctx", "", "PJSIP/1-1", "", "Dial", "", "2026-06-08 10:00:00", "", "", "1", "0",
            "BUSY", "DOCUMENTATION"]
    assert record_from_row(row_from_csv([*base, "1780912800.1"])).provider_call_id == "1780912800.1"
    with_userfield = record_from_row(row_from_csv([*base, "hangupcause=17"]))
    assert with_userfield.q850 == 17 and with_userfield.provider_call_id == "PJSIP/1-1|2026-06-08 10:00:00"
