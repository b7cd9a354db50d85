"""The file formats ``hangup import`` reads, one reader each, and the guess of a file's format.

Every reader streams one text file and yields an ``Item`` per call-end event: the record, or the
error that rejected it, or neither (an event that is not a call end, e.g. a ``ringing``
callback). Records come from the same adapters as the webhooks, so an imported call is classified
exactly as a received one.

============== ==============================================================================
format         file
============== ==============================================================================
planet-urls    recorded Planet callbacks, one URL or query string per line
plivo          Plivo hangup callbacks: one form-encoded body per line, CSV, or JSON; REST call lists
twilio         Twilio status callbacks: one form-encoded body per line, CSV, or JSON; REST call lists
telnyx         Telnyx webhooks: JSON
vonage         Vonage event webhooks: JSON; REST call lists
freeswitch-json mod_json_cdr / mod_xml_cdr files (one document per file) or JSON Lines of CDRs
freeswitch-csv mod_cdr_csv ``Master.csv`` (the ``example`` template), or a CSV with a header of variable names
asterisk-csv   cdr_csv ``Master.csv`` (no header), or a CSV with a header of CDR variable names
callcenter     contact-centre records: CSV with a header, JSON Lines or one JSON array
jsonl          hangup's own export (``hangup export --format jsonl``)
csv            hangup's own export (``hangup export --format csv``)
============== ==============================================================================

"JSON" is any layout ``jsondocs.json_texts`` reads: JSON Lines, one object or array, or several
written one after another, list pages opened. CSV files with other columns are read through a column
mapping (``hangup.importer.columns``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import IO, Any, TypeVar
from urllib.parse import urlencode

from hangup.errors import HTTPError, PayloadError
from hangup.importer.canonical import record_from_export
from hangup.importer.jsondocs import is_complete, json_texts
from hangup.providers import asterisk, callcenter, freeswitch, plivo, twilio
from hangup.providers._common import json_object, parse_time
from hangup.providers.base import Provider, WebhookRequest
from hangup.providers.registry import get_provider
from hangup.records import CallRecord

csv.field_size_limit(16 * 1024 * 1024)  # FreeSWITCH/Asterisk fields can be long; the default 128 KiB is not


@dataclass(frozen=True, slots=True)
class Item:
    """One event of an imported file: a record, a rejection, or neither (not a call end)."""

    location: str  # "line 12", "row 7", "document"
    record: CallRecord | None = None
    error: HTTPError | None = None
    raw: str = ""


Reader = Callable[[IO[str], float], Iterator[Item]]
T = TypeVar("T")


def attempt(location: str, raw: str, build: Callable[..., CallRecord | None], *args: Any) -> Item:
    """The ``Item`` of ``build(*args)``: its record, or the error that rejected the event."""
    try:
        return Item(location, build(*args), None, raw)
    except HTTPError as exc:
        return Item(location, None, exc, raw)
    except (ValueError, TypeError, KeyError) as exc:  # a value no adapter anticipated: reject, do not stop
        return Item(location, None, PayloadError(f"unreadable: {exc}"[:200]), raw)


def _lines(stream: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(stream, 1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield number, text


def _peek(stream: Iterable[str]) -> tuple[str, Iterator[str]]:
    """The first non-blank line and an iterator over the whole stream (that line included)."""
    consumed: list[str] = []
    for line in stream:
        consumed.append(line)
        if line.strip():
            return line.strip(), chain(consumed, stream)
    return "", iter(consumed)


def guarded(rows: Iterator[T], first: int) -> Iterator[tuple[int, T | Item]]:
    """Numbered CSV rows; a row the csv module cannot read becomes a rejected ``Item`` and reading goes on."""
    number = first - 1
    while True:
        number += 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            yield number, Item(f"row {number}", None, PayloadError(
                "malformed CSV row", details=[{"field": "row", "error": str(exc)[:120]}]))
            continue
        yield number, row


# -- webhook-shaped formats ---------------------------------------------------------------
def _query_of(line: str) -> tuple[str, str]:
    text = line.strip()
    method, _, rest = text.partition(" ")
    if method.upper() in ("GET", "POST") and rest:
        text = rest.strip()
    target, sep, query = text.partition("?")
    return (target, query) if sep else ("", text)


def read_planet_urls(stream: IO[str], received_at: float) -> Iterator[Item]:
    adapter = get_provider("planet")
    for number, line in _lines(stream):
        url, query = _query_of(line)
        request = WebhookRequest("GET", url, query, received_at=received_at, client="hangup import")
        yield attempt(f"line {number}", line, adapter.parse, request)


def _form_reader(name: str) -> Reader:
    """Form-encoded callbacks (or JSON objects of their parameters) one per line, or a CSV with a header."""

    def read(stream: IO[str], received_at: float) -> Iterator[Item]:
        adapter = get_provider(name)
        first, lines = _peek(stream)
        if first and not first.startswith("{") and "=" not in first and "," in first:
            for number, row in guarded(csv.DictReader(lines), 2):
                if isinstance(row, Item):
                    yield row
                    continue
                body = urlencode({k: v for k, v in row.items() if k is not None and v is not None}).encode()
                yield attempt(f"row {number}", json.dumps(row), adapter.parse, _post(body, received_at))
            return
        if first.startswith(("{", "[")):
            for location, text in json_texts(first, lines):
                yield attempt(location, text, _parse_form, adapter, text, received_at, name)
            return
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            yield attempt(f"line {number}", text, _parse_form, adapter, text, received_at, name)

    return read


def _parse_form(adapter: Provider, text: str, received_at: float, name: str = "") -> CallRecord | None:
    return adapter.parse(_post(_form_body(text, REST_RECORDS.get(name)), received_at))


def _form_body(text: str, from_rest: Callable[[Mapping[str, Any]], dict[str, str]] | None = None) -> bytes:
    if not text.startswith("{"):
        return text.encode()
    data = json.loads(text)
    if not isinstance(data, dict):
        raise PayloadError("expected a JSON object", details=[{"field": "line", "error": "not an object"}])
    if from_rest is not None:
        data = from_rest(data)
    return urlencode({str(k): "" if v is None else str(v) for k, v in data.items()}).encode()


def _post(body: bytes, received_at: float, content_type: str = "application/x-www-form-urlencoded"
          ) -> WebhookRequest:
    return WebhookRequest("POST", "", "", body, {"content-type": content_type}, received_at, "hangup import")


def _json_objects(stream: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(location, JSON text) of each record: JSON Lines, or objects, arrays or list pages one after another."""
    first, lines = _peek(stream)
    return json_texts(first, lines)


