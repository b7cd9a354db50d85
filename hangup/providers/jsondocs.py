"""JSON values in a file, however the file holds them, and the records of a platform's list pages.

The JSON layouts every JSON import format reads (``hangup.providers.reading``). A saved webhook body
or API answer reaches ``hangup import`` as JSON Lines (one value per line), one pretty-printed object,
one array, or several objects or pages written one after the other (``curl`` of each page appended to
one file). ``json_texts`` yields each record's JSON text with its location
in every case; a value that does not parse is yielded as its line's text, so the adapter rejects that
line (naming ``body``) and reading goes on at the next line.

The platforms' REST call-list pages hold their records in a list under a key: Twilio ``calls``
(``/2010-04-01/Accounts/{sid}/Calls.json``), Plivo ``objects`` (``/v1/Account/{id}/Call/``), Telnyx
``data``, Vonage ``_embedded.calls`` (``/v1/calls``); ``page_items`` opens them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

#: Keys under which a list page holds its records (the value must be a list).
LIST_KEYS = ("calls", "objects", "data")
#: HAL pages (Vonage) nest the list one level deeper.
EMBEDDED = "_embedded"

_DECODER = json.JSONDecoder()


def page_items(value: Any) -> list[Any]:
    """The records of one decoded value: each item of a list, the records of a list page, else the value."""
    if isinstance(value, list):
        return [item for element in value for item in _opened(element)]
    return _opened(value)


def _opened(value: Any) -> list[Any]:
    if isinstance(value, dict):
        embedded = value.get(EMBEDDED)
        holder = embedded if isinstance(embedded, dict) else value
        for key in LIST_KEYS:
            if isinstance(holder.get(key), list):
                return list(holder[key])
    return [value]


def is_complete(text: str) -> bool:
    """Whether ``text`` is one whole JSON value (a JSON Lines line)."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def json_texts(first: str, lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(location, JSON text) of each record; ``first`` is the first non-blank line of ``lines``."""
    if first and first[0] == "{" and is_complete(first):
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if text and not text.startswith("#"):
                yield from _records(f"line {number}", text)
        return
    yield from _document("".join(lines))


def _records(location: str, text: str) -> Iterator[tuple[str, str]]:
    try:
        value = json.loads(text)
    except ValueError:
        yield location, text  # the adapter names what is wrong with it
        return
    items = page_items(value)
    if items == [value]:
        yield location, text
        return
    for index, item in enumerate(items, 1):
        yield f"{location} item {index}", _text_of(item)


def _document(document: str) -> Iterator[tuple[str, str]]:
    """Every JSON value of a document, one after the other, each list or page opened."""
    position, count = 0, 0
    while True:
        position = _skip(document, position)
        if position >= len(document):
            return
        line = document.count("\n", 0, position) + 1
        try:
            value, end = _DECODER.raw_decode(document, position)
        except ValueError:
            end = document.find("\n", position)
            end = len(document) if end < 0 else end
            yield f"line {line}", document[position:end].strip()
            position = end
            continue
        for item in page_items(value):
            count += 1
            yield f"item {count} (line {line})", _text_of(item)
        position = end


def encodable(text: str) -> bool:
    """Whether UTF-8, and so a store or a rejects file, can hold ``text``: not when it holds a lone surrogate,
    which ``json.loads`` makes of a ``\\ud800`` escape."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_of(item: Any) -> str:
    """An item as JSON text again. A lone surrogate (read from a ``\\ud800`` escape) stays that escape: as a
    character no UTF-8 text holds it, and an adapter rejects the escape (``json_object``) where the character
    stopped the import when encoded."""
    text = json.dumps(item, ensure_ascii=False)
    return text if encodable(text) else json.dumps(item)


def _skip(document: str, position: int) -> int:
    """The position of the next value: whitespace, commas between values and ``#`` comment lines skipped."""
    while position < len(document):
        char = document[position]
        if char.isspace() or char == ",":
            position += 1
        elif char == "#":
            end = document.find("\n", position)
            position = len(document) if end < 0 else end
        else:
            break
    return position


__all__ = ["encodable", "is_complete", "json_texts", "page_items"]
