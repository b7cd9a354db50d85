"""The call log as CSV and JSON Lines, streamed row by row.

CSV cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return) are prefixed with ``'`` (OWASP "CSV Injection"); numbers are written as numbers.

List cells (``causes``, ``flags``) are joined with ``LIST_SEPARATOR`` (``|``) by ``join_list``: cause
references may hold spaces (``plivo-source:API Request``) but never ``|``. ``split_list`` reads such a cell
back, and also the space-joined cells of earlier exports.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from hangup.record_fields import RecordField
from hangup.records import FIELDS, CallRecord

#: The exported columns and the field each holds: ``to_json``'s keys, then the fields it leaves out (``raw``).
EXPORT_FIELDS: Mapping[str, RecordField] = {
    **{f.json_key: f for f in FIELDS if f.json_key is not None},
    **{f.name: f for f in FIELDS if f.json_key is None},
}
CSV_COLUMNS: tuple[str, ...] = tuple(EXPORT_FIELDS)
_LEFT_OUT = tuple(f.name for f in FIELDS if f.json_key is None)
_LIST_COLUMNS = tuple(column for column, f in EXPORT_FIELDS.items() if f.kind == "list")
_MAP_COLUMNS = tuple(column for column, f in EXPORT_FIELDS.items() if f.kind == "map")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Joins the items of a list cell; no cause reference or flag contains it.
LIST_SEPARATOR = "|"


def join_list(items: Iterable[str]) -> str:
    """One CSV cell of ``items`` (``split_list`` reads it back)."""
    return LIST_SEPARATOR.join(items)


def split_list(cell: str) -> tuple[str, ...]:
    """The items of a list cell written by ``join_list``, or by earlier exports that joined with spaces.

    A cell without ``|`` holding one item is read the same either way. In a space-joined cell of cause
    references, a word without ``:`` continues the reference before it (``plivo-source:API Request``);
    words of a flag list never hold ``:``, so each is an item of its own.
    """
    text = cell.strip()
    if not text:
        return ()
    if LIST_SEPARATOR in text:
        return tuple(item.strip() for item in text.split(LIST_SEPARATOR) if item.strip())
    words = text.split()
    if ":" not in words[0]:
        return tuple(words)
    items: list[str] = []
    for word in words:
        if items and ":" not in word:
            items[-1] += " " + word
        else:
            items.append(word)
    return tuple(items)


def safe_cell(value: Any) -> Any:
    """A value a spreadsheet will show, never evaluate."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def exported(record: CallRecord) -> dict[str, Any]:
    """The record as every export writes it: ``to_json()``, then the fields it leaves out (``raw``)."""
    data = record.to_json()
    for name in _LEFT_OUT:
        data[name] = getattr(record, name)
    return data


def map_cell(value: Mapping[str, str]) -> str:
    """One cell of a map (``extra``): a JSON object, empty when the map is."""
    return json.dumps(dict(value), ensure_ascii=False) if value else ""


def _csv_values(record: CallRecord) -> list[Any]:
    data = exported(record)
    for column in _LIST_COLUMNS:
        data[column] = join_list(data[column])
    for column in _MAP_COLUMNS:
        data[column] = map_cell(data[column])
    return [safe_cell(data[c]) for c in CSV_COLUMNS]


def csv_lines(records: Iterable[CallRecord]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        writer.writerow(_csv_values(record))
        if buffer.tell() > 16384:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_lines(records: Iterable[CallRecord]) -> Iterator[str]:
    for record in records:
        yield json.dumps(exported(record), ensure_ascii=False) + "\n"
