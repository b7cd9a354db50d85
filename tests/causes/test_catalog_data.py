"""Integrity of every shipped vocabulary (including those adapters add) and of ``mappings.csv``."""

from __future__ import annotations

import pytest

from hangup.causes import Cause, EndedBy, Fault, Outcome, default_catalog
from hangup.causes.catalog import normalize_name

SCHEMES = default_catalog().schemes
CORE_SCHEMES = ("q850", "sip", "freeswitch", "planet", "planet-terminate", "callcenter", "callcenter-status", "plivo",
                "plivo-source")


def test_core_vocabularies_are_present() -> None:
    assert set(CORE_SCHEMES) <= set(SCHEMES)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_codes_and_names_are_unique_per_scheme(scheme: str) -> None:
    entries = list(default_catalog().entries(scheme))
    assert entries, f"{scheme} is empty"
    codes = [e.code for e in entries if e.code is not None]
    assert len(codes) == len(set(codes))
    names = [normalize_name(e.name) for e in entries]
    duplicated = {n for n in names if names.count(n) > 1}
    # The one name shared inside a scheme: SIP 406 and 606 are both "Not Acceptable".
    assert duplicated <= ({"not_acceptable"} if scheme == "sip" else set())


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_entry_is_placed_in_the_taxonomy(scheme: str) -> None:
    for entry in default_catalog().entries(scheme):
        assert entry.name.strip() and entry.description.strip(), entry.ref
        assert isinstance(entry.outcome, Outcome) and isinstance(entry.ended_by, EndedBy)
        assert isinstance(entry.fault, Fault)
        assert entry.normal or entry.next_steps.strip(), f"{entry.ref} is not normal but has no next steps"
        assert not (entry.normal and entry.outcome is Outcome.FAILED), entry.ref


@pytest.mark.parametrize("scheme", SCHEMES)
def test_equivalents_point_at_existing_entries(scheme: str) -> None:
    catalog = default_catalog()
    for entry in catalog.entries(scheme):
        if entry.q850 is not None:
            assert catalog.lookup("q850", entry.q850).known, f"{entry.ref} q850 {entry.q850}"
        if entry.sip is not None:
            assert catalog.lookup("sip", entry.sip).known, f"{entry.ref} sip {entry.sip}"


def test_every_mapping_resolves_on_both_sides() -> None:
    catalog = default_catalog()
    rows = list(catalog.mappings())
    assert len(rows) > 250
    for row in rows:
        assert catalog.lookup(row.from_scheme, row.from_code).known, row
        assert catalog.lookup(row.to_scheme, row.to_code).known, row
        assert row.source in {"rfc3398", "freeswitch", "asterisk", "planet"}, row


def test_q850_covers_the_defined_values() -> None:
    codes = {e.code for e in default_catalog().entries("q850")}
    defined = {1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 34, 38,
               39, 40, 41, 42, 43, 44, 46, 47, 49, 50, 53, 55, 57, 58, 62, 63, 65, 66, 69, 70, 79, 81, 82, 83, 84, 85,
               86, 87, 88, 90, 91, 95, 96, 97, 98, 99, 100, 101, 102, 103, 110, 111, 127}
    assert defined <= codes
    assert all(1 <= c <= 127 for c in codes if c is not None)


@pytest.mark.parametrize("code,name,q850,sip", [
    (487, "ORIGINATOR_CANCEL", 16, 487),
    (703, "MANAGER_REQUEST", 16, None),
    (807, "PROGRESS_TIMEOUT", 16, None),
    (142, "SUCCESS", 16, None),
    (21, "CALL_REJECTED", 21, 603),
    (45, "PRE_EMPTED", 45, None),
    (809, "GATEWAY_DOWN", 16, 503),
])
def test_freeswitch_values_and_hangup_cause_q850(code: int, name: str, q850: int, sip: int | None) -> None:
    cause = default_catalog().lookup("freeswitch", name)
    assert (cause.code, cause.q850, cause.sip) == (code, q850, sip)


@pytest.mark.parametrize("code,phrase", [
    (486, "Busy Here"), (487, "Request Terminated"), (603, "Decline"), (480, "Temporarily Unavailable"), (200, "OK"),
    (604, "Does Not Exist Anywhere"),
])
def test_sip_reason_phrases(code: int, phrase: str) -> None:
    assert default_catalog().lookup("sip", code).name == phrase


def test_every_sip_final_class_is_present() -> None:
    codes = {e.code for e in default_catalog().entries("sip")}
    assert {200, 300, 302, 400, 404, 408, 480, 486, 487, 488, 500, 503, 600, 603, 604, 606} <= codes
    assert all(c is not None and 200 <= c < 700 for c in codes)


def test_entries_are_immutable() -> None:
    cause: Cause = default_catalog().resolve("q850:17")
    with pytest.raises(AttributeError):
        cause.name = "X"  # type: ignore[misc]
