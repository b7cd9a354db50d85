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
from collections.abc import Iterable, Iterator
from typing import Any

from hangup.records import CallRecord

CSV_COLUMNS: tuple[str, ...] = (
    "id", "provider", "provider_call_id", "from_service_id", "from_user_id", "to_service_id", "to_user_id", "type",
    "setup_time", "start_time", "end_time", "duration", "answered", "direction", "stid", "srcip", "dstip",
    "call_end_reason", "terminate", "releaser", "rel_code", "rel_code_str", "user_rel_code", "cause", "causes",
    "outcome", "ended_by", "fault", "normal", "reason", "q850", "sip", "flags", "extra", "received_at", "raw",
)
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


def _csv_values(record: CallRecord) -> list[Any]:
    data = record.to_json()
    data["causes"] = join_list(record.causes)
    data["flags"] = join_list(record.flags)
    data["extra"] = json.dumps(dict(record.extra), ensure_ascii=False) if record.extra else ""
    data["raw"] = record.raw
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
        data = record.to_json()
        data["raw"] = record.raw
        yield json.dumps(data, ensure_ascii=False) + "\n"
