"""``record_maker``: a record built by a generated function is the one ``CallRecord``'s own ``__init__`` builds."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hangup.records import FIELDS, CallRecord, record_maker

REQUIRED = {"id": "i", "provider": "sip", "provider_call_id": "c", "from_service_id": "", "from_user_id": "alice",
            "to_service_id": "", "to_user_id": "+4930123", "call_type": "A", "setup_time": 1, "start_time": 0,
            "end_time": 9, "duration": 0, "answered": False}
#: Every field unlike its default (``None`` where a field may be none stays a value of its own).
FULL = {**REQUIRED, "direction": "inbound", "stid": "s", "srcip": "192.0.2.1", "dstip": "192.0.2.2",
        "call_end_reason": 1005, "terminate": 16, "releaser": "initiator", "rel_code": 3, "rel_code_str": "x",
        "user_rel_code": "u", "cause": "sip:486", "causes": ("sip:486", "q850:17"), "outcome": "busy",
        "ended_by": "callee", "fault": "callee", "normal": True, "reason": "busy here", "q850": 17, "sip": 486,
        "flags": ("answered_but_busy",), "route": "acme", "from_e164": "+1415", "from_country": "US",
        "to_e164": "+4930123", "to_country": "DE", "to_number_type": "fixed_line", "to_prefix": "4930",
        "answered_by": "machine", "extra": {"a": "b"}, "leg_id": "leg", "raw": "INVITE …", "received_at": 2.5}

RECORDS: dict[str, dict[str, Any]] = {
    "required fields only": REQUIRED,
    "every field": FULL,
    "nones": {**REQUIRED, "stid": None, "q850": None, "sip": None, "terminate": None},
}


def test_the_table_sets_every_field() -> None:
    assert [f.name for f in FIELDS if FULL[f.name] == f.default] == []


@pytest.mark.parametrize("values", RECORDS.values(), ids=list(RECORDS))
def test_a_made_record_is_the_dataclass_one(values: dict[str, Any]) -> None:
    make = record_maker("v", {name: f"v[{name!r}]" for name in values})
    made, built = make(values), CallRecord(**values)
    assert type(made) is CallRecord
    assert made == built
    assert [getattr(made, f.name) for f in FIELDS] == [getattr(built, f.name) for f in FIELDS]
    assert [type(getattr(made, f.name)) for f in FIELDS] == [type(getattr(built, f.name)) for f in FIELDS]
    assert made.extra is values.get("extra", built.extra)  # a default is the one the dataclass gives
    assert made.to_json() == built.to_json()
    assert repr(made) == repr(built)
    assert dataclasses.replace(made, cause="x") == dataclasses.replace(built, cause="x")
    assert [f.name for f in dataclasses.fields(made)] == [f.name for f in FIELDS]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.cause = "changed"  # type: ignore[misc]


def test_a_made_record_hashes_as_the_dataclass_one() -> None:
    values = {**REQUIRED, "extra": ()}  # hashable only with a hashable extra
    make = record_maker("v", {name: f"v[{name!r}]" for name in values})
    assert hash(make(values)) == hash(CallRecord(**values))


def test_expressions_read_the_parameters_and_namespace() -> None:
    make = record_maker("who, when", {**{name: repr(value) for name, value in REQUIRED.items()},
                                      "from_user_id": "who", "setup_time": "when", "route": "ROUTE"},
                        {"ROUTE": "acme"})
    assert make("bob", 7) == CallRecord(**{**REQUIRED, "from_user_id": "bob", "setup_time": 7, "route": "acme"})


@pytest.mark.parametrize(("values", "message"), [
    ({name: repr(value) for name, value in REQUIRED.items() if name != "id"}, "'id' has no value"),
    ({**{name: repr(value) for name, value in REQUIRED.items()}, "colour": "'red'"}, "'colour'"),
])
def test_a_maker_without_a_required_field_or_with_an_unknown_one_is_refused(values: dict[str, str],
                                                                           message: str) -> None:
    with pytest.raises(TypeError, match=message):
        record_maker("", values)
