from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest
from payload_cases import BASE_URL, cases, parsed_as_expected
from plivo.utils.signature_v3 import construct_get_url, construct_post_url, get_signature_v3, validate_v3_signature

from hangup.causes import default_catalog
from hangup.errors import Forbidden, HTTPError, Unauthorized
from hangup.providers._common import parse_time
from hangup.providers.base import WebhookRequest
from hangup.providers.plivo import PROVIDER

TOKEN = "MjE5ZGQ1NGU2YTM1ZmVlZjQ3OTY0ZjA4"
MAIN_TOKEN = "ZmQ3NTY5ZDFmY2IwNjI1N2UyN2Q2Yzkz"
NONCE = "05429567804466091622"
URL = BASE_URL + "plivo"
SECRETS = {"plivo_auth_token": TOKEN}


@pytest.mark.parametrize("payload", cases("plivo"), ids=lambda p: p.name)
def test_recorded_callbacks(payload: Path) -> None:
    record = parsed_as_expected(PROVIDER, payload, "plivo", rejected_with=HTTPError)
    if record is not None:
        assert record.extra["CallUUID"] == record.provider_call_id
        assert record.raw


def _form() -> dict[str, str]:
    body = (Path(__file__).parent.parent / "data/plivo/completed_caller.form").read_text().strip()
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _sdk_post(params: dict[str, str], token: str, url: str = URL) -> str:
    return get_signature_v3(token, construct_post_url(url, dict(params)).decode(), NONCE).decode()


def _post(params: dict[str, str], headers: dict[str, str], url: str = URL) -> WebhookRequest:
    return WebhookRequest("POST", url, url.partition("?")[2], urlencode(params).encode(),
                          {"content-type": "application/x-www-form-urlencoded", **headers})


@pytest.mark.parametrize("url", [URL, URL + "?tenant=acme&b=2"])
def test_sdk_signed_post_is_accepted(url: str) -> None:
    params = _form()
    signature = _sdk_post(params, TOKEN, url)
    assert validate_v3_signature("POST", url, NONCE, TOKEN, signature, dict(params))
    PROVIDER.verify(_post(params, {"x-plivo-signature-v3": signature, "x-plivo-signature-v3-nonce": NONCE}, url),
                    SECRETS)


def test_main_account_signature_among_several_is_accepted() -> None:
    params = _form()
    both = f"{_sdk_post(params, 'other-token')},{_sdk_post(params, TOKEN)}"
    PROVIDER.verify(_post(params, {"x-plivo-signature-ma-v3": both, "x-plivo-signature-v3": "bm9wZQ==",
                                   "x-plivo-signature-v3-nonce": NONCE}), SECRETS)


def test_sdk_signed_get_is_accepted() -> None:
    params = _form()
    query = urlencode(params)
    url = f"{URL}?{query}"
    signature = get_signature_v3(TOKEN, construct_get_url(url, {}).decode(), NONCE).decode()
    request = WebhookRequest("GET", url, query, b"",
                             {"x-plivo-signature-v3": signature, "x-plivo-signature-v3-nonce": NONCE})
    PROVIDER.verify(request, SECRETS)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("tampered", Forbidden),
        ("wrong_key", Forbidden),
        ("wrong_nonce", Forbidden),
        ("no_signature", Unauthorized),
        ("no_nonce", Unauthorized),
    ],
)
def test_bad_signatures_are_rejected(change: str, error: type[HTTPError]) -> None:
    params = _form()
    headers = {"x-plivo-signature-v3": _sdk_post(params, MAIN_TOKEN if change == "wrong_key" else TOKEN),
               "x-plivo-signature-v3-nonce": "1" if change == "wrong_nonce" else NONCE}
    if change == "tampered":
        params["HangupCauseCode"] = "3010"
    if change == "no_signature":
        del headers["x-plivo-signature-v3"]
    if change == "no_nonce":
        del headers["x-plivo-signature-v3-nonce"]
    with pytest.raises(error):
        PROVIDER.verify(_post(params, headers), SECRETS)


