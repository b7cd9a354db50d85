"""A ``Master.csv`` import stores each row's values once: the line (``raw``) and the columns, ``extra`` named
by its import format and rebuilt from the line when read.

On both stores, through the reading process (staging files on SQLite, COPY on PostgreSQL): the calls read
back equal the adapter's records of the same rows, ``hangup reclassify`` changes none of them, and a second
delivery of a call that differs only in a value kept in ``extra`` is a conflict, not a duplicate.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import postgres_helpers
import pytest
from click.testing import CliRunner

from hangup.cli import _register, cli
from hangup.composition import open_configured_store
from hangup.importer import Importer
from hangup.importer.columnar import FORMAT
from hangup.providers import asterisk
from hangup.settings import load_settings
from hangup.store import sql
from hangup.store.base import CallQuery, Store
from hangup.store.schema import CALL_COLUMNS

RECEIVED = 1_790_000_000.0
#: (disposition, hangup cause, dial status): every row classified differently, one with a quoted field.
ROWS = [("ANSWERED", 16, "ANSWER"), ("NO ANSWER", 19, "NOANSWER"), ("BUSY", 17, "BUSY"),
        ("FAILED", 1, "CHANUNAVAIL"), ("CONGESTION", 34, "CONGESTION")]


def master_csv(amaflags: str = "DOCUMENTATION") -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for n, (disposition, cause, dial) in enumerate(ROWS):
        start = f"2026-11-0{n + 1} 10:00:00"
        answered = disposition == "ANSWERED"
        writer.writerow(["", f"1{n:04d}", f"2{n:04d}", "from-internal", f'"User, {n}" <1{n:04d}>',
                         f"PJSIP/1{n:04d}-0001", f"PJSIP/2{n:04d}-0001", "Dial", f"PJSIP/2{n:04d},30", start,
                         f"2026-11-0{n + 1} 10:00:05" if answered else "", f"2026-11-0{n + 1} 10:01:00",
                         "60", "55" if answered else "0", disposition, amaflags, f"1793000000.{n}",
                         f"hangupcause={cause};dialstatus={dial}"])
    return out.getvalue()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/calls.db"
        return
    postgres_helpers.require_postgres()
    with postgres_helpers.temporary_schema() as found:
        yield found


def imported(url: str, path: Path) -> tuple[Store, tuple[int, int, int]]:
    store = open_configured_store(load_settings({"HANGUP_DB": url}))
    summary = Importer(store, received_at=RECEIVED, parallel=True).run([str(path)], "asterisk-csv")
    return store, (summary.imported, summary.duplicates, summary.conflicts)


def test_master_csv_rows_are_stored_once_and_read_back_whole(url: str, tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text(master_csv())
    store, counts = imported(url, path)
    try:
        assert counts == (len(ROWS), 0, 0)
        stored = {record.id: record for record in store.iter_calls(CallQuery())}
        with store.database.reading() as conn:  # type: ignore[attr-defined]
            cells = {row[0] for row in conn.execute("SELECT DISTINCT extra FROM calls").fetchall()}
    finally:
        store.close()
    assert cells == {FORMAT}
    with path.open(newline="") as stream:
        expected = [item.record for item in asterisk.read_csv(stream, RECEIVED)]
    assert stored == {record.id: record for record in expected if record is not None}
    assert all(record.extra["clid"].startswith('"User, ') for record in stored.values())
    _register()
    result = CliRunner().invoke(cli, ["reclassify", "--db", url])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{len(ROWS)} calls examined, 0 reclassified"


@pytest.mark.parametrize(("amaflags", "counts"), [("DOCUMENTATION", (0, len(ROWS), 0)),
                                                  ("BILLING", (0, 0, len(ROWS)))],
                         ids=["same-line", "other-value-in-extra"])
def test_a_second_delivery_is_told_by_its_line(url: str, tmp_path: Path, amaflags: str,
                                               counts: tuple[int, int, int]) -> None:
    first, again = tmp_path / "Master.csv", tmp_path / "Master-again.csv"
    first.write_text(master_csv())
    again.write_text(master_csv(amaflags))
    imported(url, first)[0].close()
    store, found = imported(url, again)
    try:
        conflicts = [store.conflicts(record.id) for record in store.iter_calls(CallQuery())]
    finally:
        store.close()
    assert found == counts
    differences = [[c.differences for c in found] for found in conflicts]
    if counts[2]:
        assert all(list(d) == ["extra"] and (d["extra"][0]["amaflags"], d["extra"][1]["amaflags"])
                   == ("DOCUMENTATION", amaflags) for (d,) in differences)
    else:
        assert differences == [[]] * len(ROWS)


@pytest.mark.parametrize(("cell", "raw", "expected"), [
    ('{"a": "1"}', "ignored", {"a": "1"}),
    ("{}", "", {}),
    (FORMAT, ',1,2,ctx,"a ""b""",,,,,,,,,,ANSWERED,,u1,x=1', {
        "src": "1", "dst": "2", "dcontext": "ctx", "clid": 'a "b"', "disposition": "ANSWERED", "uniqueid": "u1",
        "userfield": "x=1"}),
])
def test_a_map_cell_is_its_json_or_rebuilt_from_raw(cell: str, raw: str, expected: dict[str, str]) -> None:
    assert sql.read_map(cell, raw) == expected


def test_a_format_that_cannot_rebuild_extra_is_named() -> None:
    with pytest.raises(ValueError, match="twilio"):
        sql.read_map("twilio", "")
    with pytest.raises(KeyError):
        sql.read_map("no-such-format", "")


def test_row_record_rebuilds_extra_from_the_line() -> None:
    line = master_csv().splitlines()[0]
    record = asterisk.record_from_row(asterisk.row_from_csv(next(csv.reader([line]))), line, RECEIVED)
    row = sql.record_row(record)
    once = tuple(FORMAT if name == "extra" else value for name, value in zip(CALL_COLUMNS, row, strict=True))
    assert once != row
    assert sql.row_record(once) == record == sql.row_record(row)
