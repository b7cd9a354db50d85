"""The Planet on_call_evt_cb adapter: every validation rule, every flag, the specification's example."""

from __future__ import annotations

import json
import string
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from receiver_helpers import DATA, PLANET_EVENT, SPEC_EXAMPLE, planet_query

from hangup import bounds
from hangup.errors import PayloadError
from hangup.providers.base import WebhookRequest
from hangup.providers.planet import FLAGS, KEYS, PROVIDER, split_pairs


def parse(query: str, body: bytes = b"", content_type: str = "") -> object:
    headers = {"content-type": content_type} if content_type else {}
    return PROVIDER.parse(WebhookRequest("POST" if body else "GET", "", query, body, headers, received_at=5.0))


def bad_fields(query: str) -> dict[str, str]:
    with pytest.raises(PayloadError) as caught:
        parse(query)
    return {d["field"]: d["error"] for d in caught.value.details}


def test_the_spec_example_is_accepted_and_flagged() -> None:
    record = PROVIDER.parse(WebhookRequest("GET", "", SPEC_EXAMPLE, received_at=1.0))
    expected = json.loads((DATA / "planet" / "spec-example.expected.json").read_text())
    got = record.to_json()
    assert {k: got[k] for k in expected} == expected
    assert record.raw == SPEC_EXAMPLE


def test_a_consistent_event_has_no_flags() -> None:
    record = parse(planet_query())
    assert record.flags == ()
    assert (record.outcome, record.ended_by, record.normal, record.answered) == ("completed", "caller", True, True)
    assert record.stid == "generated-by-application" and record.user_rel_code is None


# -- rejections: (what is changed, field named, words in the error) ---------------------------------
REJECTIONS = [
    ({"sid": "short"}, "sid", "36"),
    ({"sid": "6364e8b3-bdac-436e-9631-0bce2498ce0 "}, "sid", "36"),
    ({"sid": "6364e8b3-bdac-436e-9631-0bce2498ce0c1"}, "sid", "36"),
    ({"type": "X"}, "type", "A (audio) or V (video)"),
    ({"type": "a"}, "type", "A (audio)"),
    ({"setup_time": "1.5"}, "setup_time", "base-10 integer"),
    ({"start_time": ""}, "start_time", "base-10 integer"),
    ({"end_time": "-1"}, "end_time", "at least 0"),
    ({"end_time": "+5"}, "end_time", "base-10 integer"),
    ({"end_time": "1_000"}, "end_time", "base-10 integer"),
    ({"end_time": " 5"}, "end_time", "base-10 integer"),
    ({"end_time": "١٢"}, "end_time", "base-10 integer"),
    ({"duration": "1e3"}, "duration", "base-10 integer"),
    ({"duration": "9223372036854775808"}, "duration", "64-bit"),
    ({"call_end_reason": "-9223372036854775809"}, "call_end_reason", "64-bit"),
    ({"call_end_reason": "0x10"}, "call_end_reason", "base-10 integer"),
    ({"terminate": "sixteen"}, "terminate", "base-10 integer"),
    ({"rel_code": ""}, "rel_code", "base-10 integer"),
    ({"srcip": "1.2.3"}, "srcip", "IPv4 or IPv6"),
    ({"dstip": "example.com"}, "dstip", "IPv4 or IPv6"),
    ({"from_user_id": ""}, "from_user_id", "empty"),
    ({"releaser": ""}, "releaser", "empty"),
    ({"rel_code_str": ""}, "rel_code_str", "empty"),
]


@pytest.mark.parametrize(("change", "field", "words"), REJECTIONS, ids=lambda v: str(v)[:30])
def test_a_bad_value_is_rejected_naming_the_field(change: dict[str, str], field: str, words: str) -> None:
    errors = bad_fields(planet_query(**change))
    assert list(errors) == [field]
    assert words in errors[field]


