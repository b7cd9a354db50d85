"""The column-wise Master.csv reader against the row path (``read_asterisk_csv`` → ``record_row``), row by row."""

from __future__ import annotations

import csv
import io
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hangup.importer.columnar import _LEAF_LINES, FORMAT, read_asterisk_batches, supports
from hangup.importer.formats import Item, read_asterisk_csv
from hangup.providers.asterisk import MASTER_CSV_COLUMNS
from hangup.records import CALL_ID_NAMESPACE, call_id_for, call_ids
from hangup.store import staging
from hangup.store.schema import CALL_COLUMNS
from hangup.store.sql import record_row, row_record

RECEIVED_AT = 1_780_000_123.75
BATCH_SIZES = (50_000, 7, 1)


def _row_path(path: Path) -> list[Item]:
    with io.TextIOWrapper(path.open("rb"), encoding="utf-8", errors="replace", newline="") as text:
        return list(read_asterisk_csv(text, RECEIVED_AT))


def _check(path: Path, batch_rows: int = 50_000) -> tuple[int, int]:
    """Every row of the column-wise reader equals the row path's: (rows read column-wise, rows left to the adapter)."""
    expected = _row_path(path)
    rows: list[dict[str, object]] = []
    items: list[Item] = []
    read, position = 0, 0
    for batch in read_asterisk_batches(str(path), RECEIVED_AT, batch_rows):
        assert batch.table.schema == staging.SCHEMA
        assert batch.read == batch.table.num_rows + len(batch.items)
        assert batch.position >= position
        rows += batch.table.to_pylist()
        items += batch.items
        read, position = read + batch.read, batch.position
    assert position == path.stat().st_size
    assert read == len(expected)
    left = {item.location: item for item in items}
    assert [i.location for i in items] == [e.location for e in expected if e.location in left]  # in file order
    accepted = iter(rows)
    for want in expected:
        got = left.pop(want.location, None)
        if got is not None:
            assert (got.location, got.raw, got.record) == (want.location, want.raw, want.record)
            assert type(got.error) is type(want.error)
            assert (got.error and got.error.to_json()) == (want.error and want.error.to_json())
            continue
        assert want.record is not None, f"{want.location}: the row path rejects a row read column-wise"
        row = next(accepted)
        assert row["digest"] == ""
        # ``extra`` is stored once, as the line (``raw``): the row names the format that rebuilds it
        wanted = dict(zip(CALL_COLUMNS, record_row(want.record), strict=True)) | {"digest": "", "extra": FORMAT}
        for name in CALL_COLUMNS:
            assert (row[name], type(row[name])) == (wanted[name], type(wanted[name])), (want.location, name)
        assert row_record(tuple(row.values())) == want.record, want.location
    assert next(accepted, None) is None and not left
    return len(rows), len(items)


# -- rows -----------------------------------------------------------------------------------------
def _cdr(n: int = 1, columns: int = 18, **values: str) -> list[str]:
    """One Master.csv row: an answered call unless ``values`` say otherwise."""
    start = 1_780_000_000 + 60 * n
    row = {
        "accountcode": "", "src": f"1{n:04d}", "dst": f"2{n:04d}", "dcontext": "from-internal",
        "clid": f'"User {n}" <1{n:04d}>', "channel": f"PJSIP/1{n:04d}-{n:08x}", "dstchannel": f"PJSIP/2{n:04d}-1",
        "lastapp": "Dial", "lastdata": f"PJSIP/2{n:04d},30", "start": _stamp(start), "answer": _stamp(start + 4),
        "end": _stamp(start + 64), "duration": "64", "billsec": "60", "disposition": "ANSWERED",
        "amaflags": "DOCUMENTATION", "uniqueid": f"{start}.{n}", "userfield": "hangupcause=16;dialstatus=ANSWER",
        "peeraccount": "", "linkedid": f"{start}.{n}", "sequence": str(n),
    }
    row.update(values)
    return [row[name] for name in MASTER_CSV_COLUMNS[:columns]]


