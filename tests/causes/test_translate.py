"""Translations between vocabularies: RFC 3398 both ways, FreeSWITCH, Asterisk and Planet's own rule."""

from __future__ import annotations

import pytest

from hangup.causes import default_catalog


def first(ref: str, to: str) -> str:
    result = default_catalog().translate(ref, to)
    assert result.entries, result.reason
    return result.entries[0].ref


@pytest.mark.parametrize("ref,to,expected", [
    ("sip:486", "q850", "q850:17"),
    ("sip:404", "q850", "q850:1"),
    ("sip:480", "q850", "q850:18"),
    ("sip:408", "q850", "q850:102"),
    ("sip:503", "q850", "q850:41"),
    ("sip:603", "q850", "q850:21"),
    ("sip:488", "q850", "q850:88"),  # RFC 3398 takes it from the Warning header; FreeSWITCH says 88
    ("q850:17", "sip", "sip:486"),
    ("q850:21", "sip", "sip:403"),
    ("q850:1", "sip", "sip:404"),
    ("q850:34", "sip", "sip:503"),
    ("q850:102", "sip", "sip:504"),
    ("planet:1003", "q850", "q850:21"),
    ("planet:1001", "sip", "sip:486"),
    ("sip:487", "freeswitch", "freeswitch:487"),
    ("sip:487", "q850", "q850:16"),  # FreeSWITCH's hangup_cause_q850 for ORIGINATOR_CANCEL; Asterisk says 127
    ("freeswitch:ORIGINATOR_CANCEL", "sip", "sip:487"),
    ("freeswitch:GATEWAY_DOWN", "sip", "sip:503"),
    ("callcenter:USER_BUSY", "q850", "q850:17"),
    ("plivo:3010", "sip", "sip:486"),
])
def test_best_equivalent(ref: str, to: str, expected: str) -> None:
    assert first(ref, to) == expected


@pytest.mark.parametrize("q850", [1, 17, 21, 22, 28, 102])
def test_q850_sip_q850_round_trip(q850: int) -> None:
    sip = first(f"q850:{q850}", "sip")
    assert first(sip, "q850") == f"q850:{q850}"


@pytest.mark.parametrize("sip", [403, 404, 410, 484, 486, 504])
def test_sip_q850_sip_round_trip(sip: int) -> None:
    assert first(first(f"sip:{sip}", "q850"), "sip") == f"sip:{sip}"


def test_sources_are_ranked_rfc_first_and_all_kept() -> None:
    result = default_catalog().translate("q850:21", "sip")
    refs = [e.ref for e in result.entries]
    assert refs[:2] == ["sip:403", "sip:603"]
    assert result.via[:2] == ("rfc3398", "rfc3398")
    assert "sip:608" not in refs[:2]


def test_sources_disagree_on_sip_480() -> None:
    refs = [e.ref for e in default_catalog().translate("sip:480", "q850").entries]
    assert refs[:2] == ["q850:18", "q850:19"]  # RFC 3398 / FreeSWITCH: 18; Asterisk: 19


@pytest.mark.parametrize("reason,terminate", [(1000, 77), (1001, 17), (1002, 18), (1003, 21), (1004, 16), (1005, 16),
                                              (1010, 127), (1020, 127), (1024, 127), (1100, 127)])
def test_planet_call_end_reason_to_terminate(reason: int, terminate: int) -> None:
    assert first(f"planet:{reason}", "planet-terminate") == f"planet-terminate:{terminate}"


def test_every_planet_reason_has_a_terminate_value() -> None:
    for entry in default_catalog().entries("planet"):
        assert default_catalog().translate(entry, "planet-terminate").entries, entry.ref


def test_same_scheme_translates_to_itself() -> None:
    result = default_catalog().translate("q850:17", "q850")
    assert [e.ref for e in result.entries] == ["q850:17"] and result.via == ("same scheme",)


@pytest.mark.parametrize("ref,to,words", [
    ("plivo-source:Caller", "q850", "no Q.850 or SIP equivalent"),
    ("q850:999", "sip", "not in the catalog"),
])
def test_no_equivalent_says_why(ref: str, to: str, words: str) -> None:
    result = default_catalog().translate(ref, to)
    assert result.entries == () and words in result.reason