@pytest.mark.parametrize("key", [k for k in KEYS if k not in ("stid", "user_rel_code")])
def test_every_non_nullable_key_is_required(key: str) -> None:
    assert bad_fields(planet_query(drop=(key,))) == {key: "missing"}


@pytest.mark.parametrize("key", ["stid", "user_rel_code"])
@pytest.mark.parametrize("form", ["absent", "empty"])
def test_nullable_keys_may_be_absent_or_empty(key: str, form: str) -> None:
    query = planet_query(drop=(key,)) if form == "absent" else planet_query(**{key: ""})
    assert getattr(parse(query), key) is None


def test_every_bad_field_is_named_at_once() -> None:
    errors = bad_fields(planet_query(sid="x", type="Q", duration="1.5", srcip="999.1.1.1", drop=("dstip",)))
    assert set(errors) == {"sid", "type", "duration", "srcip", "dstip"}


def test_a_repeated_key_is_rejected() -> None:
    assert bad_fields(planet_query() + "&type=V") == {"type": "given more than once"}


@pytest.mark.parametrize(("raw", "field"), [("from_user_id=%ff%fe", "from_user_id"),
                                            ("rel_code_str=a%00b", "rel_code_str")])
def test_undecodable_or_nul_text_is_rejected(raw: str, field: str) -> None:
    query = planet_query(drop=(field,)) + "&" + raw
    assert field in bad_fields(query)


def test_ipv6_addresses_and_percent_encoded_text_are_accepted() -> None:
    record = parse(planet_query(srcip="2001:db8::1", dstip="::ffff:1.2.3.4", from_user_id="ユーザー+1"))
    assert (record.srcip, record.dstip, record.from_user_id) == ("2001:db8::1", "::ffff:1.2.3.4", "ユーザー+1")


def test_the_same_keys_are_accepted_form_encoded() -> None:
    record = parse("", planet_query().encode(), "application/x-www-form-urlencoded; charset=utf-8")
    assert record.id == PLANET_EVENT["sid"] and record.flags == ()


def test_a_body_that_is_not_a_form_is_rejected() -> None:
    with pytest.raises(PayloadError) as caught:
        parse("", json.dumps(PLANET_EVENT).encode(), "application/json")
    assert "content-type" in {d["field"] for d in caught.value.details}


# -- accepted and flagged: (what is changed, the flags expected) -------------------------------------
FLAGGED = [
    ({"duration": "29"}, {"duration_mismatch"}),
    ({"start_time": "0", "duration": "0", "terminate": "16", "call_end_reason": "1004"},
     {"terminate_16_without_duration", "mid_call_end_not_started"}),
    ({"start_time": "0", "duration": "5"}, {"duration_mismatch", "mid_call_end_not_started"}),
    ({"terminate": "17"}, {"duration_without_terminate_16"}),
    ({"start_time": "0", "end_time": "1700000020", "duration": "0", "call_end_reason": "1001", "terminate": "18"},
     {"terminate_disagrees"}),
    ({"call_end_reason": "1999"}, {"unknown_call_end_reason"}),
    ({"terminate": "99", "duration": "30"}, {"unknown_terminate", "duration_without_terminate_16"}),
    ({"setup_time": "1700000010"}, {"times_out_of_order"}),
    ({"extra_key": "kept"}, {"unknown_keys"}),
]


@pytest.mark.parametrize(("change", "flags"), FLAGGED, ids=lambda v: str(v)[:40])
def test_contradictions_are_accepted_and_flagged(change: dict[str, str], flags: set[str]) -> None:
    record = parse(planet_query(**change))
    assert set(record.flags) == flags
    assert flags <= set(FLAGS)


def test_unknown_keys_are_kept_in_extra() -> None:
    assert dict(parse(planet_query(extra_key="kept")).extra) == {"extra_key": "kept"}


