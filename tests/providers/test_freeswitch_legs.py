"""A FreeSWITCH call's A- and B-leg CDRs are one call (``hangup.legs``), whichever is stored first.

The B-leg is a real CDR of the corpus (``tests/data/real/freeswitch/ccm-outside-call-cdr.xml``, its
``originating_leg_uuid`` naming the A-leg); the A-leg is written here as mod_json_cdr would post it for that
call (no real A-leg of it was published): its ``uuid`` the B-leg's ``originating_leg_uuid``, its ``bleg_uuid``
the B-leg's ``uuid``, answered when the B-leg answered, hung up by the far end.
"""

from __future__ import annotations

import json
from itertools import permutations
from pathlib import Path

import pytest

from hangup.providers.freeswitch import parse_cdr, record_from_cdr
from hangup.records import CallRecord, call_id_for
from hangup.store import open_store

B_LEG = Path(__file__).resolve().parent.parent / "data" / "real" / "freeswitch" / "ccm-outside-call-cdr.xml"
A_UUID, B_UUID = "96787eeb-2661-4c11-a719-8eab89d498d7", "2811f8a7-0bf4-4574-ba7a-fb21417e7dde"
A_LEG = {"variables": {
    "uuid": A_UUID, "bleg_uuid": B_UUID, "direction": "inbound", "caller_id_number": "+6280000000101",
    "destination_number": "+15555550111", "start_epoch": "1423742214", "answer_epoch": "1423742240",
    "end_epoch": "1423742282", "billsec": "42", "hangup_cause": "NORMAL_CLEARING", "hangup_cause_q850": "16",
    "sip_hangup_disposition": "send_bye", "bridge_epoch": "1423742240",
}}


def _legs() -> list[CallRecord]:
    b_leg = B_LEG.read_text()
    a_leg = json.dumps(A_LEG)
    return [record_from_cdr(parse_cdr(a_leg.encode(), "application/json"), a_leg),
            record_from_cdr(parse_cdr(b_leg.encode(), "application/xml"), b_leg)]


def test_both_legs_name_the_a_legs_call() -> None:
    a_leg, b_leg = _legs()
    assert (a_leg.id, a_leg.leg_id, b_leg.leg_id) == (call_id_for("freeswitch", A_UUID), A_UUID, B_UUID)
    assert b_leg.id == a_leg.id and b_leg.provider_call_id == A_UUID


@pytest.mark.parametrize("order", list(permutations(range(2))))
def test_a_and_b_legs_in_either_order_are_one_call(tmp_path: Path, order: tuple[int, ...]) -> None:
    legs = _legs()
    store = open_store(f"sqlite:///{tmp_path}/calls.db")
    try:
        statuses = [str(store.add_many([legs[i]])[0].status) for i in order]
        call = store.get(legs[0].id)
        assert statuses == ["inserted", "leg"] and call is not None
        assert (call.answered, call.duration, call.outcome, call.leg_id) == (True, 42, "completed", A_UUID)
        assert sorted(leg.leg_id for leg in store.legs(call.id)) == sorted((A_UUID, B_UUID))
        assert store.count() == 1 and store.conflicts(call.id) == []
    finally:
        store.close()
