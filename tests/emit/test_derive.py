"""Derivation of the 19 callback keys from call facts, one scenario per row."""

from __future__ import annotations

from typing import Any

import pytest

from hangup.causes import default_catalog
from hangup.emit import CALLBACK_KEYS, derive, facts_from_dict
from hangup.emit.callback import event_from_query
from hangup.errors import PayloadError

SID = "6364e8b3-bdac-436e-9631-0bce2498ce0c"
SETUP, ANSWER, END = 1_700_000_000, 1_700_000_008, 1_700_000_068

# released_by, how, party, answered, sip_status -> call_end_reason, terminate, releaser, rel_code, rel_code_str
CASES: list[tuple[str, str, str | None, bool, int | None, int, int, str, int]] = [
    ("caller", "cancel", None, False, None, 1000, 77, "initiator", 2),
    ("callee", "busy", None, False, None, 1001, 17, "responder", 3),
    ("callee", "sip_response", None, False, 486, 1001, 17, "responder", 486),
    ("callee", "sip_response", None, False, 600, 1001, 17, "responder", 600),
    ("server", "no_answer", None, False, None, 1002, 18, "voip-1.example", 4),
    ("callee", "sip_response", None, False, 480, 1002, 18, "responder", 480),
    ("callee", "reject", None, False, None, 1003, 21, "responder", 5),
    ("callee", "sip_response", None, False, 603, 1003, 21, "responder", 603),
    ("caller", "sip_response", None, False, 487, 1000, 77, "initiator", 487),
    ("caller", "bye", None, True, None, 1004, 16, "initiator", 1),
    ("callee", "bye", None, True, None, 1005, 16, "responder", 1),
    ("server", "network_loss", "caller", True, None, 1010, 16, "voip-1.example", 6),
    ("server", "network_loss", "callee", False, None, 1011, 127, "voip-1.example", 6),
    ("caller", "device_error", None, True, None, 1012, 16, "initiator", 7),
    ("callee", "device_error", None, False, None, 1013, 127, "responder", 7),
    ("caller", "cellular_call", None, True, None, 1014, 16, "initiator", 8),
    ("callee", "cellular_call", None, True, None, 1015, 16, "responder", 8),
    ("caller", "os_interruption", None, False, None, 1016, 127, "initiator", 9),
    ("callee", "os_interruption", None, True, None, 1017, 16, "responder", 9),
    ("server", "auth_failure", "caller", False, None, 1018, 127, "voip-1.example", 10),
    ("server", "auth_failure", "callee", False, None, 1019, 127, "voip-1.example", 10),
    ("server", "push_failure", None, False, None, 1020, 127, "voip-1.example", 11),
    ("server", "server_error", None, True, None, 1021, 16, "voip-1.example", 12),
    ("server", "sip_response", None, False, 503, 1021, 127, "voip-1.example", 503),
    ("caller", "client_error", None, False, None, 1022, 127, "initiator", 13),
    ("callee", "client_error", None, True, None, 1023, 16, "responder", 13),
    ("server", "other_device_in_use", None, False, None, 1024, 17, "voip-1.example", 15),
    ("caller", "protocol_error", None, True, None, 1025, 16, "initiator", 14),
    ("callee", "protocol_error", None, False, None, 1026, 127, "responder", 14),
    ("callee", "sip_response", None, False, 488, 1026, 127, "responder", 488),
    ("server", "orphaned", None, False, None, 1100, 127, "voip-1.example", 90),
    ("server", "unknown", None, True, None, 1100, 16, "voip-1.example", 99),
    ("callee", "sip_response", None, False, 404, 1100, 127, "responder", 404),
]


def facts(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sid": SID, "from_service_id": "planetkit", "from_user_id": "alice", "to_service_id": "planetkit",
        "to_user_id": "bob", "type": "V", "setup_time": SETUP, "start_time": ANSWER, "end_time": END,
        "released_by": "caller", "how": "bye", "srcip": "1.2.3.4", "dstip": "1.2.3.5", "stid": "voip.next",
    }  # fmt: skip
    base.update(overrides)
    return base


