"""Every adapter's numbers normalise and its route is read where the platform reports it.

Each case is a recorded payload of ``tests/data/<platform>/`` with its callee rewritten into another
country's national or international form: the adapter reads it in the platform's region
(``HANGUP_PROVIDER_REGIONS``) into E.164. The routes of the recorded payloads themselves are checked by
their ``.expected.json`` (``test_<platform>.py``, ``test_real_records.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from payload_cases import DATA, request_for

from hangup import numbers
from hangup.numbers import NumberPlan
from hangup.providers.base import WebhookRequest
from hangup.providers.registry import get_provider
from hangup.records import CallRecord

# platform, case, text replaced, its replacement, the platform's region, callee E.164, country
CASES = [
    ("asterisk", "ami_no_answer.json", '"Destination":"2003"', '"Destination":"030 12345678"', "DE",
     "+493012345678", "DE"),
    ("callcenter", "abandoned_ivr.json", '"To":"+6560001111"', '"To":"6000 1111"', "SG", "+6560001111", "SG"),
    ("freeswitch", "inbound_cancel.json", '"destination_number":"2002"', '"destination_number":"03-1234-5678"',
     "JP", "+81312345678", "JP"),
    ("generic", "busy.json", '"to":"+14155550123"', '"to":"(415) 555-0123"', "US", "+14155550123", "US"),
    ("kamailio", "caller_bye.json", '"to_uri":"sip:bob@127.0.0.1:5070"',
     '"to_uri":"sip:020-7183-8750@127.0.0.1:5070"', "GB", "+442071838750", "GB"),
    ("plivo", "busy.form", "To=442071838750", "To=01+42+68+53+00", "FR", "+33142685300", "FR"),
    ("telnyx", "normal_clearing.json", '"to":"+13125550111"', '"to":"0033142685300"', "", "+33142685300", "FR"),
    ("twilio", "busy.form", "To=%2B260967301606", "To=0967301606", "ZM", "+260967301606", "ZM"),
    ("vonage", "completed.json", '"to":"447700900001"', '"to":"4915112345678"', "", "+4915112345678", "DE"),
]


@pytest.fixture(autouse=True)
def _plan() -> Iterator[None]:
    before = numbers.plan()
    yield
    numbers.configure(before)


def _parsed(tmp_path: Path, platform: str, case: str, old: str, new: str) -> CallRecord:
    source = DATA / platform / case
    text = source.read_text()
    assert old in text
    payload = tmp_path / case
    payload.write_text(text.replace(old, new))
    record = get_provider(platform).parse(request_for(payload, platform))
    assert record is not None
    return record


@pytest.mark.parametrize(("platform", "case", "old", "new", "region", "e164", "country"), CASES,
                         ids=[c[0] for c in CASES])
def test_a_national_callee_of_every_adapter_normalises(tmp_path: Path, platform: str, case: str, old: str, new: str,
                                                       region: str, e164: str, country: str) -> None:
    numbers.configure(NumberPlan(provider_regions={platform: region} if region else {}, prefix_depth=3))
    record = _parsed(tmp_path, platform, case, old, new)
    assert (record.to_e164, record.to_country, record.to_prefix) == (e164, country, e164[1:4])
    assert record.to_user_id not in ("", e164)  # the raw value stays as received


@pytest.mark.parametrize(("platform", "case", "old", "new", "region", "e164", "country"), CASES,
                         ids=[c[0] for c in CASES])
def test_without_the_region_a_national_form_stays_raw(tmp_path: Path, platform: str, case: str, old: str, new: str,
                                                      region: str, e164: str, country: str) -> None:
    numbers.configure(NumberPlan())
    record = _parsed(tmp_path, platform, case, old, new)
    assert record.to_e164 == ("" if region else e164)


def test_kamailio_reports_the_next_hop_as_the_route(tmp_path: Path) -> None:
    record = _parsed(tmp_path, "kamailio", "caller_bye.json", '"to_uri":',
                     '"next_hop":"sip:203.0.113.5:5060;transport=udp","to_uri":')
    assert record.route == "203.0.113.5"


def test_planet_routes_by_service_and_keeps_user_ids_untouched() -> None:
    payload = DATA / "planet" / "spec-example.txt"
    record = get_provider("planet").parse(request_for_planet(payload))
    assert record is not None
    assert record.route == (record.to_service_id or record.from_service_id) != ""
    assert (record.from_e164, record.to_e164, record.to_country) == ("", "", "")


def request_for_planet(payload: Path) -> WebhookRequest:
    line = next(line for line in payload.read_text().splitlines() if line.startswith("GET "))
    query = line.split()[1].partition("?")[2]
    return WebhookRequest("GET", f"https://hangup.example.com/callbacks/planet?{query}", query, b"", {}, 0.0)
