"""CDR CSVs: FreeSWITCH ``mod_cdr_csv`` lines and rows under other columns (``hangup import --columns``)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hangup.cli import _register, cli
from hangup.importer import Importer, guess_format
from hangup.importer.columns import Columns, parse_columns, with_columns
from hangup.importer.formats import READERS, Item
from hangup.store import open_store

# Lines written for these tests in the layout of mod_cdr_csv's ``example`` template (cdr_csv.conf.xml): name, number,
# destination, context, start, answer, end, duration, billsec, cause, uuid, bleg_uuid, account, codecs.
ANSWERED = ('"Extension 1001","1001","1002","default","2023-10-10 23:44:11","2023-10-10 23:44:13",'
            '"2023-10-10 23:44:19","8","6","NORMAL_CLEARING","3c9e2f60-8d41-4e0b-b2a7-51f0c6d9e812","","1002",'
            '"PCMA","PCMA"')
BUSY = ('"1001","1001","1003","default","2023-10-10 23:50:00","","2023-10-10 23:50:04","4","0","USER_BUSY",'
        '"7d0c8a52-1c11-4a57-9d0e-3f1f3b3f0c01","","1001","PCMU","PCMU"')
SHORT = '"1001","1001","1003","default","2023-10-10 23:50:00"'
# A header of channel variables with epochs (a custom template written with its header line).
VARIABLES = "uuid,caller_id_number,destination_number,start_epoch,answer_epoch,end_epoch,billsec,hangup_cause_q850\n" \
            "b1,1001,1002,1696981451,1696981453,1696981459,6,16\n"
# Asterisk cdr_custom rows (no header) and a cdr_adaptive_odbc export (a header of table columns).
CUSTOM = '"1001","1002","2023-10-10 23:44:11","2023-10-10 23:44:13","2023-10-10 23:44:19","6","ANSWERED","1696.1"\n'
CUSTOM_COLUMNS = "src,dst,start,answer,end,billsec,disposition,uniqueid"
ODBC = "calldate,src,dst,billsec,disposition,uniqueid\n2023-10-10 23:50:00,1001,1003,0,BUSY,1696.2\n"


def _read(fmt: str, text: str, columns: Columns | None = None) -> list[Item]:
    reader = READERS[fmt] if columns is None else with_columns(READERS[fmt], columns)
    return list(reader(io.StringIO(text), 0.0))


def _facts(item: Item) -> tuple[Any, ...]:
    if item.record is None:
        return ("rejected", item.location)
    r = item.record
    return (r.provider_call_id, r.answered, r.setup_time, r.start_time, r.end_time, r.duration, r.cause, r.outcome)


@pytest.mark.parametrize(
    ("fmt", "text", "columns", "expected"),
    [
        ("freeswitch-csv", ANSWERED + "\n", None,
         [("3c9e2f60-8d41-4e0b-b2a7-51f0c6d9e812", True, 1696981451, 1696981453, 1696981459, 6,
           "freeswitch:16", "completed")]),
        ("freeswitch-csv", BUSY + "\n" + SHORT + "\n", None,
         [("7d0c8a52-1c11-4a57-9d0e-3f1f3b3f0c01", False, 1696981800, 0, 1696981804, 0, "freeswitch:17", "busy"),
          ("rejected", "row 2")]),
        ("freeswitch-csv", VARIABLES, None,
         [("b1", True, 1696981451, 1696981453, 1696981459, 6, "q850:16", "completed")]),
        ("freeswitch-csv", "id,started,cause\nb2,1696981451,17\n",
         Columns(renames={"id": "uuid", "started": "start_epoch", "cause": "hangup_cause_q850"}),
         [("b2", False, 1696981451, 0, 0, 0, "q850:17", "busy")]),
        ("asterisk-csv", CUSTOM, parse_columns(CUSTOM_COLUMNS),
         [("1696.1", True, 1696981451, 1696981453, 1696981459, 6, "asterisk-disposition:ANSWERED", "completed")]),
        ("asterisk-csv", ODBC, parse_columns("calldate=start"),
         [("1696.2", False, 1696981800, 0, 0, 0, "asterisk-disposition:BUSY", "busy")]),
    ],
    ids=["example-template", "busy-and-short-row", "variable-header", "renamed-header", "cdr-custom",
         "adaptive-odbc"],
)
def test_cdr_csv_rows_read_as_calls(fmt: str, text: str, columns: Columns | None,
                                    expected: list[tuple[Any, ...]]) -> None:
    assert [_facts(item) for item in _read(fmt, text, columns)] == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("callid=uuid, starting_date=start_stamp", Columns(renames={"callid": "uuid", "starting_date": "start_stamp"})),
        ("src,dst,disposition", Columns(names=("src", "dst", "disposition"))),
        ("# cdr_custom.conf\nsrc\ndst # the dialled number\n", Columns(names=("src", "dst"))),
    ],
)
def test_column_specifications(spec: str, expected: Columns) -> None:
    assert parse_columns(spec) == expected


@pytest.mark.parametrize("spec", ["", "# nothing\n", "callid=uuid,src"])
def test_unusable_column_specifications_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="--columns"):
        parse_columns(spec)


def test_a_mapping_file_is_read(tmp_path: Path) -> None:
    mapping = tmp_path / "odbc.columns"
    mapping.write_text("calldate=start\n")
    assert parse_columns(str(mapping)) == Columns(renames={"calldate": "start"})


@pytest.mark.parametrize(
    ("name", "head", "fmt"),
    [
        ("Master.csv", ANSWERED, "freeswitch-csv"),
        ("cdr.csv", "uuid,caller_id_number,hangup_cause", "freeswitch-csv"),
        ("Master.csv", '"","1000","2001","c","","PJSIP/1","","Dial","","2026-06-08 10:00:00","","","1","0","BUSY"',
         "asterisk-csv"),
    ],
)
def test_cdr_csv_format_guess(name: str, head: str, fmt: str) -> None:
    assert guess_format(name, head) == fmt


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    _register()
    yield CliRunner()


def test_import_with_columns_from_the_command_line(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "odbc.csv"
    path.write_text(ODBC)
    db = f"sqlite:///{tmp_path / 'calls.db'}"
    ok = runner.invoke(cli, ["import", str(path), "--db", db, "--format", "asterisk-csv", "--columns",
                             "calldate=start", "--quiet"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("imported 1,")
    bad = runner.invoke(cli, ["import", str(path), "--db", db, "--columns", "calldate=start,src"])
    assert bad.exit_code == 2 and "--columns" in bad.output


def test_columns_are_refused_for_formats_without_cdr_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text('{"uuid": "u1", "status": "completed"}\n')
    store = open_store(str(tmp_path / "calls.db"))
    try:
        with pytest.raises(ValueError, match="--columns"):
            Importer(store, columns=parse_columns("uuid=id")).run([str(path)], "vonage")
    finally:
        store.close()
