"""Time ranges and call-log filters of a statistics question, parsed the same way for API, dashboard and CLI.

A range is ``from``/``to`` (Unix seconds or ISO 8601; ``to`` defaults to now) or ``range`` (``15m``,
``24h``, ``7d``: the span ending at ``to``). Filters are the call log's (``hangup.store.CallQuery``
fields) plus the statistics-only dimensions ``service``, ``cause``, ``fault`` and ``direction``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import get_args
from urllib.parse import urlencode

from hangup.errors import PayloadError
from hangup.records import Direction
from hangup.store import params
from hangup.store.base import CallQuery
from hangup.store.params import call_query

DEFAULT_SPAN = 86400
MAX_SPAN = 400 * 86400
#: A span: ``range`` and an explanation's ``shift``.
SPAN_RE = re.compile(r"^([0-9]{1,6})([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

#: Filters that are fields of ``CallQuery`` and how their text is read.
QUERY_FILTERS: dict[str, str] = {
    "provider": "str",
    "outcome": "str",
    "ended_by": "str",
    "call_type": "str",
    "call_end_reason": "int",
    "terminate": "int",
    "from_user_id": "str",
    "to_user_id": "str",
    "from_service_id": "str",
    "to_service_id": "str",
    "releaser": "str",
    "normal": "bool",
    "flagged": "bool",
    "route": "str",
    "destination_country": "str",
    "destination_prefix": "str",
    "origin_country": "str",
}
#: Parameters every statistics question may carry besides the range and filters.
COMMON_PARAMS = ("min_samples", "limit", "format")
#: What ``format`` may ask of a statistics question: its answer is JSON only (the call log's CSV and JSON Lines
#: are ``hangup.web.api.FORMATS``), so another value is refused rather than answered with JSON unannounced.
FORMATS = ("json",)
#: Call-log parameter names that differ from the ``CallQuery`` field.
PARAM_OF = {"call_type": "type"}
#: Filters that only statistics know (rollup dimensions without a call-log column).
DIMENSION_FILTERS = ("service", "cause", "fault", "direction")
#: The longest value of a statistics-only filter.
MAX_FILTER_TEXT = 256
#: The statistics-only filters that take one of a closed set, refused otherwise as the call log refuses its own
#: (a typo would match no call and look like a drop): ``fault`` by the call log's parser, ``direction`` the
#: record's ``Direction``.
CLOSED_FILTERS: Mapping[str, Callable[[str], str]] = {
    "fault": params.FILTERS["fault"][1],
    "direction": params.choice(get_args(Direction)),
}
#: Filters the rollups keep: a question with at most one of these is answered from rollups.
ROLLUP_FILTERS = frozenset(
    ("provider", "outcome", "ended_by", "call_type", "call_end_reason", "terminate", *DIMENSION_FILTERS,
     "route", "destination_country", "destination_prefix", "origin_country")
)


@dataclass(frozen=True, slots=True)
class Window:
    """A statistics question's range ``[start, end)`` in Unix seconds and its filters (text values)."""

    start: int
    end: int
    filters: dict[str, str] = field(default_factory=dict)

    def call_query(self) -> CallQuery:
        """The call-log query of this window's range and its call-log filters."""
        values: dict[str, object] = {"since": self.start, "until": self.end}
        for name, text in self.filters.items():
            if name in QUERY_FILTERS:
                values[name] = _cast(name, text)
        return replace(CallQuery(), **values)  # type: ignore[arg-type]

    def extra_filters(self) -> dict[str, str]:
        """Filters ``call_query`` cannot express."""
        return {k: v for k, v in self.filters.items() if k in DIMENSION_FILTERS}

    def rollup_key(self) -> tuple[str, str] | None:
        """``(dim, value)`` when rollups can answer (no filter, or one they keep), else ``None``."""
        if not self.filters:
            return ("", "")
        if len(self.filters) == 1:
            ((name, text),) = self.filters.items()
            if name in ROLLUP_FILTERS:
                return (name, text)
        return None

    def to_json(self) -> dict[str, object]:
        return {"from": self.start, "to": self.end, "filters": dict(self.filters)}


