"""What ``hangup import`` readers are made of: an adapter declares its import formats with these.

A reader (``ImportReader``) streams one text file and yields an ``Item`` per call-end event: the record,
or the error that rejected it, or neither (an event that is not a call end, e.g. a ``ringing``
callback). Records come from the same adapters as the webhooks, so an imported call is classified
exactly as a received one. An adapter's ``imports`` maps each format name to an ``ImportFormat``: its
reader and how ``hangup import`` recognises such a file when ``--format`` is not given.

JSON files are read in any layout ``hangup.providers.jsondocs`` knows (JSON Lines, one object or array,
several written one after another, the platforms' REST list pages opened). A platform whose REST call
records use other keys than its callbacks gives ``form_reader`` the translation (``RestRecord``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import IO, Any, TypeVar
from urllib.parse import urlencode

from hangup.errors import HTTPError, PayloadError
from hangup.providers._common import form_body
from hangup.providers.base import ImportFormat as ImportFormat
from hangup.providers.base import ImportReader as ImportReader
from hangup.providers.base import Item as Item
from hangup.providers.base import Provider, WebhookRequest
from hangup.providers.jsondocs import json_texts
from hangup.providers.registry import get_provider
from hangup.records import CallRecord

csv.field_size_limit(16 * 1024 * 1024)  # FreeSWITCH/Asterisk fields can be long; the default 128 KiB is not

#: Extensions of JSON and JSON Lines files.
JSON_FILES = (".jsonl", ".ndjson", ".json")


#: A platform's REST call record (one item of its call list) → the parameters of its callback.
RestRecord = Callable[[Mapping[str, Any]], dict[str, str]]
T = TypeVar("T")


def attempt(location: str, raw: str, build: Callable[..., CallRecord | None], *args: Any) -> Item:
    """The ``Item`` of ``build(*args)``: its record, or the error that rejected the event."""
    try:
        return Item(location, build(*args), None, raw)
    except HTTPError as exc:
        return Item(location, None, exc, raw)
    except (ValueError, TypeError, KeyError) as exc:  # a value no adapter anticipated: reject, do not stop
        return Item(location, None, PayloadError(f"unreadable: {exc}"[:200]), raw)




def numbered_lines(stream: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(stream, 1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield number, text


def peek(stream: Iterable[str]) -> tuple[str, Iterator[str]]:
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


def cdr_rows(stream: IO[str], is_header: Callable[[list[str]], bool]
             ) -> Iterator[tuple[int, list[str] | Item, list[str] | None]]:
    """(number, fields or a rejected ``Item``, the header or ``None``) of each non-blank row of a CDR CSV
    whose first row is a header when ``is_header`` says so (Master.csv has none; exports often do)."""
    header: list[str] | None = None
    for number, fields in guarded(csv.reader(stream), 1):
        if isinstance(fields, Item):
            yield number, fields, header
            continue
        if not fields or not any(fields):
            continue
        if number == 1 and is_header(fields):
            header = [f.strip() for f in fields]
            continue
        yield number, fields, header


# -- webhook-shaped formats ----------------------------------------------------------------
def form_reader(name: str, from_rest: RestRecord | None = None) -> ImportReader:
    """Form-encoded callbacks one per line, a CSV with a header, or JSON (objects of their parameters, or the
    platform's REST call records, read through ``from_rest``)."""

    def read(stream: IO[str], received_at: float) -> Iterator[Item]:
        adapter = get_provider(name)
        first, lines = peek(stream)
        # a CSV header: commas, no "=" (a form body) and not JSON (an array on one line has commas too)
        if first and not first.startswith(("{", "[")) and "=" not in first and "," in first:
            for number, row in guarded(csv.DictReader(lines), 2):
                if isinstance(row, Item):
                    yield row
                    continue
                body = urlencode({k: v for k, v in row.items() if k is not None and v is not None}).encode()
                yield attempt(f"row {number}", json.dumps(row), adapter.parse, post(body, received_at))
            return
        if first.startswith(("{", "[")):
            for location, text in json_texts(first, lines):
                yield attempt(location, text, _parse_form, adapter, text, received_at, from_rest)
            return
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            yield attempt(f"line {number}", text, _parse_form, adapter, text, received_at, from_rest)

    return read


def _parse_form(adapter: Provider, text: str, received_at: float, from_rest: RestRecord | None = None
                ) -> CallRecord | None:
    return adapter.parse(post(form_body(text, from_rest), received_at))


def post(body: bytes, received_at: float, content_type: str = "application/x-www-form-urlencoded"
          ) -> WebhookRequest:
    """An imported event as the POST its adapter reads."""
    return WebhookRequest("POST", "", "", body, {"content-type": content_type}, received_at, "hangup import")


def json_objects(stream: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(location, JSON text) of each record: JSON Lines, or objects, arrays or list pages one after another."""
    first, lines = peek(stream)
    return json_texts(first, lines)


def json_reader(name: str) -> ImportReader:
    """Webhook bodies in any JSON layout (``json_objects``)."""

    def read(stream: IO[str], received_at: float) -> Iterator[Item]:
        adapter = get_provider(name)
        for location, text in json_objects(stream):
            request = post(text.encode(), received_at, "application/json")
            yield attempt(location, text, adapter.parse, request)

    return read


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
