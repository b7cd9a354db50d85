"""Time ranges and call-log filters of a statistics question, parsed the same way for API, dashboard and CLI.

A range is ``from``/``to`` (Unix seconds or ISO 8601; ``to`` defaults to now) or ``range`` (``15m``,
``24h``, ``7d``: the span ending at ``to``). Filters are the call log's (``hangup.store.CallQuery``
fields) plus the statistics-only dimensions ``service``, ``cause``, ``fault`` and ``direction``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from hangup.errors import PayloadError
from hangup.store.base import CallQuery

DEFAULT_SPAN = 86400
MAX_SPAN = 400 * 86400
_SPAN_RE = re.compile(r"^(\d{1,6})([smhdw])$")
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
}
#: Filters that only statistics know (rollup dimensions without a call-log column).
DIMENSION_FILTERS = ("service", "cause", "fault", "direction")
#: Filters the rollups keep: a question with at most one of these is answered from rollups.
ROLLUP_FILTERS = frozenset(
    ("provider", "outcome", "ended_by", "call_type", "call_end_reason", "terminate", *DIMENSION_FILTERS)
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
    kind = QUERY_FILTERS.get(name, "str")
    if kind == "int" and not text.lstrip("-").isdigit():
        raise _bad(name, "must be an integer")
    if kind == "int" and abs(int(text)) > 2**62:
        raise _bad(name, "out of range")
    if kind == "bool" and text.lower() not in ("0", "1", "true", "false", "yes", "no"):
        raise _bad(name, "must be true or false")
    if kind == "str" and len(text) > 256:
        raise _bad(name, "longer than 256 characters")
    return text


def parse_time(name: str, text: str) -> int:
    """Unix seconds, or an ISO 8601 date/time (UTC when no offset is given)."""
    text = text.strip()
    if text.isdigit() and len(text) <= 12:
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(name, "must be Unix seconds or an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def parse_span(text: str) -> int:
    match = _SPAN_RE.match(text.strip())
    if not match:
        raise _bad("range", "must look like 15m, 24h, 7d or 4w")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_window(params: Mapping[str, str], now: float | None = None) -> Window:
    """A ``Window`` from request parameters; unknown filters are ignored, bad values are a ``PayloadError``."""
    end = parse_time("to", params["to"]) if params.get("to") else int(now if now is not None else time.time())
    if params.get("from"):
        start = parse_time("from", params["from"])
    else:
        start = end - (parse_span(params["range"]) if params.get("range") else DEFAULT_SPAN)
    if start >= end:
        raise _bad("from", "must be before 'to'")
    if end - start > MAX_SPAN:
        raise _bad("range", f"longer than {MAX_SPAN // 86400} days")
    filters = {
        name: _check(name, params[name])
        for name in (*QUERY_FILTERS, *DIMENSION_FILTERS)
        if params.get(name) not in (None, "")
    }
    return Window(start, end, filters)
