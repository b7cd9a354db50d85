"""RFC 3326 Reason values: protocol, cause and text, and the catalog reference each names."""

from __future__ import annotations

import pytest

from hangup.sip.reason import Reason, parse_reason


@pytest.mark.parametrize(("value", "reason", "ref"), [
    ('Q.850;cause=17;text="User busy"', Reason("Q.850", 17, "User busy"), "q850:17"),
    ("SIP;cause=487", Reason("SIP", 487, ""), "sip:487"),
    ("SIP ; cause = 600 ; text=Busy", Reason("SIP", 600, "Busy"), "sip:600"),
    ('q.850;text="a \\"quoted\\" word";cause=34', Reason("q.850", 34, 'a "quoted" word'), "q850:34"),
    ("Q.850;cause=abc", Reason("Q.850", None, ""), None),
    ("preemption;cause=1", Reason("preemption", 1, ""), None),
    ("Q.850;cause=\u00b2", Reason("Q.850", None, ""), None),  # isdigit() takes "²", int() raised ValueError
])
def test_parse_reason(value: str, reason: Reason, ref: str | None) -> None:
    assert parse_reason(value) == reason and parse_reason(value).ref == ref
