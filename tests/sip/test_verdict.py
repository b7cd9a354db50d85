"""``hangup.sip.verdict.reclassify``: a stored SIP call gets every verdict field again (the classifier's, the
parties' numbers, ``answered_by``); its route stays as stored."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hangup.providers.draft import RecordDraft
from hangup.record_fields import RecordField
from hangup.records import FIELDS, CallRecord
from hangup.sip.verdict import PROVIDER, REDERIVED, keep_evidence, reclassify

BY_NAME = {f.name: f for f in FIELDS}


def _stored() -> CallRecord:
    """A SIP call as ``record_of`` stores it: a BYE from the callee carrying a Q.850 reason, answered."""
    draft = RecordDraft(PROVIDER, provider_call_id="c1@example.com", from_user_id="+493012345678",
                        to_user_id="+442079460000",
                        setup_time=1_700_000_000, start_time=1_700_000_003, end_time=1_700_000_060, duration=57,
                        answered=True, chain=["q850:17", "q850:16"], ended_by="callee", sip=200, q850=17,
                        flags=["answer_not_seen"], route="gw-1")
    keep_evidence(draft)
    return draft.finish()


#: Spoiled values of the verdict fields ``reclassify`` also reads: the stored references in other spellings
#: the catalog knows (the classifier writes its own), and a classifier flag that does not apply (it is dropped
#: and the classifier's flags are set again).
_READ_BACK = {"causes": lambda refs: tuple(r.upper() for r in refs), "flags": lambda flags: (*flags, "unknown_cause"),
              "answered_by": lambda _: "machine"}


def _spoiled(f: RecordField, value: Any) -> Any:
    """A value of the field's kind other than ``value``."""
    if f.name in _READ_BACK:
        return _READ_BACK[f.name](value)
    others: dict[str, Any] = {"text": "spoiled", "integer": 599, "boolean": not value, "list": ("spoiled",)}
    return others[f.kind]


@pytest.mark.parametrize("name", REDERIVED)
def test_reclassify_sets_every_field_of_the_verdict(name: str) -> None:
    stored = _stored()
    spoiled = dataclasses.replace(stored, **{name: _spoiled(BY_NAME[name], getattr(stored, name))})
    assert getattr(spoiled, name) != getattr(stored, name)
    assert reclassify(spoiled) == stored


def test_the_stored_call_has_a_verdict_to_keep() -> None:
    stored = _stored()
    assert (stored.cause, stored.outcome, stored.ended_by, stored.q850, stored.sip) == (
        "q850:17", "busy", "callee", 17, 200)
    assert stored.flags == ("answer_not_seen", "answered_but_busy")
    # the parties' numbers are derived (so the spoiled ones above are told apart from them)
    assert (stored.from_e164, stored.to_e164, stored.to_country) == ("+493012345678", "+442079460000", "GB")


def test_the_route_stays_as_stored() -> None:
    """The address a dialog's INVITE went to is not kept apart from the carrier it was mapped to."""
    stored = _stored()
    assert "route" not in REDERIVED and stored.route == "gw-1"
    moved = dataclasses.replace(stored, route="carrier-b")
    assert reclassify(moved) == moved
