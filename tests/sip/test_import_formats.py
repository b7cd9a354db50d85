"""``hangup import`` of SIP text: traces, acc syslog lines and acc table exports, told apart by content."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sip_helpers import CALLEE_TAG, CALLER_TAG, invite, request, response

from hangup.importer import Importer, guess_format
from hangup.importer.columns import parse_columns
from hangup.sip.trace import Seen, header_of, messages
from hangup.store import open_store
from hangup.store.base import CallQuery, Store

DATA = Path(__file__).resolve().parent.parent / "data" / "sip"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "calls.db"))
    yield opened
    opened.close()


def sngrep(*messages_: tuple[str, str, str, bytes]) -> str:
    """A trace as sngrep's "Save as .txt" writes it: ``date time src -> dst``, the message, a blank line."""
    return "".join(f"2024/05/06 {when} {src} -> {dst}\n{text.decode()}\n\n" for when, src, dst, text in messages_)


TRACE = sngrep(
    ("10:00:00.000000", "10.0.0.1:5060", "10.0.0.2:5060", invite()),
    ("10:00:01.250000", "10.0.0.2:5060", "10.0.0.1:5060", response(180, "Ringing")),
    ("10:00:04.000000", "10.0.0.2:5060", "10.0.0.1:5060", response(200, "OK")),
    ("10:00:04.100000", "10.0.0.1:5060", "10.0.0.2:5060", request("ACK", 1)),
    ("10:01:04.000000", "10.0.0.2:5060", "10.0.0.1:5060", request("BYE", 1, by_callee=True)),
    ("10:01:05.000000", "10.0.0.9:5060", "10.0.0.1:5060", b"NOTIFY is not how a message starts\r\nfoo: bar\r\n"),
)


@pytest.mark.parametrize(("line", "seen"), [
    ("2024/05/06 10:00:01.250000 10.0.0.2:5060 -> 10.0.0.1:5060", Seen(1714989601.25, "10.0.0.2", 5060, "10.0.0.1",
                                                                        5060)),
    ("U 2024/05/06 10:00:01.250000 10.0.0.2:5060 -> 10.0.0.1:5080", Seen(1714989601.25, "10.0.0.2", 5060, "10.0.0.1",
                                                                          5080, dotted=True)),
    ("T 10.0.0.2:5061 -> 10.0.0.1:5060 [AP]", Seen(0.0, "10.0.0.2", 5061, "10.0.0.1", 5060, "tcp", dotted=True)),
    ("2024-05-06T10:00:01.250+02:00 [2001:db8::1]:5060 > 10.0.0.1:5060",
     Seen(1714982401.25, "2001:db8::1", 5060, "10.0.0.1", 5060)),
    ("INVITE sip:bob@biloxi.example.com SIP/2.0", None),
    ("v=0", None),
])
def test_header_lines(line: str, seen: Seen | None) -> None:
    assert header_of(line) == seen


def test_a_trace_without_header_lines_is_split_at_start_lines() -> None:
    text = (invite() + b"\r\n" + response(486, "Busy Here")).decode().replace("\r\n", "\n")
    found = list(messages(text.splitlines(keepends=True)))
    assert [(number, payload.split(b"\r\n")[0]) for number, _, payload in found] == [
        (1, b"INVITE sip:bob@biloxi.example.com SIP/2.0"), (11, b"SIP/2.0 486 Busy Here")]


def test_a_body_keeps_its_content_length() -> None:
    sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
    message = invite().decode().replace("Content-Length: 0", f"Content-Length: {len(sdp)}") + sdp
    [(_, _, payload)] = list(messages((message + "\n\n").replace("\r\n", "\n").splitlines(keepends=True)))
    assert payload.endswith(sdp.encode()) and b"\r\n\r\nv=0" in payload


@pytest.mark.parametrize(("name", "content", "fmt"), [
    ("trace.txt", TRACE, "sip-trace"),
    ("capture.log", (DATA / "kamailio-acc.log").read_text(), "sip-acc-log"),
    ("messages", (DATA / "openser-acc.log").read_text(), "sip-acc-log"),
    ("acc.csv", (DATA / "acc-table.csv").read_text(), "sip-acc-csv"),
    ("export.csv", "id,provider,provider_call_id,raw\nx,sip,y,SIP/2.0 200 OK\n", "csv"),
])
def test_sip_formats_are_guessed_by_content(name: str, content: str, fmt: str) -> None:
    assert guess_format(name, content[:8192]) == fmt