# -- classification: call_end_reason first, terminate as fallback -----------------------------------
CLASSIFIED = [
    ({"call_end_reason": "1003", "terminate": "21", "start_time": "0", "end_time": "1700000010", "duration": "0"},
     "planet:1003", "rejected", "callee"),
    ({"call_end_reason": "1000", "terminate": "77", "start_time": "0", "end_time": "1700000010", "duration": "0",
      "releaser": "initiator"}, "planet:1000", "canceled", "caller"),
    ({"call_end_reason": "1010", "terminate": "16"}, "planet:1010", "failed", "platform"),
    ({"call_end_reason": "4242", "terminate": "17", "start_time": "0", "end_time": "1700000010", "duration": "0",
      "releaser": "responder"}, "planet-terminate:17", "busy", "callee"),
    ({"call_end_reason": "4242", "terminate": "99"}, "planet:4242", "unknown", "caller"),
]


@pytest.mark.parametrize(("change", "cause", "outcome", "ended_by"), CLASSIFIED, ids=lambda v: str(v)[:40])
def test_cause_comes_from_call_end_reason_then_terminate(change: dict[str, str], cause: str, outcome: str,
                                                         ended_by: str) -> None:
    record = parse(planet_query(**change))
    assert (record.cause, record.outcome, record.ended_by) == (cause, outcome, ended_by)
    assert record.reason


# -- property tests -----------------------------------------------------------------------------------
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([*KEYS, "zz"]), text, max_size=22))
def test_any_query_is_either_a_record_or_a_payload_error(values: dict[str, str]) -> None:
    query = urlencode(values)
    try:
        record = parse(query)
    except PayloadError as exc:
        assert exc.details and all({"field", "error"} <= set(d) for d in exc.details)
    else:
        assert record.id == values["sid"] and len(record.id) == 36


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({
    "setup_time": st.integers(0, bounds.MAX_TIME), "start_time": st.integers(0, bounds.MAX_TIME),
    "end_time": st.integers(0, bounds.MAX_TIME), "duration": st.integers(0, bounds.MAX_DURATION),
    "call_end_reason": st.integers(0, 9999), "terminate": st.integers(1, 127),
    "rel_code": st.integers(-(2**63), 2**63 - 1),
}))
def test_every_value_in_range_is_accepted_and_kept_exactly(numbers: dict[str, int]) -> None:
    record = parse(planet_query(**{k: str(v) for k, v in numbers.items()}))
    assert {k: getattr(record, k) for k in numbers} == numbers


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=string.printable + "é日\x00", max_size=30))
def test_split_pairs_round_trips_percent_encoding(value: str) -> None:
    errors: list[dict[str, str]] = []
    pairs = split_pairs("k=" + quote(value, safe=""), errors)
    if "\x00" in value:
        assert errors and not pairs
    else:
        assert pairs == [("k", value)] and not errors


OUT_OF_RANGE = [
    ({"duration": str(2**63 - 1)}, "duration"),
    ({"duration": "604801"}, "duration"),
    ({"end_time": "253402300800"}, "end_time"),  # year 10000
    ({"end_time": "4102444800"}, "end_time"),  # 2100-01-01
    ({"setup_time": str(2**62)}, "setup_time"),
    ({"call_end_reason": "10000"}, "call_end_reason"),
    ({"call_end_reason": "-1"}, "call_end_reason"),
    ({"terminate": "0"}, "terminate"),
    ({"terminate": "128"}, "terminate"),
]


@pytest.mark.parametrize(("change", "field"), OUT_OF_RANGE, ids=lambda v: str(v)[:40])
def test_values_outside_their_range_are_named(change: dict[str, str], field: str) -> None:
    assert bad_fields(planet_query(**change))[field].startswith("out of range")


@pytest.mark.parametrize("change", [{"duration": "604800"}, {"end_time": "4102444799"}, {"terminate": "127"},
                                    {"call_end_reason": "9999"}, {"setup_time": "0"}], ids=str)
def test_values_at_the_edge_of_their_range_are_accepted(change: dict[str, str]) -> None:
    assert parse(planet_query(**change)).id == PLANET_EVENT["sid"]
