"""``SCHEME:KEY`` references, unknown codes, malformed references, predicates and the generic loader."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hangup.causes import Outcome, default_catalog, load_catalog, parse_ref
from hangup.errors import CatalogError


@pytest.mark.parametrize("ref,scheme,code,name", [
    ("planet:1003", "planet", 1003, "CALLEE_REJECT"),
    ("planet:callee_reject", "planet", 1003, "CALLEE_REJECT"),
    ("PLANET: 1003", "planet", 1003, "CALLEE_REJECT"),
    ("q850:user busy", "q850", 17, "USER_BUSY"),
    ("q850:BUSY", "q850", 17, "USER_BUSY"),
    ("q850:unallocated", "q850", 1, "UNALLOCATED_NUMBER"),
    ("sip:busy here", "sip", 486, "Busy Here"),
    ("sip:Internal Server Error", "sip", 500, "Server Internal Error"),
    ("freeswitch:originator_cancel", "freeswitch", 487, "ORIGINATOR_CANCEL"),
    ("plivo:normal hangup", "plivo", 4000, "Normal Hangup"),
    ("plivo-source:carrier", "plivo-source", None, "Carrier"),
])
def test_references_by_code_or_name(ref: str, scheme: str, code: int | None, name: str) -> None:
    cause = default_catalog().resolve(ref)
    assert (cause.known, cause.scheme, cause.code, cause.name) == (True, scheme, code, name)


@pytest.mark.parametrize("ref", ["q850:999", "sip:299", "plivo:1", "planet:NOT_A_REASON", "callcenter:950",
                                 # found by fuzzing the webhooks: each raised ValueError from int()
                                 "q850:\u00b2", "sip:" + "9" * 5000, "q850:--5", "sip:-\u00b2"])
def test_unknown_codes_answer_an_explicit_unknown_entry(ref: str) -> None:
    cause = default_catalog().resolve(ref)
    assert cause.known is False and cause.outcome is Outcome.UNKNOWN
    assert cause.to_json()["known"] is False and cause.next_steps


def test_a_shared_name_asks_for_the_code() -> None:
    cause = default_catalog().resolve("sip:Not Acceptable")
    assert cause.known is False and "sip:406" in cause.description and "sip:606" in cause.description
    assert default_catalog().resolve("sip:606").name == "Not Acceptable"


@pytest.mark.parametrize("ref", ["", "q850", "q850:", ":17", "1q:17", "q 850:17", "planet 1003"])
def test_malformed_references_raise(ref: str) -> None:
    with pytest.raises(CatalogError):
        parse_ref(ref)
    with pytest.raises(CatalogError):
        default_catalog().resolve(ref)


def test_unknown_scheme_raises_and_names_the_known_ones() -> None:
    with pytest.raises(CatalogError, match="known schemes: .*q850"):
        default_catalog().resolve("isdn:17")
    with pytest.raises(CatalogError):
        default_catalog().translate("q850:17", "isdn")


@pytest.mark.parametrize("ref,answered,failure,busy,network", [
    ("planet:1004", True, False, False, False),
    ("planet:1001", False, False, True, False),
    ("planet:1024", False, False, True, False),
    ("planet:1010", False, True, False, True),
    ("q850:34", False, True, False, True),
    ("callcenter:902", True, False, False, False),
    ("freeswitch:BLIND_TRANSFER", True, False, False, False),
    ("plivo:5010", False, True, False, False),
    ("q850:999", False, False, False, False),
])
def test_predicates(ref: str, answered: bool, failure: bool, busy: bool, network: bool) -> None:
    catalog = default_catalog()
    assert catalog.is_answered(ref) is answered
    assert catalog.is_failure(ref) is failure
    assert catalog.is_busy(ref) is busy
    assert catalog.is_network_failure(catalog.resolve(ref)) is network


def test_to_json_has_the_documented_keys() -> None:
    data = default_catalog().resolve("callcenter:USER_BUSY").to_json()
    assert {"scheme", "code", "name", "description", "outcome", "ended_by", "fault", "normal", "q850", "sip",
            "next_steps", "known"} <= set(data)
    assert data["extra"] == {"last_response_code": "486"} and data["sip"] == 486


def test_default_catalog_is_loaded_once() -> None:
    assert default_catalog() is default_catalog()


def test_loader_reads_any_csv_dropped_in_the_data_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "extra_causes_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "acme-status.csv").write_text(
        "# Acme call status (test vocabulary)\n"
        "code,name,description,outcome,ended_by,fault,normal,q850,sip,next_steps,group,aliases,vendor_note\n"
        "7,Gone Away,The callee left,no_answer,callee,none,true,19,480,,status,gone|away,kept\n"
        ",Broken,Something broke,failed,platform,platform,false,,,Call Acme.,status,,\n"
    )
    (package / "mappings.csv").write_text("from_scheme,from_code,to_scheme,to_code,source,note\n"
                                          "acme-status,7,acme-status,7,self,identity\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        catalog = load_catalog("extra_causes_pkg")
        assert catalog.schemes == ("acme-status",)
        gone = catalog.resolve("acme-status:away")
        assert (gone.code, gone.get("vendor_note"), gone.source) == (7, "kept", "Acme call status (test vocabulary)")
        assert catalog.resolve("acme-status:broken").next_steps == "Call Acme."
        assert [m.note for m in catalog.mappings()] == ["identity"]
    finally:
        sys.modules.pop("extra_causes_pkg", None)


@pytest.mark.parametrize("row,error", [
    ("1,A,d,sideways,callee,none,true", "sideways"),
    ("1,A,d,busy,callee,none,maybe", "maybe"),
    ("x,A,d,busy,callee,none,true", "bad row"),
])
def test_loader_rejects_bad_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: str, error: str) -> None:
    package = tmp_path / "bad_causes_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.csv").write_text("code,name,description,outcome,ended_by,fault,normal\n" + row + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(CatalogError, match=error):
            load_catalog("bad_causes_pkg")
    finally:
        sys.modules.pop("bad_causes_pkg", None)