def _json_reader(name: str) -> Reader:
    def read(stream: IO[str], received_at: float) -> Iterator[Item]:
        adapter = get_provider(name)
        for location, text in _json_objects(stream):
            request = _post(text.encode(), received_at, "application/json")
            yield attempt(location, text, adapter.parse, request)

    return read


def read_freeswitch(stream: IO[str], received_at: float) -> Iterator[Item]:
    first, lines = _peek(stream)
    if first.startswith("{") and is_complete(first):
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield attempt(f"line {number}", line.strip(), _freeswitch, line.strip(), received_at)
        return
    document = "".join(lines)
    yield attempt("document", document, _freeswitch, document, received_at)


def _freeswitch(text: str, received_at: float) -> CallRecord:
    return freeswitch.record_from_cdr(freeswitch.parse_cdr(text.encode()), text, received_at)


# -- CSV-shaped formats ------------------------------------------------------------------------
#: mod_cdr_csv's ``example`` template, the vanilla configuration's ``default-template``
#: (``conf/vanilla/autoload_configs/cdr_csv.conf.xml``): the columns of its ``Master.csv`` lines, in order.
CDR_CSV_EXAMPLE = ("caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp",
                   "answer_stamp", "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid",
                   "accountcode", "read_codec", "write_codec")


def read_freeswitch_csv(stream: IO[str], received_at: float) -> Iterator[Item]:
    """mod_cdr_csv lines of the ``example`` template, or rows under a header of channel variable names
    (one naming ``uuid``), each read as the ``variables`` of a FreeSWITCH CDR."""
    header: list[str] | None = None
    row_text = RowText()
    for number, fields in guarded(csv.reader(stream), 1):
        if isinstance(fields, Item):
            yield fields
            continue
        if not fields or not any(fields):
            continue
        if number == 1 and "uuid" in (f.strip() for f in fields):
            header = [f.strip() for f in fields]
            continue
        raw = row_text(fields)
        names = header or (CDR_CSV_EXAMPLE if len(fields) == len(CDR_CSV_EXAMPLE) else None)
        if names is None:
            yield Item(f"row {number}", None, PayloadError("not a mod_cdr_csv example-template row", details=[
                {"field": "row", "error": f"{len(fields)} columns, need {len(CDR_CSV_EXAMPLE)} or a header"}]), raw)
            continue
        cdr = {freeswitch.VARIABLES: cdr_csv_variables(dict(zip(names, fields, strict=False)))}
        yield attempt(f"row {number}", raw, freeswitch.record_from_cdr, cdr, raw, received_at)


