from __future__ import annotations

import json
from pathlib import Path

import pytest
from payload_cases import BASE_URL, cases, compare, expected, request_for

from hangup.errors import PayloadError
from hangup.providers.base import WebhookRequest
from hangup.providers.callcenter import PROVIDER, record_from_row

URL = BASE_URL + "callcenter"


@pytest.mark.parametrize("payload", cases("callcenter"), ids=lambda p: p.name)
def test_recorded_records(payload: Path) -> None:
    record = PROVIDER.parse(request_for(payload, "callcenter"))
    assert record is not None
    compare(record, expected(payload))


STATUSES = ["Call Ended", "Declined", "Busy", "Not Answered", "Cancelled", "Abandoned", "Unreachable",
            "Called Failed"]


@pytest.mark.parametrize("status", STATUSES)
def test_every_call_status_classifies(status: str) -> None:
    record = record_from_row({"call_id": "c1", "call_status": status})
    assert record.cause.startswith("callcenter-status:") and record.outcome != "unknown"


@pytest.mark.parametrize("code", range(901, 910))
def test_every_custom_code_classifies(code: int) -> None:
    record = record_from_row({"call_id": "c1", "call_status": "Call Ended", "last_response_code": str(code)})
    assert record.cause == f"callcenter:{code}" and record.outcome != "unknown"


def test_status_wins_unless_it_is_generic() -> None:
    abandoned = record_from_row({"call_id": "c1", "call_status": "Abandoned", "bye_reason": "NORMAL_CLEARING"})
    dropped = record_from_row({"call_id": "c2", "call_status": "Call Ended", "bye_reason": "NETWORK_OUT_OF_ORDER"})
    assert abandoned.outcome == "abandoned"
    assert dropped.outcome == "failed" and dropped.fault == "network"


@pytest.mark.parametrize(
    ("body", "fields"),
    [(json.dumps({"call_status": "Busy"}).encode(), {"call_id"}),
     (json.dumps({"call_id": "c1", "duration": "long"}).encode(), {"call_status", "duration"})],
)
def test_bad_records_name_their_fields(body: bytes, fields: set[str]) -> None:
    with pytest.raises(PayloadError) as caught:
        PROVIDER.parse(WebhookRequest("POST", URL, "", body, {}))
    assert {d["field"] for d in caught.value.details} == fields


def test_csv_with_two_rows_is_refused() -> None:
    body = b"Call ID,Call Status\nc1,Busy\nc2,Busy\n"
    with pytest.raises(PayloadError):
        PROVIDER.parse(WebhookRequest("POST", URL, "", body, {}))
