"""JSON files import whatever their layout, and conflicting versions of a call do not hide their talk time."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hangup.cli.imports import describe
from hangup.importer import Importer, guess_format
from hangup.store import open_store
from hangup.store.base import CallQuery, Store

REAL = Path(__file__).resolve().parent.parent / "data" / "real"
#: Vonage's own failed event (vonage-java-sdk EventWebhookTest) and the same call as a second leg.
EVENT = json.loads((REAL / "vonage/java-sdk-failed-cannot-route.json").read_text())
OTHER = {**EVENT, "uuid": "bbbbbbbb-bbbb-cccc-dddd-0123456789ab", "detail": "busy", "status": "busy", "sip_code": 486}

LAYOUTS: dict[str, Callable[[list[dict[str, object]]], str]] = {
    "json lines": lambda events: "".join(json.dumps(e) + "\n" for e in events),
    "one pretty object each, one after another": lambda events: "".join(json.dumps(e, indent=2) + "\n"
                                                                         for e in events),
    "one array": lambda events: json.dumps(events, indent=2),
    "arrays one after another": lambda events: "".join(json.dumps([e]) for e in events),
    "list pages one after another": lambda events: "\n".join(
        json.dumps({"count": 1, "_embedded": {"calls": [e]}}, indent=1) for e in events),
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "calls.db"))
    yield opened
    opened.close()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_json_layout_imports(tmp_path: Path, store: Store, layout: str) -> None:
    path = tmp_path / "events.json"
    path.write_text(LAYOUTS[layout]([EVENT, OTHER]))
    summary = Importer(store, rejects_path=str(tmp_path / "r.jsonl")).run([str(path)], "vonage")
    assert (summary.imported, summary.rejected) == (2, 0)
    assert {c.provider_call_id: c.sip for c in store.iter_calls(CallQuery())} == {EVENT["uuid"]: 404,
                                                                                  OTHER["uuid"]: 486}


def test_a_single_pretty_printed_webhook_body_imports(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "one.json"
    path.write_text((REAL / "vonage/java-sdk-failed-cannot-route.json").read_text())
    summary = Importer(store).run([str(path)])  # format guessed
    assert (summary.formats[str(path)], summary.imported, summary.rejected) == ("vonage", 1, 0)


def test_a_broken_value_is_rejected_and_reading_goes_on(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(EVENT, indent=2) + '\n{"uuid": "x", "status": \n' + json.dumps(OTHER) + "\n")
    summary = Importer(store, rejects_path=str(tmp_path / "r.jsonl")).run([str(path)], "vonage")
    assert (summary.imported, summary.rejected) == (2, 1)


# A Local/ channel's stub (0 s billed), then the conversation, under one uniqueid, as cdr_csv writes them.
LEGS = [
    '"","1000","2001","from-internal","""Alice"" <1000>","PJSIP/1000-00000001","Local/2001@from-internal-0001;1",'
    '"Dial","Local/2001@from-internal,30","2026-06-08 10:00:00","2026-06-08 10:00:02","2026-06-08 10:00:02",'
    '2,0,"ANSWERED","DOCUMENTATION","1780912800.1",""',
    '"","1000","2001","from-internal","""Alice"" <1000>","PJSIP/1000-00000001","PJSIP/2001-00000002",'
    '"Dial","PJSIP/2001,30","2026-06-08 10:00:00","2026-06-08 10:00:05","2026-06-08 10:03:08",'
    '188,183,"ANSWERED","DOCUMENTATION","1780912800.1",""',
]


@pytest.mark.parametrize("parallel", [False, True])
def test_rows_sharing_a_uniqueid_are_legs_of_one_call(tmp_path: Path, store: Store, parallel: bool) -> None:
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(LEGS) + "\n")
    summary = Importer(store, parallel=parallel).run([str(path)], "asterisk-csv")
    assert (summary.imported, summary.legs, summary.conflicts, summary.conflict_talk_seconds) == (1, 1, 0, 0)
    (stored,) = store.iter_calls(CallQuery())
    assert stored.duration == 183 and store.conflicts(stored.id) == []
    assert [leg.duration for leg in store.legs(stored.id)] == [0, 183]
    assert "legs 1" in describe(summary)


