from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hangup.cli import _register, cli
from hangup.composition import open_store
from hangup.importer import Importer, guess_format
from hangup.importer.export import write_parquet, write_text
from hangup.importer.formats import Item, guarded
from hangup.importer.parallel import ImportReaderError
from hangup.stats import rollups
from hangup.store.base import CallQuery, StagedResult, Store

DATA = Path(__file__).resolve().parent.parent / "data"
PLANET_URL = (
    "GET http://sample.server.com:20200/call_event?sid=6364e8b3-bdac-436e-9631-0bce2498ce0c&type=V&from_user_id=9286"
    "&from_service_id=linecorp.com&to_user_id=2809&to_service_id=linecorp.com&setup_time=1582527420&start_time=0"
    "&end_time=1582527434&duration=0&terminate=16&srcip=1.2.3.4&dstip=1.2.3.5&stid=voip.next&call_end_reason=1005"
    "&releaser=responder&rel_code=1&rel_code_str=NORMAL"
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "calls.db"))
    yield opened
    opened.close()


def _lines(folder: str, suffix: str) -> str:
    payloads = sorted(p for p in (DATA / folder).glob(f"*{suffix}") if not p.name.endswith(".expected.json"))
    return "".join(p.read_text().strip() + "\n" for p in payloads)


def _fixture(tmp_path: Path, fmt: str) -> Path:
    """A file of the format built from the recorded payloads (each platform's call-end cases)."""
    files = {
        "planet-urls": ("calls.txt", PLANET_URL + "\n"),
        "plivo": ("hangups.txt", _lines("plivo", ".form")),
        "twilio": ("status.txt", _lines("twilio", ".form")),
        "telnyx": ("telnyx.jsonl", _lines("telnyx", ".json")),
        "vonage": ("vonage.jsonl", _lines("vonage", ".json")),
        "freeswitch-json": ("a3f1c2d4.cdr.json", (DATA / "freeswitch/inbound_recv_bye.json").read_text()),
        "asterisk-csv": ("Master.csv", (DATA / "asterisk/import/Master.csv").read_text()),
        "callcenter": ("records.csv", (DATA / "callcenter/import/records.csv").read_text()),
    }
    name, text = files[fmt]
    path = tmp_path / name
    path.write_text(text)
    return path


# format → (imported, ignored, rejected), counted from the recorded payloads
EXPECTED = {
    "planet-urls": (1, 0, 0),
    "plivo": (5, 1, 1),
    "twilio": (4, 1, 0),
    "telnyx": (4, 1, 0),
    "vonage": (4, 1, 0),
    "freeswitch-json": (1, 0, 0),
    "asterisk-csv": (3, 0, 1),
    "callcenter": (4, 0, 1),
}


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_each_format_imports(tmp_path: Path, store: Store, fmt: str) -> None:
    path = _fixture(tmp_path, fmt)
    summary = Importer(store, batch_size=2).run([str(path)])
    assert summary.formats[str(path)] == fmt  # guessed, not given
    assert (summary.imported, summary.ignored, summary.rejected) == EXPECTED[fmt]
    assert store.count(CallQuery(limit=1000)) == summary.imported
    again = Importer(store).run([str(path)], fmt)
    assert (again.imported, again.duplicates, again.conflicts) == (0, summary.imported + summary.duplicates, 0)


def test_rejects_are_written_with_reasons(tmp_path: Path, store: Store) -> None:
    path = _fixture(tmp_path, "asterisk-csv")
    rejects = tmp_path / "rejects.jsonl"
    summary = Importer(store, rejects_path=str(rejects)).run([str(path)])
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert summary.rejects_path == str(rejects) and len(lines) == summary.rejected == 1
    assert lines[0]["location"] == "row 5"
    assert {d["field"] for d in lines[0]["details"]} == {"start", "disposition"}
    assert "yesterday" in lines[0]["raw"]
    assert summary.duplicates == 1  # row 3 repeats row 1 inside the file