def _imported(store: Store, tmp_path: Path, name: str, content: str) -> tuple[dict[str, object], dict[str, dict]]:
    path = tmp_path / name
    path.write_text(content)
    summary = Importer(store, received_at=1_800_000_000.0).run([str(path)]).to_json()
    calls = {c.provider_call_id: c.to_json() for c in store.iter_calls(CallQuery())}
    return summary, calls


def test_a_trace_imports_one_call_and_rejects_what_is_not_sip(store: Store, tmp_path: Path) -> None:
    summary, calls = _imported(store, tmp_path, "trace.txt", TRACE)
    assert (summary["imported"], summary["rejected"]) == (1, 1)
    call = calls["3848276298220188511@10.0.0.1"]
    assert (call["outcome"], call["ended_by"], call["duration"]) == ("completed", "callee", 60)
    assert call["extra"]["pdd"] == "1.250" and call["extra"]["from_tag"] == CALLER_TAG
    rejects = [json.loads(line) for line in Path(str(summary["rejects_path"])).read_text().splitlines()]
    header = TRACE.splitlines().index("2024/05/06 10:01:05.000000 10.0.0.9:5060 -> 10.0.0.1:5060") + 1
    assert rejects[0]["location"] == f"line {header} (10.0.0.9:5060 > 10.0.0.1:5060)"
    assert rejects[0]["raw"].startswith("NOTIFY is not")


def test_kamailio_acc_lines(store: Store, tmp_path: Path) -> None:
    summary, calls = _imported(store, tmp_path, "kamailio.log", (DATA / "kamailio-acc.log").read_text())
    assert (summary["imported"], summary["rejected"]) == (3, 1)
    answered = calls["ub2ds9fg5jhuc0g9jinb"]
    assert (answered["outcome"], answered["ended_by"], answered["duration"]) == ("completed", "caller", 60)
    assert (calls["callee-hangs-up@10.0.0.1"]["ended_by"], calls["callee-hangs-up@10.0.0.1"]["duration"]) == (
        "callee", 60)
    missed = calls["missed-486@10.0.0.1"]
    assert (missed["outcome"], missed["sip"], missed["from_user_id"], missed["to_user_id"]) == (
        "busy", 486, "alice", "bob")


#: Kamailio 5.6.3's own acc lines for four sipp calls (tests/data/sip/README.md): call id, outcome, who ended it, the
#: SIP status, talk seconds. A failed INVITE is accounted twice, as ``call missed`` and as a failed transaction (both
#: flags set): the second line is the same call, counted as a duplicate.
KAMAILIO_ACC_CALLS = [
    ("caller_bye-1@acc", "completed", "caller", 200, 2),
    ("callee_bye-1@acc", "completed", "callee", 200, 3),
    ("busy_486-1@acc", "busy", "callee", 486, 0),
    ("caller_cancel-1@acc", "canceled", "caller", 487, 0),
]


def test_acc_lines_kamailio_wrote(store: Store, tmp_path: Path) -> None:
    summary, calls = _imported(store, tmp_path, "kamailio.log", (DATA / "kamailio-5.6.3-acc.log").read_text())
    assert (summary["imported"], summary["duplicates"], summary["rejected"]) == (4, 2, 0)
    assert sorted((c["provider_call_id"], c["outcome"], c["ended_by"], c["sip"], c["duration"])
                  for c in calls.values()) == sorted(KAMAILIO_ACC_CALLS)
    assert {(c["from_user_id"], c["to_user_id"]) for c in calls.values()} == {("alice", "bob")}


def test_acc_table_rows_kamailio_wrote_with_db_flatstore(store: Store, tmp_path: Path) -> None:
    """The same four calls, as ``db_flatstore`` writes the acc and missed_calls tables: one file per process."""
    paths = sorted(DATA.glob("kamailio-5.6.3-flatstore-*.log"))
    summary = Importer(store, received_at=1_800_000_000.0).run([str(p) for p in paths], "sip-acc-csv").to_json()
    assert (summary["imported"], summary["duplicates"], summary["rejected"]) == (4, 2, 0)  # missed_calls repeats
    calls = [c.to_json() for c in store.iter_calls(CallQuery())]
    assert sorted((c["provider_call_id"], c["outcome"], c["ended_by"], c["sip"], c["duration"])
                  for c in calls) == sorted(KAMAILIO_ACC_CALLS)