# A ring group dialled through Local/ channels, as cdr_csv writes it with ``newcdrcolumns`` (the layout of a
# PBX's Master.csv seen in a public repository without a licence, values made up): the ``;2`` half of the
# answering member's Local/ channel has a uniqueid of its own (…52) and only the linkedid (…50) names the call.
RING_GROUP = [
    '"","5550100","211553","from-pstn","""5550100"" <5550100>","Local/ch1@ring-00000006;2","SIP/301-00000012",'
    '"Dial","SIP/301,15","2024-01-28 02:04:06","2024-01-28 02:04:12","2024-01-28 02:04:12",6,0,"ANSWERED",'
    '"DOCUMENTATION","1706407446.52","","","1706407446.50",42',
    '"","5550100","211553","from-pstn","""5550100"" <5550100>","SIP/trunk-00000011","Local/ch1@ring-00000006;1",'
    '"Dial","Local/ch1@ring&Local/ch2@ring,40","2024-01-28 02:04:06","2024-01-28 02:04:12",'
    '"2024-01-28 02:04:12",6,0,"ANSWERED","DOCUMENTATION","1706407446.50","","","1706407446.50",40',
    '"","5550100","211553","from-pstn","""5550100"" <5550100>","SIP/trunk-00000011","Local/ch2@ring-00000007;1",'
    '"Dial","Local/ch1@ring&Local/ch2@ring,40","2024-01-28 02:04:06",,"2024-01-28 02:04:12",6,0,"NO ANSWER",'
    '"DOCUMENTATION","1706407446.50","","","1706407446.50",47',
    '"","5550100","211553","from-pstn","""5550100"" <5550100>","SIP/trunk-00000011","SIP/301-00000012",'
    '"Dial","Local/ch1@ring&Local/ch2@ring,40","2024-01-28 02:04:12","2024-01-28 02:04:12",'
    '"2024-01-28 02:04:29",17,17,"ANSWERED","DOCUMENTATION","1706407446.50","","","1706407446.50",50',
]


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (1, 3, 0, 2)])
def test_rows_sharing_a_linkedid_are_legs_of_one_call(tmp_path: Path, store: Store, parallel: bool,
                                                      order: tuple[int, ...]) -> None:
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(RING_GROUP[i] for i in order) + "\n")
    summary = Importer(store, parallel=parallel).run([str(path)], "asterisk-csv")
    assert (summary.imported, summary.legs, summary.conflicts) == (1, 3, 0)
    (stored,) = store.iter_calls(CallQuery())
    assert (stored.provider_call_id, stored.duration, stored.answered) == ("1706407446.50", 17, True)
    assert sorted(leg.duration for leg in store.legs(stored.id)) == [0, 0, 0, 17]


@pytest.mark.parametrize(("record", "fmt"), [("twilio/python-sdk-call-pages.export.json", "twilio"),
                                             ("plivo/python-sdk-call-list.export.json", "plivo"),
                                             ("vonage/python-sdk-list-calls.export.json", "vonage"),
                                             ("telnyx/mock-spec-call-events.export.json", "telnyx")])
def test_rest_call_lists_are_recognised(tmp_path: Path, store: Store, record: str, fmt: str) -> None:
    path = tmp_path / "calls.json"
    path.write_text((REAL / record).read_text())
    summary = Importer(store).run([str(path)])
    assert summary.formats[str(path)] == fmt and summary.imported > 0


#: Webhook bodies in the corpus and the format their platform's files are read as.
WEBHOOK_FORMATS = {"freeswitch": "freeswitch-json", "plivo": "plivo", "telnyx": "telnyx", "twilio": "twilio",
                   "vonage": "vonage"}


def _corpus_formats() -> list[tuple[str, str]]:
    cases = []
    for path in sorted(REAL.glob("*/*")):
        if path.suffix == ".md" or path.name.endswith(".expected.json"):
            continue
        want = json.loads(path.with_name(path.name.removesuffix(path.suffix) + ".expected.json").read_text())
        if ".export." not in path.name:
            cases.append((f"{path.parent.name}/{path.name}", WEBHOOK_FORMATS[path.parent.name]))
        elif "columns" not in want:  # a file read through a column mapping names its format too
            cases.append((f"{path.parent.name}/{path.name}", want["format"]))
    return cases


@pytest.mark.parametrize(("record", "fmt"), _corpus_formats())
def test_every_corpus_record_is_recognised(record: str, fmt: str) -> None:
    """Each adapter's markers tell its own files, whichever adapter's markers are tried first (a Vonage event
    naming ``call_uuid`` is not a Plivo REST record)."""
    path = REAL / record
    assert guess_format(path.name, path.read_bytes()[:8192].decode("utf-8", "replace")) == fmt