@pytest.mark.parametrize(
    ("name", "head", "fmt"),
    [
        ("calls.jsonl", '{"id": "x", "provider_call_id": "1"}', "jsonl"),
        ("log.csv", "id,provider,provider_call_id,from_service_id", "csv"),
        ("hooks.jsonl", '{"data": {"event_type": "call.hangup"}}', "telnyx"),
        ("events.json", '[{"uuid": "u", "conversation_uuid": "CON-1"}]', "vonage"),
        ("x.cdr.xml", "<?xml version='1.0'?><cdr>", "freeswitch-json"),
        ("Master.csv", '"","1000","2001","c","","PJSIP/1","","Dial","","2026-06-08 10:00:00","","","1","0","BUSY"',
         "asterisk-csv"),
        ("cel.csv", "eventtype,eventtime,cid_name,cid_num,exten,context,channame,linkedid,uniqueid,extra",
         "asterisk-cel"),
        ("Master.csv", '"CHAN_START","My Literal","1658410288.178728","","1603"', "asterisk-cel"),
        ("cc.csv", "Call ID,Call Status,Bye Reason", "callcenter"),
        ("urls.txt", "GET http://h/cb?sid=1&call_end_reason=1005", "planet-urls"),
        ("dump.txt", "CallSid=CA1&CallStatus=busy", "twilio"),
        ("notes.txt", "hello", None),
    ],
)
def test_format_guess(name: str, head: str, fmt: str | None) -> None:
    assert guess_format(name, head) == fmt