def test_unsigned_traffic_needs_explicit_consent() -> None:
    request = _post(_form(), {})
    with pytest.raises(Unauthorized) as caught:
        PROVIDER.verify(request, {})
    assert caught.value.details[0]["field"] == "plivo_auth_token"
    PROVIDER.verify(request, {"plivo_accept_unsigned": "true"})


# Every code of Plivo's "Hangup Causes" page except 0 (Unknown) classifies to a definite outcome.
PLIVO_CODES = [1000, 1010, 1020, 2000, 2010, 2020, 2030, 2040, 2050, 2060, 2070, 3000, 3010, 3020, 3030, 3040,
               3050, 3070, 3080, 3090, 3100, 3110, 3120, 3130, 3140, 4000, 4010, 4020, 4030, 5000, 5010, 5020,
               5030, 6000, 6010, 6020, 7011, 7012, 7013, 7014, 7022, 7023, 7024, 7032, 7033, 7034, 8011, 8012,
               8013, 8014, 9000, 9100, 9110]
PLIVO_SOURCES = ["Caller", "Callee", "Call recipient", "Plivo", "Carrier", "API Request", "Answer XML", "Error"]


@pytest.mark.parametrize("code", PLIVO_CODES)
def test_every_plivo_code_classifies(code: int) -> None:
    body = urlencode({"CallUUID": "u-1", "CallStatus": "completed", "HangupCauseCode": code}).encode()
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", body))
    assert record is not None
    assert record.cause == f"plivo:{code}"
    assert record.outcome != "unknown"
    assert "unknown_cause" not in record.flags


@pytest.mark.parametrize("source", PLIVO_SOURCES)
def test_every_plivo_source_says_who_hung_up(source: str) -> None:
    body = urlencode({"CallUUID": "u-1", "HangupCauseCode": 4000, "HangupSource": source}).encode()
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", body))
    assert record is not None and record.ended_by != "unknown"


@pytest.mark.parametrize("spelling", ["Callee", "callee", "CALL RECIPIENT", "call_recipient"])
def test_callee_spellings_are_the_call_recipient_source(spelling: str) -> None:
    catalog = default_catalog()
    assert catalog.lookup("plivo-source", spelling) is catalog.lookup("plivo-source", "Call recipient")
    body = urlencode({"CallUUID": "u-1", "CallStatus": "completed", "HangupCauseCode": 4000,
                      "HangupSource": spelling}).encode()
    record = PROVIDER.parse(WebhookRequest("POST", URL, "", body))
    assert record is not None and record.ended_by == "callee"
    assert "plivo-source:Call recipient" in record.causes  # stored under the table's own name


@pytest.mark.parametrize(
    ("start", "session_start", "shift"),
    [
        # an Indian account (UTC+05:30): StartTime 14:05:08 local while SessionStart says 08:35:10.91 UTC
        ("2024-09-26 14:05:08", "2024-09-26 08:35:10.910772", 19800),
        ("2024-09-26 03:05:08", "2024-09-26 08:05:09.1", -18000),  # a US Eastern account (UTC-05:00)
        ("2024-09-26 08:05:08", "2024-09-26 08:05:09.1", 0),  # a UTC account
        ("2024-09-26 08:05:08", "", 0),  # no SessionStart: read as UTC
    ],
)
def test_local_times_are_taken_back_to_utc_by_session_start(start: str, session_start: str, shift: int) -> None:
    params = {"CallUUID": "64d3290a", "Event": "Hangup", "CallStatus": "completed", "Direction": "outbound",
              "StartTime": start, "AnswerTime": start[:-2] + "18", "EndTime": start[:-5] + "06:23",
              "Duration": "66", "HangupCauseCode": "4000", "HangupCauseName": "Normal Hangup",
              "HangupSource": "Callee", "SessionStart": session_start}
    record = PROVIDER.parse(WebhookRequest("POST", BASE_URL + "plivo", "", urlencode(params).encode()))
    as_utc = {name: parse_time(params[key]) for name, key in
              (("setup_time", "StartTime"), ("start_time", "AnswerTime"), ("end_time", "EndTime"))}
    assert record is not None
    assert {name: getattr(record, name) for name in as_utc} == {k: v - shift for k, v in as_utc.items() if v}
