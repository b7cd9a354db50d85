"""Records written by the platforms themselves (``tests/data/real/``) read as a telephony engineer reads them.

Each record sits beside ``<name>.expected.json``, the verdict. A webhook body (``<name>.json``/``.form``)
is posted, signed the way the platform signs it, to ``/callbacks/<platform>``, and the stored call must
carry the listed fields (``null``: not a call end, acknowledged and not stored). A list export
(``<name>.export.*``: the platform's REST call list, one call, or a CDR file) goes through ``hangup
import --format <format>`` (and ``--columns`` where the expected file names a column mapping), and the
summary and each stored call must match. Where every record comes from,
under which licence and what was changed is in ``tests/data/real/PROVENANCE.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from payload_cases import compare
from test_webhooks_e2e import ENV, Signer, basic, plivo, telnyx, twilio, vonage

from hangup.importer.columns import parse_columns
from hangup.importer.run import Importer
from hangup.store.base import CallQuery, Store

REAL = Path(__file__).resolve().parent.parent / "data" / "real"
SIGNERS: dict[str, Signer] = {"plivo": plivo, "twilio": twilio, "telnyx": telnyx, "vonage": vonage, "freeswitch": basic}
SUMMARY = ("imported", "duplicates", "conflicts", "ignored", "rejected")


def _records(kind: str) -> list[Path]:
    found = [p for p in REAL.glob("*/*") if not p.name.endswith(".expected.json") and p.suffix != ".md"]
    return sorted(p for p in found if (".export." in p.name) == (kind == "export"))


def _expected(record: Path) -> Any:
    return json.loads(record.with_name(record.name.removesuffix(record.suffix) + ".expected.json").read_text())


def _case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("record", _records("webhook"), ids=_case_id)
def test_webhook_record_reads_as_expected(make_client: Any, fresh_store: Store, record: Path) -> None:
    platform = record.parent.name
    signed = SIGNERS[platform](record.read_bytes(), True, time.time())
    response = make_client(**ENV).post(f"/callbacks/{platform}", content=signed.body, headers=signed.headers)
    assert response.status_code == 200, response.json()
    if _expected(record) is None:  # progress (ringing …), not a call end
        assert response.json() == {"ok": True, "stored": False} and fresh_store.count() == 0
        return
    stored = fresh_store.get(response.json()["id"])
    assert stored is not None
    compare(stored, _expected(record))


@pytest.mark.parametrize("record", _records("export"), ids=_case_id)
def test_export_reads_as_expected(tmp_path: Path, fresh_store: Store, record: Path) -> None:
    want = _expected(record)
    columns = parse_columns(want["columns"]) if "columns" in want else None  # as ``--columns`` gives it
    importer = Importer(fresh_store, rejects_path=str(tmp_path / "rejects.jsonl"), columns=columns)
    summary = importer.run([str(record)], want["format"])
    keys = (*SUMMARY, "legs") if "legs" in want["summary"] else SUMMARY  # files holding calls made of legs
    assert {k: summary.to_json()[k] for k in keys} == want["summary"]
    stored = {call.provider_call_id: call for call in fresh_store.iter_calls(CallQuery())}
    assert sorted(stored) == sorted(want["records"])
    for call_id, fields in want["records"].items():
        legs = fields.get("legs")  # a call made of legs: how many (``hangup.legs``)
        assert legs is None or len(fresh_store.legs(stored[call_id].id)) == legs
        compare(stored[call_id], {k: v for k, v in fields.items() if k != "legs"})


def test_every_record_has_its_provenance() -> None:
    table = (REAL / "PROVENANCE.md").read_text()
    missing = [_case_id(p) for p in _records("webhook") + _records("export") if _case_id(p) not in table]
    assert not missing, f"not in PROVENANCE.md: {missing}"