def test_unknown_format_is_an_error(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(ValueError, match="--format"):
        Importer(store).run([str(path)])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_import_reproduces_the_log(tmp_path: Path, store: Store, fmt: str) -> None:
    # planet-urls brings a call with two flags; Plivo, cause references holding spaces.
    for kind in ("plivo", "callcenter", "asterisk-csv", "planet-urls"):
        Importer(store, rejects_path=str(tmp_path / "r.jsonl")).run([str(_fixture(tmp_path, kind))])
    assert any(len(record.flags) > 1 for record in store.iter_calls(CallQuery()))
    exported = tmp_path / f"log.{fmt}"
    with exported.open("w", encoding="utf-8", newline="") as out:
        count = write_text(store.iter_calls(CallQuery()), fmt, out)
    second = open_store(str(tmp_path / "second.db"))
    try:
        summary = Importer(second).run([str(exported)])
        assert (summary.formats[str(exported)], summary.imported, summary.rejected) == (fmt, count, 0)
        before = {r.id: r for r in store.iter_calls(CallQuery())}
        after = {r.id: r for r in second.iter_calls(CallQuery())}
        assert before.keys() == after.keys()
        for key, record in before.items():
            assert after[key].to_json() == record.to_json()
            assert after[key].raw == record.raw
    finally:
        second.close()


def test_parquet_export(tmp_path: Path, store: Store) -> None:
    import pyarrow.parquet as pq

    Importer(store).run([str(_fixture(tmp_path, "callcenter"))], "callcenter")
    path = tmp_path / "log.parquet"
    assert write_parquet(store.iter_calls(CallQuery()), str(path)) == 4
    table = pq.read_table(path)
    assert table.num_rows == 4
    assert sorted(table.column("outcome").to_pylist()) == ["abandoned", "busy", "completed", "rejected"]
    assert table.schema.field("duration").type == "int64"


def test_cli_import_and_export(tmp_path: Path) -> None:
    _register()
    db = str(tmp_path / "cli.db")
    path = _fixture(tmp_path, "callcenter")
    runner = CliRunner()
    result = runner.invoke(cli, ["import", str(path), "--db", db, "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["imported"], summary["rejected"]) == (4, 1)
    assert summary["rejects_path"] == f"{path}.rejects.jsonl"
    text = runner.invoke(cli, ["import", str(path), "--db", db, "--quiet"])
    assert text.exit_code == 0 and "imported 0, duplicates 4" in text.output
    exported = runner.invoke(cli, ["export", "--db", db, "--format", "jsonl", "--provider", "callcenter"])
    assert exported.exit_code == 0
    assert len(exported.output.splitlines()) == 4
    bad = runner.invoke(cli, ["export", "--db", db, "--format", "parquet"])
    assert bad.exit_code == 2 and "Parquet needs a file" in bad.output
    missing = runner.invoke(cli, ["import", str(tmp_path / "nope.csv"), "--db", db])
    assert missing.exit_code == 2


def test_unreadable_rows_are_rejected_and_reading_goes_on(tmp_path: Path, store: Store) -> None:
    good = (DATA / "asterisk/answered.csv").read_bytes()
    path = tmp_path / "Master.csv"
    path.write_bytes(b'"","1000","20\x0001"\n' + b"\xff\xfe not utf-8,,,\n" + good)
    summary = Importer(store, rejects_path=str(tmp_path / "r.jsonl")).run([str(path)], "asterisk-csv")
    assert (summary.imported, summary.rejected) == (1, 2)


def test_a_csv_error_rejects_one_row() -> None:
    def rows() -> Iterator[list[str]]:
        yield ["a"]
        raise csv.Error("field larger than field limit (16777216)")

    items = list(guarded(rows(), 1))
    assert items[0] == (1, ["a"])
    number, item = items[1]
    assert number == 2 and isinstance(item, Item) and item.error is not None
    assert item.error.details[0]["error"].startswith("field larger")


GOOD_CALL = '{"call_id": "c2", "call_status": "Busy"}\n'


#: Plivo and Twilio records in an import: callback parameters, or REST call records (keys of ``from_rest``).
PLIVO_CALL = '{"CallUUID": "u2", "HangupCauseCode": "4000", "Duration": "3"}\n'
TWILIO_CALL = '{"sid": "CA2", "account_sid": "AC1", "status": "busy", "duration": "0"}\n'


# (format, the file, the rejection's field and error: a record's own key, or the body of a format read as one JSON
# body)
@pytest.mark.parametrize(("fmt", "text", "reason"), [
    ("callcenter", '{"call_id": "\\ud800", "call_status": "Busy"}\n' + GOOD_CALL, "body: invalid unicode escape"),
    # a list's item or a bare value is written out again as JSON, where the escape had become a lone surrogate
    # that stopped the import (UnicodeEncodeError) when encoded, stored or written to the rejects file
    ("callcenter", '[{"call_id": "\\ud800", "call_status": "Busy"}]\n' + GOOD_CALL, "body: invalid unicode escape"),
    ("telnyx", '"\\ud800"\n', "body: not an object"),
    ("plivo", '[{"CallUUID": "\\ud800"}]\n', "CallUUID: invalid unicode escape"),
    ("plivo", '{"CallUUID": "u1", "From": "\\udfff", "HangupCauseCode": "4000"}\n'
     + PLIVO_CALL, "From: invalid unicode escape"),
    ("plivo", '{"api_id": "a1", "objects": [{"call_uuid": "u1", "bill_duration": 1, "to_number": "\\ud83d"}]}\n'
     + PLIVO_CALL, "to_number: invalid unicode escape"),
    ("twilio", '{"CallSid": "CA1", "CallStatus": "busy", "To": "\\ud800x"}\n'
     + TWILIO_CALL, "To: invalid unicode escape"),
    ("twilio", '{"calls": [{"sid": "CA1", "account_sid": "AC1", "status": "busy", "from": "\\udc00"}]}\n'
     + TWILIO_CALL, "from: invalid unicode escape"),
    # a key holding one is named by its escape, which the rejects file can hold
    ("twilio", '{"CallSid": "CA1", "CallStatus": "busy", "\\ud800": "x"}\n'
     + TWILIO_CALL, "\\ud800: invalid unicode escape"),
    ("jsonl", '[{"id": "\\ud800"}]\n', "body: invalid unicode escape"),
])
def test_lone_surrogates_are_rejected_and_reading_goes_on(tmp_path: Path, store: Store, fmt: str, text: str,
                                                          reason: str) -> None:
    path = tmp_path / "in.json"
    path.write_text(text)
    rejects = tmp_path / "r.jsonl"
    summary = Importer(store, rejects_path=str(rejects)).run([str(path)], fmt)
    good = sum(text.count(call) for call in (GOOD_CALL, PLIVO_CALL, TWILIO_CALL))
    assert (summary.imported, summary.rejected) == (good, 1)
    (line,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert "\\ud" in line["raw"]  # the escape (\\ud800 … \\udfff) as the file wrote it
    assert [f"{d['field']}: {d['error']}" for d in line["details"]] == [reason]
    assert summary.reasons == {reason: 1}


@pytest.mark.parametrize(("fmt", "text"), [
    # a JSON array on one line (``jq -c .calls``) has commas and no "=" as a CSV header has: read as JSON
    ("plivo", "[" + PLIVO_CALL.strip() + ", " + PLIVO_CALL.strip().replace('"u2"', '"u3"') + "]\n"),
    ("twilio", "[" + TWILIO_CALL.strip() + ", " + TWILIO_CALL.strip().replace('"CA2"', '"CA3"') + "]\n"),
    ("twilio", "[" + TWILIO_CALL.strip() + "]\n[" + TWILIO_CALL.strip().replace('"CA2"', '"CA3"') + "]\n"),
    ("twilio", "CallSid,CallStatus,CallDuration\nCA2,busy,0\nCA3,completed,12\n"),
])
def test_every_record_of_a_plivo_or_twilio_file_is_read(tmp_path: Path, store: Store, fmt: str, text: str) -> None:
    path = tmp_path / "calls.json"
    path.write_text(text)
    summary = Importer(store, rejects_path=str(tmp_path / "r.jsonl")).run([str(path)], fmt)
    assert (summary.imported, summary.rejected) == (2, 0)


def test_cli_import_from_standard_input(tmp_path: Path) -> None:
    _register()
    db = str(tmp_path / "stdin.db")
    data = (DATA / "callcenter/import/records.csv").read_bytes()
    result = CliRunner().invoke(cli, ["import", "-", "--format", "callcenter", "--db", db, "--quiet", "--json",
                                      "--rejects", str(tmp_path / "r.jsonl")], input=data)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["imported"] == 4


def _rollups(store: Store) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(str(store.url).removeprefix("sqlite:///"))
    try:
        return conn.execute(f"SELECT * FROM {rollups.TABLE} ORDER BY level, dim, bucket, value").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("fmt", ["asterisk-csv", "callcenter", "plivo"])
def test_a_file_read_in_a_second_process_is_stored_as_when_read_here(tmp_path: Path, fmt: str) -> None:
    path = _fixture(tmp_path, fmt)
    stores = [open_store(f"sqlite:///{tmp_path}/{name}.db") for name in ("here", "elsewhere")]
    try:
        summaries = []
        for store, parallel in zip(stores, (False, True), strict=True):
            store.add_write_hook(rollups.hook)
            rejects = tmp_path / f"{parallel}.rejects.jsonl"
            summary = Importer(store, batch_size=2, rejects_path=str(rejects), received_at=1_800_000_000.25,
                               parallel=parallel).run([str(path)])
            again = Importer(store, rejects_path=str(rejects), parallel=parallel).run([str(path)], fmt)
            summaries.append((summary.to_json() | {"seconds": 0, "rejects_path": ""},
                              (again.imported, again.duplicates, again.conflicts), rejects.read_text()))
        assert summaries[0] == summaries[1]
        assert summaries[1][1] == (0, summaries[1][0]["imported"] + summaries[1][0]["duplicates"], 0)
        here, elsewhere = ({r.id: r for r in s.iter_calls(CallQuery())} for s in stores)
        assert here == elsewhere and len(here) == EXPECTED[fmt][0]
        assert _rollups(stores[0]) == _rollups(stores[1]) != []
    finally:
        for store in stores:
            store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", ["asterisk-csv", "callcenter"])
def test_a_file_read_in_a_second_process_into_postgres_is_stored_as_into_sqlite(
        tmp_path: Path, postgres_url: str, fmt: str) -> None:
    """PostgreSQL takes the reading process's rows (a Master.csv read column-wise too), SQLite staging files."""
    path = _fixture(tmp_path, fmt)
    stores = [open_store(f"sqlite:///{tmp_path}/calls.db"), open_store(postgres_url)]
    try:
        results = []
        for store in stores:
            store.add_write_hook(rollups.hook)
            rejects = str(tmp_path / "rejects.jsonl")
            first = Importer(store, rejects_path=rejects, received_at=1_800_000_000.25, parallel=True).run([str(path)])
            again = Importer(store, rejects_path=rejects, parallel=True).run([str(path)], fmt)
            results.append((first.imported, first.duplicates, first.rejected, again.imported, again.duplicates,
                            again.conflicts))
        imported, duplicates = results[0][:2]
        assert results[0] == results[1] == (EXPECTED[fmt][0], duplicates, EXPECTED[fmt][2], 0, imported + duplicates, 0)
        sqlite_calls, postgres_calls = ({r.id: r for r in s.iter_calls(CallQuery())} for s in stores)
        assert sqlite_calls == postgres_calls and len(sqlite_calls) == EXPECTED[fmt][0]
        postgres_rollups = stores[1].database.read(
            f"SELECT * FROM {rollups.TABLE} ORDER BY level, dim COLLATE \"C\", bucket, value COLLATE \"C\"")
        assert [tuple(row) for row in postgres_rollups] == _rollups(stores[0]) != []
    finally:
        for store in stores:
            store.close()


def test_a_staged_import_into_an_empty_store_builds_the_user_indexes_at_its_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The import runs as one bulk load: the user indexes are left out while batches are stored (the store
    was empty) and built before the import returns."""
    def indexes() -> set[str]:
        conn = sqlite3.connect(tmp_path / "calls.db")
        try:
            names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        finally:
            conn.close()
        return names & {"calls_from_user", "calls_to_user"}

    store = open_store(f"sqlite:///{tmp_path}/calls.db")
    seen: list[set[str]] = []
    add_staged = store.add_staged  # type: ignore[attr-defined]

    def watched(path: str) -> StagedResult:
        seen.append(indexes())
        return add_staged(path)  # type: ignore[no-any-return]

    monkeypatch.setattr(store, "add_staged", watched)
    try:
        summary = Importer(store, parallel=True).run([str(_fixture(tmp_path, "asterisk-csv"))])
        assert seen == [set()] and indexes() == {"calls_from_user", "calls_to_user"}
        assert summary.imported == store.count() == EXPECTED["asterisk-csv"][0]
    finally:
        store.close()


@pytest.mark.parametrize("hook", [rollups.hook, rollups.RollupHook(minute_days=8)], ids=["all minutes", "8 days"])
def test_files_read_one_after_another_by_one_reading_process_are_stored_as_read_here(
        tmp_path: Path, hook: rollups.RollupHook) -> None:
    """One reading process serves every file of an import: a file's staging file is still being stored while
    the next file's first is written, so they are numbered across files. The calls and rollups equal those
    of reading here, also where the minute retention leaves the reading process's minute sums out."""
    rows = (DATA / "asterisk/import/Master.csv").read_text().splitlines(keepends=True)
    paths = []
    for n in range(4):
        paths.append(tmp_path / f"Master-{n}.csv")
        paths[-1].write_text("".join(rows[n::4]))
    results = []
    for name, parallel in (("here", False), ("there", True)):
        store = open_store(f"sqlite:///{tmp_path}/{name}.db")
        store.add_write_hook(hook)
        add_staged = getattr(store, "add_staged", None)

        def after_the_next_is_written(path: str, add_staged: Any = add_staged) -> StagedResult:
            """Store a staging file only once the next file's is written beside it (or 2 s passed)."""
            waited = 0
            while len(os.listdir(os.path.dirname(path))) < 2 and waited < 200:
                time.sleep(0.01)
                waited += 1
            return add_staged(path)  # type: ignore[no-any-return]

        if add_staged is not None:
            store.add_staged = after_the_next_is_written  # type: ignore[attr-defined]
        try:
            summary = Importer(store, received_at=1_800_000_000.25, parallel=parallel).run(
                [str(p) for p in paths], "asterisk-csv")
            results.append((summary.imported, {r.id: r for r in store.iter_calls(CallQuery())}, _rollups(store)))
        finally:
            store.close()
    assert results[0] == results[1] and results[0][0] == EXPECTED["asterisk-csv"][0]
    assert not list(tmp_path.glob(".hangup-import-*"))  # the staging folder is gone


def test_a_failing_reading_process_fails_the_import(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "Master.csv"
    path.write_text("")
    with pytest.raises(ImportReaderError, match="KeyError"):
        Importer(store, parallel=True).run([str(path)], "no-such-format")


def test_cli_reports_a_failing_reading_process_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: Importer, files: list[str], fmt: str | None = None) -> None:
        raise ImportReaderError("the reading process exited with status 1")

    _register()
    monkeypatch.setattr(Importer, "run", fail)
    path = tmp_path / "Master.csv"
    path.write_text("x\n")
    result = CliRunner().invoke(cli, ["import", str(path), "--db", str(tmp_path / "c.db")])
    assert result.exit_code == 1
    assert "Error: the reading process exited with status 1" in result.output
    assert "Traceback" not in result.output