def cdr_csv_variables(row: Mapping[str, str]) -> dict[str, str]:
    """The variables of a CSV row with the ``*_epoch`` times the adapter reads.

    Templates write ``*_stamp`` (the switch's local time, read as UTC, as Asterisk's Master.csv times
    are); exports that keep only the start and the durations give the rest: the end is ``duration``
    after the start, the answer ``billsec`` before the end (billsec counts from the answer)."""
    variables = {name: value.strip() for name, value in row.items() if name}
    for moment in ("start", "answer", "end"):
        seconds = parse_time(variables.get(f"{moment}_stamp", ""))
        if not variables.get(f"{moment}_epoch") and seconds is not None:
            variables[f"{moment}_epoch"] = str(seconds)
    start, duration, billsec = (_count(variables.get(k)) for k in ("start_epoch", "duration", "billsec"))
    if not variables.get("end_epoch") and start and duration is not None:
        variables["end_epoch"] = str(start + duration)
    end = _count(variables.get("end_epoch"))
    if not variables.get("answer_epoch") and end and billsec:
        variables["answer_epoch"] = str(end - billsec)
    return variables


def _count(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def read_asterisk_csv(stream: IO[str], received_at: float) -> Iterator[Item]:
    header: list[str] | None = None
    row_text = RowText()
    for number, fields in guarded(csv.reader(stream), 1):
        if isinstance(fields, Item):
            yield fields
            continue
        if not fields or not any(fields):
            continue
        if number == 1 and "disposition" in (f.strip().lower() for f in fields):
            header = fields
            continue
        if header is not None:
            row = asterisk.normalize_keys(dict(zip(header, fields, strict=False)))
        elif len(fields) < 16:
            yield Item(f"row {number}", None, PayloadError(
                "not a Master.csv row", details=[{"field": "row", "error": f"{len(fields)} columns, need 16"}]),
                row_text(fields))
            continue
        else:
            row = asterisk.row_from_csv(fields)
        raw = row_text(fields)
        yield attempt(f"row {number}", raw, asterisk.record_from_row, row, raw, received_at)


class RowText:
    """A CSV row back as one line of text (the record's ``raw``), with one writer and buffer reused."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="")

    def __call__(self, fields: list[str]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(fields)
        return self._buffer.getvalue()


def read_callcenter(stream: IO[str], received_at: float) -> Iterator[Item]:
    first, lines = _peek(stream)
    if first.startswith(("{", "[")):
        for location, text in _json_objects(lines):
            yield attempt(location, text, _callcenter_json, text, received_at)
        return
    for number, row in guarded(csv.DictReader(lines), 2):
        if isinstance(row, Item):
            yield row
            continue
        data = callcenter.normalize_keys({k: v for k, v in row.items() if k is not None})
        raw = json.dumps(row, ensure_ascii=False)
        yield attempt(f"row {number}", raw, callcenter.record_from_row, data, raw, received_at)


def _callcenter_json(text: str, received_at: float) -> CallRecord:
    data = json_object(text.encode("utf-8", "replace"), "callcenter")
    return callcenter.record_from_row(callcenter.normalize_keys(data), text, received_at)


def read_jsonl(stream: IO[str], received_at: float) -> Iterator[Item]:
    for location, text in _json_objects(stream):
        yield attempt(location, text, _export_json, text)


def read_csv(stream: IO[str], received_at: float) -> Iterator[Item]:
    for number, row in guarded(csv.DictReader(stream), 2):
        if isinstance(row, Item):
            yield row
            continue
        yield attempt(f"row {number}", "", record_from_export, row)


def _export_json(text: str) -> CallRecord:
    return record_from_export(_object(text))


def _object(text: str) -> dict[str, Any]:
    return json_object(text.encode("utf-8", "replace"), "jsonl")


#: Platforms whose REST call records use other keys than their callbacks: record → callback parameters.
REST_RECORDS: Mapping[str, Callable[[Mapping[str, Any]], dict[str, str]]] = {
    "twilio": twilio.from_rest,
    "plivo": plivo.from_rest,
}

READERS: Mapping[str, Reader] = {
    "planet-urls": read_planet_urls,
    "plivo": _form_reader("plivo"),
    "twilio": _form_reader("twilio"),
    "telnyx": _json_reader("telnyx"),
    "vonage": _json_reader("vonage"),
    "freeswitch-json": read_freeswitch,
    "freeswitch-csv": read_freeswitch_csv,
    "asterisk-csv": read_asterisk_csv,
    "callcenter": read_callcenter,
    "jsonl": read_jsonl,
    "csv": read_csv,
}