def _stamp(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def _csv(rows: list[list[str]], quoting: int = csv.QUOTE_ALL, terminator: str = "\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, quoting=quoting, lineterminator=terminator).writerows(rows)
    return out.getvalue().encode()


def _dispositions() -> list[list[str]]:
    no_answer = {"answer": "", "billsec": "0"}
    return [
        _cdr(1),
        _cdr(2, disposition="NO ANSWER", userfield="hangupcause=19;dialstatus=NOANSWER", **no_answer),
        _cdr(3, disposition="BUSY", userfield="hangupcause=17;dialstatus=BUSY", **no_answer),
        _cdr(4, disposition="FAILED", userfield="hangupcause=1;dialstatus=CHANUNAVAIL", **no_answer),
        _cdr(5, disposition="CONGESTION", userfield="hangupcause=34;dialstatus=CONGESTION", **no_answer),
        _cdr(6, disposition="BUSY", userfield="hangupcause=17;dialstatus=BUSY"),  # caller's channel up, callee busy
        _cdr(7, disposition="ANSWERED", userfield="", **no_answer),  # answered without an answer time
        _cdr(8, disposition="NO ANSWER", userfield="hangupcause=16;dialstatus=ANSWER", **no_answer),
        _cdr(9, disposition="WEIRD", userfield="", **no_answer),  # unknown cause
        _cdr(10, disposition=" busy ", userfield="", **no_answer),
        # the caller's channel answered by the dialplan, the dialled phone never: billsec 60, not talk time
        _cdr(11, disposition="NO ANSWER", userfield="hangupcause=19;dialstatus=NOANSWER"),
    ]


def _userfields() -> list[list[str]]:
    forms = ["", "account 7", "hangupcause=16", "dialstatus=BUSY", "dialstatus=BUSY,hangupcause=17",
             "hangupcause=21;dialstatus=CHANUNAVAIL;", " HangupCause = 18 ; DIALSTATUS = noanswer ",
             "hangupcause=16;hangupcause=17", "x=1;hangupcause=3", "hangupcause=016", "hangupcause=16.5",
             "hangupcause=abc", "hangupcause=-1", "hangupcause=99999999999999999999", "dialstatus=",
             "=16", "hangupcause=٣"]
    return [_cdr(n, userfield=form) for n, form in enumerate(forms, 1)]


def _texts() -> list[list[str]]:
    return [
        _cdr(1, clid='"Müller, Jörg" <100>', lastdata="SIP/100,30,tT"),
        _cdr(2, clid='""', lastdata='say "hello", then \\go\\'),
        _cdr(3, clid="日本語 <200>", lastdata="😀 \u2028 \u00a0 é"),
        _cdr(4, accountcode="acct,1", dcontext="ctx\"x", amaflags=""),
        _cdr(5, src=" 100 ", dst="", clid="", lastapp="", lastdata=""),
        _cdr(6, userfield='say "x", \\ too'),
    ]


def _times() -> list[list[str]]:
    bad = ["2026-02-30 10:00:00", "2026-02-29 10:00:00", "2024-02-29 10:00:00", "2026-04-31 23:59:59",
           "2026-01-01T10:00:00", "1780000000", "1780000000.5", "2026-01-01 10:00:00+02:00", "2026-01-01 10:00",
           "1969-12-31 23:59:59", "1970-01-01 00:00:00", "2026-01-01 24:00:00", "2026-01-01 12:60:00",
           "2026-01-01 12:00:60", " 2026-01-01 10:00:00", "2026-1-01 10:00:00", "0000-01-01 00:00:00",
           "0001-01-01 00:00:00", "9999-12-31 23:59:59", "0", "null", "None", "yesterday", "２０２６-01-01 10:00:00"]
    rows = [_cdr(n, answer=value) for n, value in enumerate(bad, 1)]
    rows += [_cdr(100 + n, start=value) for n, value in enumerate(bad, 1)]
    rows += [_cdr(200 + n, end=value) for n, value in enumerate(bad, 1)]
    return rows + [_cdr(300, answer="", billsec="0", disposition="NO ANSWER"), _cdr(301, end="", start="")]


def _billsecs() -> list[list[str]]:
    values = ["", "0", "0007", "12.5", "-3", " 7", "7 ", "abc", "1e3", "+5", "999999999999999",
              "9007199254740993", "99999999999999999999", "١٢", "0x10"]
    return [_cdr(n, billsec=value) for n, value in enumerate(values, 1)]


def _ids() -> list[list[str]]:
    return [
        _cdr(1, uniqueid="", linkedid=""), _cdr(2, uniqueid="", channel=""), _cdr(3, uniqueid="", start=""),
        _cdr(4, uniqueid=" 1780000000.4 "), _cdr(5, uniqueid="   "), _cdr(6, uniqueid="ünïque"),
        _cdr(7, uniqueid="a b"), _cdr(8, uniqueid="1780000000.8"), _cdr(9, uniqueid="1780000000.8"),  # duplicate
        _cdr(10, uniqueid="x\\y\"z"),
    ]


def _file(tmp_path: Path, content: bytes, name: str = "Master.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


CASES: dict[str, bytes] = {
    "dispositions": _csv(_dispositions()),
    "userfields": _csv(_userfields()),
    "texts": _csv(_texts()),
    "times": _csv(_times()),
    "billsecs": _csv(_billsecs()),
    "ids": _csv(_ids()),
    "minimal quoting, CRLF": _csv(_dispositions() + _texts(), csv.QUOTE_MINIMAL, "\r\n"),
    "bare CR": _csv(_dispositions(), terminator="\r"),
    "missing disposition": _csv([_cdr(1, disposition=""), _cdr(2, disposition="  "), _cdr(3)]),
    "short and long rows": _csv([_cdr(1), ["a", "b", "c"], _cdr(2)[:17], _cdr(3, columns=21), _cdr(4)[:16],
                                 _cdr(5) + ["x", "y"], [" "], [""], _cdr(6)]),
    "blank rows": _csv([_cdr(1)]) + b"\n\r\n\r" + _csv([[""] * 18, _cdr(2)]) + b",,\n" + _csv([_cdr(3)]),
    "quoted newline": _csv([_cdr(1), _cdr(2, lastdata="two\nlines"), _cdr(3), _cdr(4, clid="a\r\nb"), _cdr(5)]),
    "control characters": _csv([_cdr(1, clid="tab\there"), _cdr(2, lastdata="nul\x00"), _cdr(3, userfield="\x1f"),
                                _cdr(4), _cdr(5, uniqueid="\x7f1")]),
    "invalid UTF-8": _csv([_cdr(1)]) + _csv([_cdr(2, clid="XX")]).replace(b"XX", b"\xff\xfe")
    + _csv([_cdr(3, lastdata="YY")]).replace(b"YY", b"\xed\xa0\x80\xc3") + _csv([_cdr(4)]),
    "latin-1": "\n".join(",".join(f'"{v}"' for v in _cdr(n, clid="Jörg")) for n in range(1, 6)).encode("latin-1"),
    "no final newline": _csv([_cdr(1), _cdr(2)]).rstrip(b"\n"),
    "unterminated quote at the end": _csv([_cdr(1), _cdr(2)]) + b'"a","b","c\n',
    "stray quotes": _csv([_cdr(1)]) + b'"","1","2","x",a"b,"c"d"e,' + b",".join(b'"%s"' % v.encode() for v in
                                                                          _cdr(2)[6:]) + b"\n" + _csv([_cdr(3)]),
    "16 columns": _csv([_cdr(n, columns=16) for n in range(1, 6)] + [_cdr(6, columns=16, channel="")]),
    "21 columns": _csv([_cdr(1, columns=21), _cdr(2, columns=21, uniqueid=""),
                        _cdr(3, columns=21, uniqueid="", linkedid=""), _cdr(4, columns=21, linkedid=" l "),
                        _cdr(5, columns=21, uniqueid="", linkedid=" l ")]),
}


@pytest.mark.parametrize("batch_rows", BATCH_SIZES)
@pytest.mark.parametrize("case", list(CASES))
def test_rows_equal_the_row_path(tmp_path: Path, case: str, batch_rows: int) -> None:
    path = _file(tmp_path, CASES[case])
    assert supports(str(path))
    _check(path, batch_rows)


def test_plain_rows_are_read_column_wise(tmp_path: Path) -> None:
    rows = _dispositions() + _texts() + [_cdr(n) for n in range(20, 40)]
    assert _check(_file(tmp_path, _csv(rows))) == (len(rows), 0)
    for columns in (16, 21):
        assert _check(_file(tmp_path, _csv([_cdr(n, columns=columns) for n in range(5)]))) == (5, 0)


@pytest.mark.parametrize(("case", "left"), [
    ("times", 3 * 22),  # of 24 times each, 2024-02-29 and 1970-01-01 00:00:00 are exact (9999 is out of range)
    ("billsecs", 12),  # "", "0" and "0007" are plain and in range (fifteen nines are over 7 days)
    ("ids", 5),  # no channel, no start, blanks at an end, only blanks, non-ASCII
    ("control characters", 3),  # tab, NUL, U+001F; DEL is no control character to JSON
    ("invalid UTF-8", 2),
    ("missing disposition", 2),
    ("short and long rows", 6),
])
def test_rows_the_reader_cannot_reproduce_go_to_the_row_path(tmp_path: Path, case: str, left: int) -> None:
    assert _check(_file(tmp_path, CASES[case]))[1] == left


def test_a_quoted_newline_sends_only_nearby_lines_to_the_row_path(tmp_path: Path) -> None:
    rows = [_cdr(n, lastdata="two\nlines" if n in (500, 1700) else f"SIP/{n}") for n in range(1, 2001)]
    read, left = _check(_file(tmp_path, _csv(rows)))
    assert 2 <= left <= 4 * _LEAF_LINES
    assert read + left == 2000


def _random_rows(rng: random.Random, count: int, columns: int) -> Iterator[bytes]:
    """Mostly ordinary rows, some of every kind the reader leaves to the adapter."""
    for n in range(1, count + 1):
        roll = rng.random()
        if roll < 0.75:
            fields = _cdr(n, columns, **rng.choice([{}, {"disposition": "BUSY", "answer": "", "billsec": "0"},
                                                    {"userfield": "hangupcause=34"}, {"clid": 'a,"b"'}]))
        elif roll < 0.85:
            fields = _cdr(n, columns, **{rng.choice(["answer", "billsec", "disposition", "uniqueid"]):
                                         rng.choice(["", "x", "2026-02-31 00:00:00", " 1", "1.5"])})
        elif roll < 0.9:
            fields = _cdr(n, columns)[:rng.choice([1, 3, 17, columns - 1])]
        elif roll < 0.95:
            fields = _cdr(n, columns, lastdata=rng.choice(["a\nb", "\r", "tab\t", "\x00"]))
        else:
            yield rng.choice([b"\n", b"\xff\n", b'"open\n', b",,,\n"])
            continue
        yield _csv([fields], rng.choice([csv.QUOTE_ALL, csv.QUOTE_MINIMAL]), rng.choice(["\n", "\r\n"]))


@pytest.mark.parametrize("seed", range(6))
def test_random_files_equal_the_row_path(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    columns = rng.choice([16, 18, 21])
    content = _csv([_cdr(0, columns)]) + b"".join(_random_rows(rng, 400, columns))
    path = _file(tmp_path, content)
    for batch_rows in (50_000, 100, 9):
        _check(path, batch_rows)


def test_many_rows_in_batches(tmp_path: Path) -> None:
    path = _file(tmp_path, _csv([_cdr(n % 50, uniqueid=f"1780000000.{n}") for n in range(3000)]))
    batches = list(read_asterisk_batches(str(path), RECEIVED_AT, 1000))
    assert 2 <= len(batches) <= 5
    assert sum(b.table.num_rows for b in batches) == 3000
    assert _check(path, 1000) == (3000, 0)


# -- which files ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("content", "expected"), [
    (_csv([_cdr(1)]), True),
    (_csv([_cdr(1, columns=16)]), True),
    (_csv([_cdr(1, columns=21)]), True),
    (_csv([_cdr(1)[:17], _cdr(2)]), False),
    (_csv([_cdr(1) + ["x"]]), False),
    (_csv([list(MASTER_CSV_COLUMNS[:18]), _cdr(1)]), False),
    (_csv([["src", "dst", "Disposition"], ["1", "2", "ANSWERED"]]), False),
    (b"", False),
    (b"\n" + _csv([_cdr(1)]), False),
    (b"\xef\xbb\xbf" + _csv([_cdr(1)]), False),
    (_csv([_cdr(1, lastdata="a\nb")]), False),
])
def test_supports(tmp_path: Path, content: bytes, expected: bool) -> None:
    path = _file(tmp_path, content)
    assert supports(str(path)) is expected
    _check(path)  # files not read column-wise go through the row path whole


def test_header_file_goes_through_the_row_path(tmp_path: Path) -> None:
    header = ["src", "dst", "start", "answer", "end", "billsec", "disposition", "uniqueid"]
    path = _file(tmp_path, _csv([header, ["1", "2", "2026-01-01 10:00:00", "", "", "0", "BUSY", "1.1"]]))
    assert _check(path) == (0, 1)


# -- ids ------------------------------------------------------------------------------------------
def test_call_ids_are_the_uuid5_of_the_standard_library() -> None:
    rng = random.Random(5)
    alphabet = [chr(c) for c in [*range(32, 127), 0xE9, 0x3042, 0x1F600, 0xFFFD, 0x2028, 0]]
    ids = ["", "1780000000.1", "ü", "a|b", *("".join(rng.choices(alphabet, k=rng.randint(1, 40)))
                                              for _ in range(3000))]
    for provider in ("asterisk", "plivo", "généric"):
        expected = [str(uuid.uuid5(CALL_ID_NAMESPACE, f"{provider}:{i}")) for i in ids]
        assert call_ids(provider, ids) == expected == [call_id_for(provider, i) for i in ids]
    assert call_ids("planet", ["sid-1", "sid-2"]) == ["sid-1", "sid-2"] and call_id_for("planet", "sid-1") == "sid-1"
    assert call_ids("asterisk", []) == []
