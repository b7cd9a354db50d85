"""Reading hangup's own exports back: each bad value is named by the key the export writes it under."""

from __future__ import annotations

from typing import Any

import pytest

from hangup.errors import InvalidPayload
from hangup.importer.canonical import record_from_export

GOOD = {"id": "c1", "provider": "planet", "provider_call_id": "c1", "setup_time": 0, "start_time": 0, "end_time": 0,
        "duration": 0, "answered": False, "normal": False}


@pytest.mark.parametrize(
    ("changes", "details"),
    [
        ({"id": ""}, [{"field": "id", "error": "required"}]),
        ({"duration": None}, [{"field": "duration", "error": "int() argument must be a string, a bytes-like object "
                                                             "or a real number, not 'NoneType'"[:80]}]),
        ({"type": "X"}, [{"field": "type", "error": "expected A or V"}]),
        ({"direction": "sideways"}, [{"field": "direction", "error": "expected inbound, outbound or unknown"}]),
        ({"setup_time": "soon"}, [{"field": "setup_time", "error": "invalid literal for int() with base 10: 'soon'"}]),
        ({"answered": "maybe"}, [{"field": "answered", "error": "expected true or false"}]),
        ({"extra": "{"}, [{"field": "extra", "error": "not JSON"}]),
        ({"provider": "", "type": "X", "extra": "[]"}, [{"field": "provider", "error": "required"},
                                                        {"field": "type", "error": "expected A or V"},
                                                        {"field": "extra", "error": "expected an object"}]),
    ],
)
def test_bad_values_are_named(changes: dict[str, Any], details: list[dict[str, str]]) -> None:
    with pytest.raises(InvalidPayload) as caught:
        record_from_export({**GOOD, **changes})
    assert caught.value.details == details


def test_missing_values_take_the_record_defaults() -> None:
    record = record_from_export({**GOOD, "stid": "", "q850": "", "causes": "planet:1005|q850:17"})
    assert (record.call_type, record.direction, record.stid, record.q850, record.causes, record.extra) == (
        "A", "unknown", None, None, ("planet:1005", "q850:17"), {})
