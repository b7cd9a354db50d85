"""What every adapter shares: ``RecordDraft``'s bounded readers, the verdict it finishes with, the JSON body reader."""

from __future__ import annotations

from typing import Any

import pytest

from hangup import bounds
from hangup.causes.classify import VERDICT_FIELDS, classify
from hangup.errors import PayloadError
from hangup.providers._common import MAX_JSON_DEPTH, RecordDraft, json_object


def _read(reader: str, value: object, **options: Any) -> tuple[object, list[dict[str, Any]]]:
    draft = RecordDraft("test")
    result = getattr(draft, reader)("field", value, **options)
    return result, draft.errors


@pytest.mark.parametrize(
    ("reader", "value", "options", "result", "error"),
    [
        ("integer", "42", {}, 42, None),
        ("integer", str(2**53 + 1), {}, 0, "out of range"),
        ("integer", "-3", {}, 0, "out of range"),
        ("integer", "128", {"within": bounds.Q850, "default": -1}, -1, "out of range"),
        ("integer", "0", {"within": bounds.SIP}, 0, None),  # "none", as Twilio and FreeSWITCH send it
        ("integer", "700", {"within": bounds.SIP}, 0, "out of range"),
        ("seconds", "604800", {}, 604800, None),
        ("seconds", str(2**63 - 1), {}, 0, "out of range"),
        ("timestamp", "4102444799", {}, 4102444799, None),
        ("timestamp", "4102444800", {}, 0, "expected a time from 1970 to 2099"),
        ("timestamp", "10000-01-01T00:00:00Z", {}, 0, "expected a time from 1970 to 2099"),
        ("timestamp", "9999-12-31T23:59:59Z", {}, 0, "expected a time from 1970 to 2099"),
        ("timestamp", "\u00b2", {}, 0, "expected a time from 1970 to 2099"),  # a digit to isdigit(), not int()
        ("identifier", " CA123 ", {}, "CA123", None),
        ("identifier", "a\x00b", {}, "a\x00b", "contains a control character"),
        ("identifier", "a\nb", {}, "a\nb", "contains a control character"),
    ],
)
def test_readers_keep_values_in_their_range(reader: str, value: object, options: dict[str, Any], result: object,
                                            error: str | None) -> None:
    got, errors = _read(reader, value, **options)
    assert got == result
    assert [e["error"].startswith(error) for e in errors] == ([True] if error else [])
    assert all(e["field"] == "field" for e in errors)


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        (b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}", False),
        (b'{"a":' * 1000 + b"1" + b"}" * 1000, False),
        (b'{"a":' * MAX_JSON_DEPTH + b"1" + b"}" * MAX_JSON_DEPTH, True),
        (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), False),
        (b'{"a":"' + b"[{" * 500 + b'"}', True),  # brackets inside a string are text
        (b'{"a\\"[[":' + b"[" * 30 + b"]" * 30 + b"}", True),  # an escaped quote does not end the string
    ],
)
def test_deeply_nested_json_is_refused_naming_the_body(body: bytes, accepted: bool) -> None:
    if accepted:
        assert isinstance(json_object(body, "test"), dict)
        return
    with pytest.raises(PayloadError) as caught:
        json_object(body, "test")
    assert caught.value.details[0]["field"] == "body"


@pytest.mark.parametrize("name", VERDICT_FIELDS)
def test_a_finished_draft_carries_every_field_of_the_classifiers_verdict(name: str) -> None:
    draft = RecordDraft("test", provider_call_id="c1", start_time=10, duration=5, chain=["q850:17"],
                        sources=["plivo-source:Caller"], sip=486, flags=["adapter_flag"])
    verdict = classify(draft.evidence())
    expected = (*draft.flags, *verdict.flags) if name == "flags" else getattr(verdict, name)
    assert getattr(draft.finish(), name) == expected
