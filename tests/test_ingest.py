"""The ingest pipeline after the fact: reclassification with a newer catalog, explanations, status."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from providers.payload_cases import CONTENT_TYPES, RECEIVED_AT, cases, request_for
from receiver_helpers import planet_query

from hangup import ingest
from hangup.causes import CauseCatalog, default_catalog
from hangup.errors import PayloadError
from hangup.importer import Importer
from hangup.importer.columns import parse_columns
from hangup.providers.base import WebhookRequest
from hangup.providers.planet import PlanetProvider
from hangup.providers.registry import providers
from hangup.record_fields import RecordField, Role
from hangup.records import FIELDS
from hangup.store.base import CallQuery, Store


def test_reclassify_applies_a_newer_catalog_to_stored_calls(fresh_store: Store) -> None:
    older = CauseCatalog([default_catalog().table("planet-terminate")])  # knows no call_end_reason yet
    record = PlanetProvider(older).parse(WebhookRequest("GET", "", planet_query(), received_at=1.0))
    assert record.cause == "planet-terminate:16" and "unknown_call_end_reason" in record.flags
    fresh_store.add_many([record])

    examined, changed = ingest.reclassify(fresh_store, {"planet": PlanetProvider(default_catalog())})

    stored = fresh_store.get(record.id)
    assert (examined, changed) == (1, 1) and stored is not None
    assert (stored.cause, stored.ended_by, stored.flags) == ("planet:1004", "caller", ())
    assert ingest.reclassify(fresh_store, {"planet": PlanetProvider(default_catalog())}) == (1, 0)


def test_calls_of_adapters_without_reclassify_use_their_cause_chain(fresh_store: Store) -> None:
    record = dataclasses.replace(
        PlanetProvider().parse(WebhookRequest("GET", "", planet_query(), received_at=1.0)),
        id="other-1", provider="other", provider_call_id="o-1", cause="nosuch:1", causes=("nosuch:1", "planet:1001"),
        outcome="unknown", reason="",
    )
    fresh_store.add_many([record])
    assert ingest.reclassify(fresh_store, {}) == (1, 1)
    stored = fresh_store.get("other-1")
    assert stored is not None and (stored.cause, stored.outcome) == ("planet:1001", "busy")


def _spoiled(f: RecordField, value: Any) -> Any:
    """A value of the field's kind other than ``value``."""
    if f.choices:
        return next(choice for choice in f.choices if choice != value)
    return {"text": "spoiled", "integer": 599, "boolean": not value, "list": ("spoiled",)}[f.kind]


@pytest.mark.parametrize("field", [f for f in FIELDS if f.role is Role.VERDICT], ids=lambda f: f.name)
def test_reclassify_rewrites_every_verdict_field(fresh_store: Store, field: RecordField) -> None:
    """Each ``Verdict[…]`` field of a stored call is derived again: a stored value other than today's is rewritten."""
    record = PlanetProvider().parse(WebhookRequest("GET", "", planet_query(), received_at=1.0))
    fresh_store.add_many([dataclasses.replace(record, **{field.name: _spoiled(field, getattr(record, field.name))})])
    assert ingest.reclassify(fresh_store, providers()) == (1, 1)
    assert fresh_store.get(record.id) == record


def test_explain_resolves_every_code_and_flag() -> None:
    record = PlanetProvider().parse(WebhookRequest("GET", "", planet_query(duration="29", terminate="17"),
                                                   received_at=1.0))
    detail = ingest.explain(record)
    assert [c["ref"] for c in detail["codes"]] == ["planet:1004", "planet-terminate:17"]
    assert {f["flag"]: bool(f["meaning"]) for f in detail["flags"]} == {
        "duration_mismatch": True, "duration_without_terminate_16": True}
    assert detail["status"]["ended_normally"] is True and detail["raw"] == record.raw


# -- reclassification with an unchanged catalog changes nothing ------------------------------------------
DATA = Path(__file__).parent / "data"
#: Recorded import files and the format each is read as.
IMPORT_FILES = {
    "planet/spec-example.txt": "planet-urls",
    "asterisk/import/Master.csv": "asterisk-csv",
    "asterisk/import/with_header.csv": "asterisk-csv",
    "asterisk/legs/Master.csv": "asterisk-csv",  # calls made of legs: each stored call is their merge
    "callcenter/import/records.csv": "callcenter",
    "sip/kamailio-sipp-calls.txt": "sip-trace",
    "sip/kamailio-proxy-endings.pcap": "pcap",  # the proxy's own endings, inferred from its two sides
    "sip/kamailio-acc.log": "sip-acc-log",
    "sip/kamailio-5.6.3-acc.log": "sip-acc-log",
    "sip/kamailio-5.6.3-flatstore-acc_130.log": "sip-acc-csv",
    "sip/kamailio-5.6.3-siptrace-hep3-calls.pcap": "pcap",  # HEP datagrams only
    "sip/openser-acc.log": "sip-acc-log",
    "sip/acc-table.csv": "sip-acc-csv",
}
#: Folders that are not one platform's recorded webhook bodies: seed data, SIP signalling (imported below)
#: and the corpus of real records.
NOT_PAYLOADS = {"seeds", "sip", "real"}
WEBHOOK_PAYLOADS = [
    (folder.name, path) for folder in sorted(DATA.iterdir()) if folder.name not in NOT_PAYLOADS
    for path in cases(folder.name) if path.relative_to(DATA).as_posix() not in IMPORT_FILES
]
#: The corpus of real records (tests/data/real, tests/providers/test_real_records.py): webhook bodies, posted to
#: the folder's platform, and exports, imported as the format (and through the columns) their expected file names.
REAL = DATA / "real"
REAL_RECORDS = sorted(p for p in REAL.glob("*/*")
                      if p.suffix in CONTENT_TYPES and not p.name.endswith(".expected.json"))