@pytest.mark.parametrize(("row", "fields"), [
    ("INVITE|f1|t1|c2@x|200|OK|yesterday", ["timestamp"]),
    ("BYE|f1", ["call_id", "code"]),  # a row cut short
    ("INVITE|f1|t1|c2@x|99|Early|1796569277", ["code"]),
])
def test_a_broken_flatstore_row_is_rejected_naming_its_field(row: str, fields: list[str], store: Store,
                                                            tmp_path: Path) -> None:
    first = "INVITE|f0|t0|c1@x|486|Busy Here|1796569277|alice|bob"  # tells the file's shape
    path = tmp_path / "acc_1.log"
    path.write_text(f"{first}\n{row}\n")
    summary = Importer(store, received_at=1_800_000_000.0).run([str(path)], "sip-acc-csv").to_json()
    calls = {c.provider_call_id: c for c in store.iter_calls(CallQuery())}
    assert (summary["imported"], list(calls)) == (1, ["c1@x"])
    rejects = [json.loads(line) for line in Path(str(summary["rejects_path"])).read_text().splitlines()]
    assert [(r["location"], sorted(d["field"] for d in r["details"])) for r in rejects] == [("row 2", fields)]


@pytest.mark.parametrize("version", [2, 3])
def test_the_same_calls_mirrored_by_kamailio_as_hep_in_a_capture(version: int, store: Store, tmp_path: Path) -> None:
    """A third run of the four calls, with ``siptrace`` mirroring every message Kamailio received and sent as HEP
    to udp/9060: the capture holds those datagrams only, the calls are read from them."""
    path = DATA / f"kamailio-5.6.3-siptrace-hep{version}-calls.pcap"
    summary = Importer(store, received_at=1_800_000_000.0).run([str(path)]).to_json()
    assert (summary["formats"], summary["imported"], summary["rejected"]) == ({str(path): "pcap"}, 4, 0)
    calls = [c.to_json() for c in store.iter_calls(CallQuery())]
    assert sorted((c["provider_call_id"], c["outcome"], c["ended_by"], c["sip"], c["duration"])
                  for c in calls) == sorted(KAMAILIO_ACC_CALLS)


def test_openser_acc_lines(store: Store, tmp_path: Path) -> None:
    summary, calls = _imported(store, tmp_path, "openser.log", (DATA / "openser-acc.log").read_text())
    assert (summary["imported"], summary["rejected"]) == (2, 0)
    answered = calls["7E63292EE55C28E6@91.7.39.166"]
    assert (answered["outcome"], answered["ended_by"], answered["duration"]) == ("completed", "callee", 91)
    assert (answered["from_user_id"], answered["to_user_id"]) == ("496220911323", "491379404040")
    busy = calls["0A1B2C3D@91.7.39.166"]
    assert (busy["outcome"], busy["extra"]["from_tag"]) == ("busy", "F00D")


def test_acc_table_export(store: Store, tmp_path: Path) -> None:
    summary, calls = _imported(store, tmp_path, "acc.csv", (DATA / "acc-table.csv").read_text())
    assert (summary["imported"], summary["rejected"]) == (2, 1)
    cdr = calls["cdr-answered@198.51.100.7"]
    assert (cdr["setup_time"], cdr["start_time"], cdr["duration"], cdr["outcome"]) == (
        1709287200, 1709287205, 95, "completed")
    assert calls["cdr-noanswer@198.51.100.7"]["outcome"] == "no_answer"


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        ("95,5", None),
        (f"{8 * 86400},5", "duration"),  # more than 7 days (hangup.bounds)
        ("95,\u00b2", "setuptime"),  # a superscript digit is not a number of seconds
        (f"95,{'9' * 5000}", "setuptime"),  # more digits than int() reads
    ],
)
def test_acc_cdr_seconds_are_bounded(store: Store, tmp_path: Path, cells: str, field: str | None) -> None:
    table = ("method,from_tag,to_tag,callid,sip_code,sip_reason,time,duration,setuptime\n"
             f"INVITE,a,b,cdr-bounds@198.51.100.7,200,OK,1709287200,{cells}\n")
    summary, calls = _imported(store, tmp_path, "acc.csv", table)
    assert (summary["imported"], summary["rejected"]) == ((1, 0) if field is None else (0, 1))
    if field is not None:
        assert not calls


def test_an_answered_acc_call_without_its_bye_is_orphaned_at_the_end(store: Store, tmp_path: Path) -> None:
    first_line = (DATA / "openser-acc.log").read_text().splitlines()[0]
    _, calls = _imported(store, tmp_path, "one.log", first_line + "\n")
    assert calls["7E63292EE55C28E6@91.7.39.166"]["flags"] == ["orphaned"]


def test_tags_in_the_trace_helpers_differ() -> None:
    assert CALLER_TAG != CALLEE_TAG


