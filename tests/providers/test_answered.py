"""Who answered: each platform's answering-machine detection read into human, machine, fax or unknown."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path
from urllib.parse import urlencode

import pytest
from payload_cases import DATA, request_for

from hangup.composition import open_store
from hangup.importer.run import Importer
from hangup.providers.answered import answered_by
from hangup.providers.base import WebhookRequest
from hangup.providers.freeswitch import PROVIDER as FREESWITCH
from hangup.providers.twilio import PROVIDER as TWILIO
from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.service import StatsService
from hangup.stats.windows import Window
from hangup.store.base import CallQuery

TABLE = resources.files("hangup.providers").joinpath("answered_by.csv").read_text(encoding="utf-8")
ROWS = list(csv.DictReader(line for line in TABLE.splitlines() if line.strip() and not line.startswith("#")))


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['platform']}:{r['key']}={r['value']}")
def test_every_documented_value_reads_as_its_row_says_in_any_case(row: dict[str, str]) -> None:
    for spelling in (row["value"], row["value"].upper()):
        assert answered_by(row["platform"], {row["key"]: spelling}, True) == row["answered_by"]


@pytest.mark.parametrize(("platform", "native", "answered", "want"), [
    ("twilio", {"AnsweredBy": "machine_end_beep"}, False, "unknown"),  # not answered: nobody answered
    ("twilio", {"AnsweredBy": "robot"}, True, "unknown"),  # a value no document lists
    ("twilio", {}, True, "unknown"),  # no detection ran
    ("plivo", {"AnsweredBy": "human"}, True, "unknown"),  # another platform's key means nothing here
    ("freeswitch", {"amd_result": "NOTSURE", "avmd_detect": "TRUE"}, True, "unknown"),  # amd_result first
    ("freeswitch", {"avmd_detect": "TRUE"}, True, "machine"),
    ("vonage", {"status": "completed"}, True, "unknown"),
])
def test_what_is_not_a_detection_result_is_unknown(
        platform: str, native: dict[str, str], answered: bool, want: str) -> None:
    assert answered_by(platform, native, answered) == want


def _twilio(extra: dict[str, str]) -> WebhookRequest:
    form = {"CallSid": "CA0001", "CallStatus": "completed", "CallDuration": "42", "From": "+15550100",
            "To": "+15550101", "Timestamp": "Mon, 08 Jun 2026 10:00:00 +0000", **extra}
    body = urlencode(form).encode()
    return WebhookRequest("POST", "https://h.example/callbacks/twilio", "", body,
                          {"content-type": "application/x-www-form-urlencoded"}, 0.0)


@pytest.mark.parametrize(("answered_by_value", "want"), [
    ("human", "human"), ("machine_start", "machine"), ("machine_end_silence", "machine"), ("fax", "fax"),
    ("unknown", "unknown"), (None, "unknown"),
])
def test_a_twilio_status_callback_keeps_the_raw_value_beside_the_reading(
        answered_by_value: str | None, want: str) -> None:
    record = TWILIO.parse(_twilio({"AnsweredBy": answered_by_value} if answered_by_value else {}))
    assert record is not None and record.answered_by == want
    assert record.extra.get("AnsweredBy") == answered_by_value
    assert record.to_json()["answered_by"] == want


@pytest.mark.parametrize(("variables", "want"), [
    ({"amd_result": "MACHINE", "amd_cause": "MAXWORDS"}, "machine"),
    ({"amd_result": "HUMAN", "amd_cause": "HUMAN"}, "human"),
    ({"avmd_detect": "TRUE"}, "machine"),
    ({}, "unknown"),
])
def test_a_freeswitch_cdr_with_amd_variables(tmp_path: Path, variables: dict[str, str], want: str) -> None:
    cdr = json.loads((DATA / "freeswitch" / "inbound_recv_bye.json").read_text())
    cdr["variables"].update(variables)
    path = tmp_path / "cdr.json"
    path.write_text(json.dumps(cdr))
    record = FREESWITCH.parse(request_for(path, "freeswitch"))
    assert record is not None and record.answered_by == want
    assert all(record.extra[k] == v for k, v in variables.items())


def test_the_human_reach_rate_of_twilios_recorded_call_list(tmp_path: Path) -> None:
    """twilio-python's paged call list (tests/data/real): one call a person answered, one a machine."""
    url = f"sqlite:///{tmp_path}/calls.db"
    store = open_store(url)
    attach_rollups(store)
    try:
        Importer(store, rejects_path=str(tmp_path / "rejects.jsonl")).run(
            [str(DATA / "real" / "twilio" / "python-sdk-call-pages.export.json")], "twilio")
        assert sorted(c.answered_by for c in store.iter_calls(CallQuery())) == ["human", "machine"]
    finally:
        store.close()
    db = StatsDB(url)
    try:
        summary = StatsService(db, minute_days=0).summary(Window(1_500_000_000, 1_700_000_000), min_samples=1)
    finally:
        db.close()
    metrics = {m["id"]: m["value"] for m in summary["metrics"]}
    assert (metrics["attempts"], metrics["answered"], metrics["human_reach"]) == (2, 2, 0.5)