def _facts_for(released_by: str, how: str, party: str | None, answered: bool, sip: int | None) -> dict[str, Any]:
    return facts(
        released_by=released_by, how=how, party=party, start_time=ANSWER if answered else 0, sip_status=sip,
        server="voip-1.example" if released_by == "server" else "",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("released_by", "how", "party", "answered", "sip", "cer", "terminate", "releaser", "rel_code"), CASES
)
def test_derivation_table(
    released_by: str, how: str, party: str | None, answered: bool, sip: int | None,
    cer: int, terminate: int, releaser: str, rel_code: int,
) -> None:  # fmt: skip
    event = derive(facts_from_dict(_facts_for(released_by, how, party, answered, sip)))
    assert (event.call_end_reason, event.terminate, event.releaser, event.rel_code) == (
        cer, terminate, releaser, rel_code
    )
    assert event.duration == (END - ANSWER if answered else 0)
    assert event.rel_code_str


def test_every_call_end_reason_and_terminate_is_covered() -> None:
    catalog = default_catalog()
    assert {c.code for c in catalog.entries("planet")} == {row[5] for row in CASES}
    assert {c.code for c in catalog.entries("planet-terminate")} == {row[6] for row in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[1]}-{c[5]}")
def test_derived_event_classifies_back_to_the_same_outcome(case: tuple[Any, ...]) -> None:
    released_by, how, party, answered, sip = case[:5]
    event = derive(facts_from_dict(_facts_for(released_by, how, party, answered, sip)))
    catalog = default_catalog()
    detail = catalog.lookup("planet", event.call_end_reason)
    simple = catalog.lookup("planet-terminate", event.terminate)
    assert detail.known and simple.known
    if event.duration == 0 and event.terminate != 127:
        assert simple.outcome == detail.outcome
    if event.terminate == 127:
        assert not detail.normal


def test_a_call_answered_and_ended_in_the_same_second_is_not_normal_released() -> None:
    event = derive(facts_from_dict(facts(start_time=END, end_time=END, how="bye", released_by="callee")))
    assert (event.duration, event.call_end_reason, event.terminate) == (0, 1005, 127)


def test_query_has_exactly_the_19_keys_in_order_and_round_trips() -> None:
    event = derive(facts_from_dict(facts(user_rel_code="hung-up-in-app")))
    params = event.to_params()
    assert [k for k, _ in params] == list(CALLBACK_KEYS)
    assert len(params) == 19
    assert event_from_query(event.to_query()) == event


def test_absent_nullable_keys_are_sent_empty() -> None:
    event = derive(facts_from_dict(facts(stid=None)))
    params = dict(event.to_params())
    assert params["stid"] == "" and params["user_rel_code"] == ""


def test_sip_reason_phrase_comes_from_the_catalog_when_it_has_sip() -> None:
    event = derive(facts_from_dict(_facts_for("callee", "sip_response", None, False, 486)))
    assert event.rel_code_str.startswith("SIP_486")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sid": "short"}, "sid"),
        ({"setup_time": "soon"}, "setup_time"),
        ({"how": "hung-up"}, "how"),
        ({"released_by": "server"}, "server"),
        ({"end_time": SETUP - 1}, "end_time"),
        ({"start_time": SETUP - 5}, "start_time"),
        ({"how": "sip_response", "start_time": 0}, "sip_status"),
        ({"how": "cancel"}, "start_time"),
        ({"how": "bye", "start_time": 0}, "start_time"),
        ({"how": "network_loss", "released_by": "server", "server": "voip-1"}, "party"),
        ({"from_user_id": ""}, "from_user_id"),
    ],
)
def test_bad_facts_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as info:
        derive(facts_from_dict(facts(**overrides)))
    assert field in [d["field"] for d in info.value.details]