REAL_PAYLOADS = [(p.parent.name, p) for p in REAL_RECORDS if ".export." not in p.name]
REAL_EXPORTS = [p for p in REAL_RECORDS if ".export." in p.name]


def _expected(path: Path) -> Any:
    return json.loads(path.with_name(path.name.removesuffix(path.suffix) + ".expected.json").read_text())


def _store_every_recorded_call(store: Store, parallel: bool, rejects: Path) -> None:
    adapters = providers()
    for platform, path in WEBHOOK_PAYLOADS + REAL_PAYLOADS:
        try:
            record = ingest.parse(adapters[platform], request_for(path, platform), {}, verify=False)
        except PayloadError:
            continue  # a recorded rejection: nothing is stored
        if record is not None:
            store.add_many([record])
    for name, fmt in IMPORT_FILES.items():
        Importer(store, parallel=parallel, received_at=RECEIVED_AT, rejects_path=str(rejects)).run(
            [str(DATA / name)], fmt)
    for path in REAL_EXPORTS:
        want = _expected(path)
        columns = parse_columns(want["columns"]) if "columns" in want else None
        Importer(store, parallel=parallel, received_at=RECEIVED_AT, rejects_path=str(rejects),
                 columns=columns).run([str(path)], want["format"])


@pytest.mark.parametrize("parallel", [False, True], ids=["adapter", "column-wise"])
def test_reclassifying_every_recorded_call_with_the_same_catalog_changes_nothing(fresh_store: Store,
                                                                                   parallel: bool,
                                                                                   tmp_path: Path) -> None:
    _store_every_recorded_call(fresh_store, parallel, tmp_path / "rejects.jsonl")
    before = {r.id: r for r in fresh_store.iter_calls(CallQuery())}
    assert {r.provider for r in before.values()} == {f.name for f in DATA.iterdir()} - {"seeds", "real"}
    assert len(before) > len(WEBHOOK_PAYLOADS) + len(REAL_PAYLOADS)
    real_calls = [_expected(p)["provider_call_id"] for _, p in REAL_PAYLOADS if _expected(p) is not None]
    real_calls += [call for p in REAL_EXPORTS for call in _expected(p)["records"]]
    assert set(real_calls) <= {r.provider_call_id for r in before.values()}

    assert ingest.reclassify(fresh_store, providers()) == (len(before), 0)
    assert {r.id: r for r in fresh_store.iter_calls(CallQuery())} == before


def test_every_stored_call_reads_again_as_itself(fresh_store: Store, tmp_path: Path) -> None:
    """Each adapter reads its stored ``raw`` again into the same classification (not the stored-codes fallback)."""
    _store_every_recorded_call(fresh_store, parallel=False, rejects=tmp_path / "rejects.jsonl")
    adapters = providers()
    for record in fresh_store.iter_calls(CallQuery()):
        reread = getattr(adapters.get(record.provider), "reclassify", None) or ingest.WITHOUT_ADAPTER[record.provider]
        fresh = reread(record)
        assert fresh is not None and fresh.id == record.id, record.raw[:80]
        assert not ingest.changed(record, fresh), record.id


def test_freeswitch_keeps_who_hung_up_and_the_reported_sip_status(fresh_store: Store) -> None:
    path = DATA / "freeswitch" / "inbound_recv_bye.json"
    record = ingest.parse(providers()["freeswitch"], request_for(path, "freeswitch"), {}, verify=False)
    assert record is not None and (record.ended_by, record.sip) == ("caller", 200)
    fresh_store.add_many([record])
    assert ingest.reclassify(fresh_store, providers()) == (1, 0)
    assert fresh_store.get(record.id) == record


def test_a_raw_that_no_longer_reads_keeps_the_stored_classification(fresh_store: Store) -> None:
    path = DATA / "freeswitch" / "inbound_recv_bye.json"
    record = ingest.parse(providers()["freeswitch"], request_for(path, "freeswitch"), {}, verify=False)
    assert record is not None
    broken = dataclasses.replace(record, raw="not a CDR", ended_by="callee")
    fresh_store.add_many([broken])
    assert ingest.reclassify(fresh_store, providers()) == (1, 0)
    assert fresh_store.get(record.id) == broken


@pytest.mark.parametrize("platform", ["freeswitch", "plivo", "telnyx", "asterisk"])
def test_a_stale_classification_is_replaced_by_what_the_adapter_reads_from_raw(fresh_store: Store,
                                                                                platform: str) -> None:
    path = next(p for p in cases(platform) if ingest.parse(providers()[platform], request_for(p, platform), {},
                                                           verify=False) is not None)
    record = ingest.parse(providers()[platform], request_for(path, platform), {}, verify=False)
    assert record is not None
    stale = dataclasses.replace(record, cause="nosuch:1", causes=("nosuch:1",), outcome="unknown",
                                ended_by="unknown", reason="", q850=None, sip=None, flags=("unknown_cause",))
    fresh_store.add_many([stale])
    assert ingest.reclassify(fresh_store, providers()) == (1, 1)
    assert fresh_store.get(record.id) == record