#: call → (outcome, ended_by, cause) of the calls in kamailio-sipp-calls.txt (what each sipp scenario did).
RECORDED = {
    "caller_bye-1@e2e": ("completed", "caller", "q850:16"),
    "callee_bye-1@e2e": ("completed", "callee", "q850:16"),
    "busy_486-1@e2e": ("busy", "callee", "sip:486"),
    "caller_cancel-1@e2e": ("canceled", "caller", "sip:487"),
    "unavailable_503-1@e2e": ("failed", "carrier", "sip:500"),  # Kamailio relays the callee's 503 as a 500
    "bye_reason_q850-1@e2e": ("busy", "caller", "q850:17"),  # the BYE says Q.850 cause 17
    "challenge_407-1@e2e": ("completed", "caller", "q850:16"),  # 407, INVITE with credentials, answered
    "reinvite-1@e2e": ("completed", "caller", "q850:16"),
    # Kamailio's own BYEs at its dialog timeout: the proxy's lifetime limit, recovery on timer expiry
    "proxy_dialog_timeout-1@e2e": ("failed", "platform", "q850:102"),
}


def test_a_recorded_trace_of_real_calls(store: Store, tmp_path: Path) -> None:
    summary, calls = _imported(store, tmp_path, "calls.txt", (DATA / "kamailio-sipp-calls.txt").read_text())
    assert (summary["imported"], summary["rejected"]) == (len(RECORDED), 0)
    assert {k: (c["outcome"], c["ended_by"], c["cause"]) for k, c in calls.items()} == RECORDED
    assert calls["challenge_407-1@e2e"]["extra"]["challenges"] == "1"
    assert all(c["flags"] in ([], ["answered_but_busy"]) for c in calls.values())


def test_an_ngrep_byline_trace(store: Store, tmp_path: Path) -> None:
    """``ngrep -t -W byline``: a ``U`` header per packet, each CR shown as a "." ending the line, "#" between."""
    def packet_text(when: str, src: str, dst: str, text: bytes) -> str:
        lines = text.decode().split("\r\n")[:-1]  # the message's lines, its blank line last
        return f"#\nU 2024/05/06 {when} {src} -> {dst}\n" + "".join(f"{line}.\n" for line in lines) + "\n"

    trace = "interface: any\nfilter: ( port 5060 )\n" + "".join((
        packet_text("10:00:00.000000", "10.0.0.1:5060", "10.0.0.2:5060", invite()),
        packet_text("10:00:02.000000", "10.0.0.2:5060", "10.0.0.1:5060", response(180, "Ringing")),
        packet_text("10:00:09.000000", "10.0.0.2:5060", "10.0.0.1:5060", response(486, "Busy Here")),
    ))
    summary, calls = _imported(store, tmp_path, "ngrep.txt", trace)
    assert summary["imported"] == 1 and summary["formats"] == {str(tmp_path / "ngrep.txt"): "sip-trace"}
    call = calls["3848276298220188511@10.0.0.1"]
    assert (call["outcome"], call["extra"]["pdd"], call["end_time"] - call["setup_time"]) == ("busy", "2.000", 9)


#: Every column of the recorded flatstore files: the acc table's own, then their ``db_extra`` (``src_user=$fU;
#: dst_user=$rU``, tests/data/sip/README.md) in its order.
FLATSTORE_NAMED = "method,from_tag,to_tag,callid,sip_code,sip_reason,time,src_user,dst_user"


def test_flatstore_db_extra_columns_named_with_columns_give_the_parties(store: Store, tmp_path: Path) -> None:
    """Without names the ``db_extra`` columns are not read (the calls above have no parties); ``--columns``
    names them, and the same four calls have their caller and callee."""
    paths = sorted(DATA.glob("kamailio-5.6.3-flatstore-*.log"))
    summary = Importer(store, received_at=1_800_000_000.0, columns=parse_columns(FLATSTORE_NAMED)).run(
        [str(p) for p in paths], "sip-acc-csv").to_json()
    assert (summary["imported"], summary["duplicates"], summary["rejected"]) == (4, 2, 0)
    calls = [c.to_json() for c in store.iter_calls(CallQuery())]
    assert sorted((c["provider_call_id"], c["outcome"], c["ended_by"], c["sip"], c["duration"])
                  for c in calls) == sorted(KAMAILIO_ACC_CALLS)
    assert {(c["from_user_id"], c["to_user_id"]) for c in calls} == {("alice", "bob")}


def test_unnamed_flatstore_db_extra_columns_are_not_read(store: Store) -> None:
    paths = sorted(DATA.glob("kamailio-5.6.3-flatstore-*.log"))
    Importer(store, received_at=1_800_000_000.0).run([str(p) for p in paths], "sip-acc-csv")
    assert {(c.from_user_id, c.to_user_id) for c in store.iter_calls(CallQuery())} == {("", "")}
