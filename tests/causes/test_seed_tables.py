"""Every row of the four source documents is in the catalog with its exact code, name and text.

The expected rows are this test's own fixtures (``tests/data/seeds/*.csv``), transcribed from the LINE Planet
API specification ("Server release reason"), the contact centre's "Call Status and Bye Reason" page and Plivo's
"Hangup Causes" page, never read from the package's data files.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from hangup.causes import Cause, default_catalog

SEEDS = Path(__file__).parent.parent / "data" / "seeds"


def rows(name: str) -> list[dict[str, str]]:
    lines = [ln for ln in (SEEDS / name).read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    return list(csv.DictReader(lines))


def cases(name: str, key: str) -> list[Any]:
    return [pytest.param(r, id=r[key]) for r in rows(name)]


def test_fixtures_hold_every_row_of_the_documents() -> None:
    names = ("planet-terminate.csv", "planet.csv", "callcenter-status.csv", "callcenter.csv", "plivo-source.csv",
             "plivo.csv")
    counts = {name: len(rows(name)) for name in names}
    assert counts == {"planet-terminate.csv": 6, "planet.csv": 24, "callcenter-status.csv": 8, "callcenter.csv": 67,
                      "plivo-source.csv": 8, "plivo.csv": 54}


@pytest.mark.parametrize("row", cases("planet-terminate.csv", "definition"))
def test_planet_terminate(row: dict[str, str]) -> None:
    cause = default_catalog().lookup("planet-terminate", row["code"])
    assert (cause.known, cause.code, cause.name) == (True, int(row["code"]), row["definition"])
    assert default_catalog().lookup("planet-terminate", row["definition"]) is cause


@pytest.mark.parametrize("row", cases("planet.csv", "reason"))
def test_planet_call_end_reason(row: dict[str, str]) -> None:
    cause = default_catalog().lookup("planet", int(row["code"]))
    assert (cause.code, cause.name, cause.description) == (int(row["code"]), row["reason"], row["description"])
    assert default_catalog().resolve(f"planet:{row['reason']}") is cause


@pytest.mark.parametrize("row", cases("callcenter-status.csv", "status"))
def test_callcenter_status(row: dict[str, str]) -> None:
    cause = default_catalog().lookup("callcenter-status", row["status"])
    assert cause.known and cause.code is None
    assert cause.description == row["definition"]
    assert row["status"] in (cause.name, *cause.aliases)


def test_called_failed_keeps_the_source_spelling_as_an_alias() -> None:
    cause = default_catalog().resolve("callcenter-status:Called Failed")
    assert cause.name == "Call Failed" and "Called Failed" in cause.aliases
    assert default_catalog().resolve("callcenter-status:call failed") is cause


@pytest.mark.parametrize("row", cases("callcenter.csv", "bye_reason"))
def test_callcenter_bye_reason(row: dict[str, str]) -> None:
    cause = default_catalog().lookup("callcenter", row["bye_reason"])
    assert (cause.known, cause.name, cause.description) == (True, row["bye_reason"], row["definition"])
    text = row["last_response_code"]
    if text == "" and cause.code is not None:
        # Abandoned_Voicemail is listed as 904 and again without a code: one entry, the coded one.
        assert cause.name == "Abandoned_Voicemail" and cause.code == 904
        return
    assert cause.get("last_response_code") == text
    if text.isdigit() and int(text) >= 900:
        assert (cause.code, cause.sip) == (int(text), None)
        assert default_catalog().lookup("callcenter", text) is cause
    else:
        assert cause.code is None
        assert cause.sip == (int(text) if text.isdigit() else None)


def test_callcenter_has_one_entry_per_name() -> None:
    names = {r["bye_reason"] for r in rows("callcenter.csv")}
    assert len(list(default_catalog().entries("callcenter"))) == len(names) == 66


@pytest.mark.parametrize("ref,name", [
    ("callcenter:901", "Terminated_From_Server"), ("callcenter:USER_BUSY", "USER_BUSY"),
    ("callcenter:909", "Transferred_From_Call_System"),
])
def test_callcenter_codes_and_names_both_resolve(ref: str, name: str) -> None:
    assert default_catalog().resolve(ref).name == name


@pytest.mark.parametrize("row", cases("plivo-source.csv", "source"))
def test_plivo_source(row: dict[str, str]) -> None:
    cause = default_catalog().lookup("plivo-source", row["source"])
    assert (cause.known, cause.code, cause.name, cause.description) == (True, None, row["source"], row["description"])


@pytest.mark.parametrize("row", cases("plivo.csv", "code"))
def test_plivo_hangup_cause(row: dict[str, str]) -> None:
    cause: Cause = default_catalog().lookup("plivo", int(row["code"]))
    assert (cause.code, cause.name, cause.description) == (int(row["code"]), row["cause"], row["description"])
    assert (cause.next_steps, cause.group) == (row["next_steps"], row["group"])
    assert default_catalog().lookup("plivo", row["cause"]) is cause


def test_schemes_hold_nothing_but_the_documents_rows() -> None:
    catalog = default_catalog()
    assert {e.name for e in catalog.entries("planet")} == {r["reason"] for r in rows("planet.csv")}
    assert {e.code for e in catalog.entries("plivo")} == {int(r["code"]) for r in rows("plivo.csv")}
    assert {e.name for e in catalog.entries("plivo-source")} == {r["source"] for r in rows("plivo-source.csv")}
    assert len(list(catalog.entries("callcenter-status"))) == 8
    assert len(list(catalog.entries("planet-terminate"))) == 6