def _bad(name: str, error: str) -> PayloadError:
    return PayloadError(f"bad {name}: {error}", [{"field": name, "error": error}])


def _cast(name: str, text: str) -> object:
    kind = QUERY_FILTERS[name]
    if kind == "int":
        return int(text)
    if kind == "bool":
        return text.lower() in ("1", "true", "yes")
    return text


def _check(name: str, text: str) -> str:
    if len(text) > MAX_FILTER_TEXT or "\x00" in text:
        raise _bad(name, f"longer than {MAX_FILTER_TEXT} characters or contains NUL")
    parse = CLOSED_FILTERS.get(name)
    if parse is not None:
        try:
            parse(text)
        except ValueError as exc:
            raise _bad(name, str(exc)) from None
    return text


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_time(name: str, text: str) -> int:
    """Unix seconds, or an ISO 8601 date/time (UTC when no offset is given)."""
    try:
        value = params.parse_time(text.strip())
    except (ValueError, OverflowError) as exc:
        raise _bad(name, str(exc)) from None
    if not 0 <= value < 2**40:
        raise _bad(name, "out of range")
    return value


def parse_span(text: str) -> int:
    match = SPAN_RE.match(text.strip())
    if not match:
        raise _bad("range", "must look like 15m, 24h, 7d or 4w")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_window(
    params: Mapping[str, str] | Iterable[tuple[str, str]], now: float | None = None, allowed: Iterable[str] = ()
) -> Window:
    """A ``Window`` from request parameters.

    The time range is ``since``/``until`` (the call log's names) or ``from``/``to``, or ``range``
    ending at the end; filters use the call log's names and parser (``hangup.store.params``), so an
    unknown parameter or a bad value is a ``PayloadError`` naming the field. ``allowed`` names the
    other parameters the caller reads itself (``metric``, ``bucket`` …).
    """
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    given = dict(items)
    end_text = given.get("until") or given.get("to")
    start_text = given.get("since") or given.get("from")
    end = parse_time("to", end_text) if end_text else int(now if now is not None else time.time())
    start = parse_time("from", start_text) if start_text else end - (
        parse_span(given["range"]) if given.get("range") else DEFAULT_SPAN
    )
    if start >= end:
        raise _bad("from", "must be before 'to'")
    if end - start > MAX_SPAN:
        raise _bad("range", f"longer than {MAX_SPAN // 86400} days")
    if any(k == "format" and v not in FORMATS for k, v in items):
        raise _bad("format", f"expected one of: {', '.join(FORMATS)}")
    skip = {"since", "until", "from", "to", "range", *DIMENSION_FILTERS, *COMMON_PARAMS, *allowed}
    query = call_query([(k, v) for k, v in items if k not in skip])
    filters = {
        name: _as_text(getattr(query, name)) for name in QUERY_FILTERS if getattr(query, name) is not None
    }
    filters.update({name: _check(name, given[name]) for name in DIMENSION_FILTERS if given.get(name)})
    return Window(start, end, filters)


#: Statistics-only filters the call log also takes (``CallQuery.cause``, ``CallQuery.fault``).
CALL_LOG_DIMENSIONS = frozenset({"cause", "fault"})


def call_log_params(window: Window) -> dict[str, str]:
    """The call log's query parameters selecting the calls of ``window`` (for links to them)."""
    out = {"since": str(window.start), "until": str(window.end)}
    for name, value in window.filters.items():
        if name in QUERY_FILTERS or name in CALL_LOG_DIMENSIONS:
            out[PARAM_OF.get(name, name)] = value
    return out


def calls_link(window: Window, dim: str, value: str) -> str:
    """The call-log URL of the calls of ``window`` whose ``dim`` is ``value``; "" where the log cannot filter."""
    if dim not in QUERY_FILTERS and dim not in CALL_LOG_DIMENSIONS:
        return ""
    if value == "":
        return ""  # "(none)": the call log reads an empty filter as no filter
    target = Window(window.start, window.end, {**window.filters, dim: value})
    return "/calls?" + urlencode(call_log_params(target))
