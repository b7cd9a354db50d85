"""Column-wise building blocks: each value the column-wise function accepts is read as the row path reads it."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pytest

from hangup.importer import vectors
from hangup.providers._common import parse_time

TIMES = ["2026-11-23 08:30:00", "", "1970-01-01 00:00:00", "2024-02-29 23:59:59", "2023-02-29 10:00:00",
         "2026-02-30 10:00:00", "2026-11-23T08:30:00", "2026-11-23 24:00:00", "1969-12-31 23:59:59", "0",
         "2026-11-23 08:30", " 2026-11-23 08:30:00", "2099-12-31 23:59:59", "2100-01-01 00:00:00",
         "9999-12-31 23:59:59"]


@pytest.mark.parametrize("value", TIMES)
def test_a_time_read_column_wise_is_the_row_paths_or_left_to_it(value: str) -> None:
    seconds, ok = vectors.times(pa.array([value, "2026-01-01 00:00:00"], pa.string()))
    if ok[0].as_py():
        assert seconds[0].as_py() == (parse_time(value) if value else 0)
    else:
        assert value not in ("", "2026-11-23 08:30:00", "1970-01-01 00:00:00", "2024-02-29 23:59:59",
                             "2099-12-31 23:59:59")
    assert ok[1].as_py() and seconds[1].as_py() == 1767225600


@pytest.mark.parametrize(("value", "high", "number", "ok"), [
    ("0", 2**53, 0, True), ("42", 2**53, 42, True), ("", 2**53, 0, True),
    ("999999999999999", 2**53, 999999999999999, True), ("1000000000000000", 2**53, 0, False),
    ("-1", 2**53, 0, False), ("12.5", 2**53, 0, False), (" 7", 2**53, 0, False), ("٣", 2**53, 0, False),
    ("604800", 604800, 604800, True), ("604801", 604800, 0, False),
])
def test_digits(value: str, high: int, number: int, ok: bool) -> None:
    got, accepted = vectors.digits(pa.array([value], pa.string()), high)
    assert accepted[0].as_py() is ok and (not ok or got[0].as_py() == number)


ROWS = [["a", "b,c", 'say "hi"', ""], ["", "", "x\ny", "é"], ["1", "2", "3", "4"]]


def test_csv_lines_are_what_csv_writer_writes() -> None:
    fields = [pa.array([row[i] for row in ROWS], pa.string()) for i in range(4)]
    expected = []
    for row in ROWS:
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(row)
        expected.append(out.getvalue())
    assert vectors.csv_lines(fields).to_pylist() == expected


def test_control_rows_are_found_only_when_present() -> None:
    assert vectors.control_rows(pa.array(["a", "b"], pa.string())) is None
    found = vectors.control_rows(pa.array(["a", "b\x01"], pa.string()))
    assert found is not None and found.to_pylist() == [False, True]
