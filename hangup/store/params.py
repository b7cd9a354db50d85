"""Call-log filters from text parameters: the API's query string and the CLI's options use one parser.

Every bad parameter is reported at once (``PayloadError`` with one detail per field), and unknown
parameters are errors too, so a typo never silently widens a query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, get_args

from hangup.bounds import MAX_TIME
from hangup.errors import PayloadError
from hangup.records import CallType
from hangup.store.base import MAX_LIMIT, CallQuery
from hangup.store.sql import decode_cursor
from hangup.taxonomy import EndedBy, Fault, Outcome

_INT_RE = re.compile(r"-?[0-9]{1,19}")
_LEAP_SECOND = re.compile(r"(T\d\d:\d\d:)60")
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})


def parse_time(text: str) -> int:
    """Unix seconds from an integer or an ISO 8601 date/time (UTC when no offset is given), within
    ``hangup.bounds.TIME`` (1970 to 2099)."""
    seconds = _integer(text) if _INT_RE.fullmatch(text) else _iso_seconds(text)
    if not 0 <= seconds <= MAX_TIME:
        raise ValueError("out of range: expected a time from 1970-01-01 to 2099-12-31")
    return seconds


def _iso_seconds(text: str) -> int:
    iso = text.upper()
    iso = iso[:-1] + "+00:00" if iso.endswith("Z") else iso
    iso = _LEAP_SECOND.sub(r"\g<1>59", iso)  # RFC 3339 allows :60; Python does not
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError("expected Unix seconds or an ISO 8601 time, e.g. 2024-06-01T12:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return int(moment.timestamp())
    except (OverflowError, OSError, ValueError):  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError("out of range: expected a time from 1970-01-01 to 2099-12-31") from None


def _integer(text: str) -> int:
    if not _INT_RE.fullmatch(text) or not -(2**63) <= int(text) < 2**63:
        raise ValueError("expected a 64-bit integer")
    return int(text)


def _boolean(text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("expected true or false")


def choice(values: Iterable[str]) -> Callable[[str], str]:
    allowed = tuple(values)

    def check(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"expected one of: {', '.join(allowed)}")
        return text

    return check


def _limit(text: str) -> int:
    value = _integer(text)
    if not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"must be between 1 and {MAX_LIMIT}")
    return value


def _cursor(text: str) -> str:
    """A keyset cursor as this API returns them: decoded now, so a forged one is a 400 before any query."""
    try:
        when, call_id = decode_cursor(text)
    except PayloadError:
        when, call_id = 2**63, ""
    if not -(2**63) <= when < 2**63 or "\x00" in call_id:
        raise ValueError("not a cursor returned by this API")
    return text


def _text(text: str) -> str:
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    return text


#: parameter name -> (CallQuery field, parser)
FILTERS: Mapping[str, tuple[str, Callable[[str], Any]]] = {
    "since": ("since", parse_time),
    "until": ("until", parse_time),
    "from_user_id": ("from_user_id", _text),
    "to_user_id": ("to_user_id", _text),
    "from_service_id": ("from_service_id", _text),
    "to_service_id": ("to_service_id", _text),
    "type": ("call_type", choice(get_args(CallType))),
    "outcome": ("outcome", choice(o.value for o in Outcome)),
    "ended_by": ("ended_by", choice(e.value for e in EndedBy)),
    "call_end_reason": ("call_end_reason", _integer),
    "terminate": ("terminate", _integer),
    "releaser": ("releaser", _text),
    "normal": ("normal", _boolean),
    "provider": ("provider", _text),
    "provider_call_id": ("provider_call_id", _text),
    "cause": ("cause", _text),
    "fault": ("fault", choice(f.value for f in Fault)),
    "min_duration": ("min_duration", _integer),
    "max_duration": ("max_duration", _integer),
    "flagged": ("flagged", _boolean),
    "route": ("route", _text),
    "destination_country": ("destination_country", _text),
    "destination_prefix": ("destination_prefix", _text),
    "origin_country": ("origin_country", _text),
    "limit": ("limit", _limit),
    "cursor": ("cursor", _cursor),
}


def call_query(params: Iterable[tuple[str, str]], *, allowed_extra: Iterable[str] = ()) -> CallQuery:
    """A ``CallQuery`` from (name, value) pairs; ``allowed_extra`` names parameters the caller handles itself."""
    extra = set(allowed_extra)
    values: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    for name, text in params:
        if name in extra:
            continue
        if name in seen:
            errors.append({"field": name, "error": "given more than once"})
            continue
        seen.add(name)
        if name == "cursor" and not text:
            continue  # an empty cursor is the first page
        spec = FILTERS.get(name)
        if spec is None:
            errors.append({"field": name[:64], "error": f"unknown parameter; known: {', '.join(FILTERS)}"})
            continue
        field, parse = spec
        try:
            values[field] = parse(text)
        except ValueError as exc:
            errors.append({"field": name, "error": str(exc)})
    if errors:
        raise PayloadError("bad call-log filter", errors)
    return CallQuery(**values)
