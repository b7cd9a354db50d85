"""hangup's own exported call log (``hangup export --format jsonl|csv``) read back into records.

The record is rebuilt exactly as exported (provider, classification and flags included), so an
export imported into another store is the same call log. CSV cells the exporter guarded against
spreadsheet formulas (a leading ``'``) are unguarded here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, cast, get_args

from hangup.errors import InvalidPayload
from hangup.records import CallRecord, CallType, Direction
from hangup.store.export import split_list

_DIRECTIONS = frozenset(get_args(Direction))
_CALL_TYPES = frozenset(get_args(CallType))
_GUARDED = ("'=", "'+", "'-", "'@", "'\t", "'\r")

#: Field → (converter, required). Converters take the exported value (JSON value or CSV text).
_INT = "int"
_OPT_INT = "opt_int"
_STR = "str"
_OPT_STR = "opt_str"
_BOOL = "bool"
_LIST = "list"
_FLOAT = "float"
FIELDS: Mapping[str, tuple[str, bool]] = {
    "id": (_STR, True), "provider": (_STR, True), "provider_call_id": (_STR, True),
    "from_service_id": (_STR, False), "from_user_id": (_STR, False), "to_service_id": (_STR, False),
    "to_user_id": (_STR, False), "setup_time": (_INT, False), "start_time": (_INT, False),
    "end_time": (_INT, False), "duration": (_INT, False), "answered": (_BOOL, False), "stid": (_OPT_STR, False),
    "srcip": (_STR, False), "dstip": (_STR, False), "call_end_reason": (_OPT_INT, False),
    "terminate": (_OPT_INT, False), "releaser": (_STR, False), "rel_code": (_OPT_INT, False),
    "rel_code_str": (_STR, False), "user_rel_code": (_OPT_STR, False), "cause": (_STR, False),
    "causes": (_LIST, False), "outcome": (_STR, False), "ended_by": (_STR, False), "fault": (_STR, False),
    "normal": (_BOOL, False), "reason": (_STR, False), "q850": (_OPT_INT, False), "sip": (_OPT_INT, False),
    "flags": (_LIST, False), "raw": (_STR, False), "received_at": (_FLOAT, False),
}


def _unguard(value: Any) -> Any:
    return value[1:] if isinstance(value, str) and value.startswith(_GUARDED) else value


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    return int(value) if not isinstance(value, str) else int(value.strip() or 0)


def _to_opt_int(value: Any) -> int | None:
    return None if value is None or value == "" else _to_int(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    raise ValueError("expected true or false")


def _to_list(value: Any) -> tuple[str, ...]:
    """A JSON list, or a CSV export cell (``|``-joined; older exports joined with spaces)."""
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return split_list(str(value or ""))


CONVERTERS: Mapping[str, Callable[[Any], Any]] = {
    _INT: _to_int,
    _OPT_INT: _to_opt_int,
    _STR: lambda v: "" if v is None else str(v),
    _OPT_STR: lambda v: None if v is None or v == "" else str(v),
    _BOOL: _to_bool,
    _LIST: _to_list,
    _FLOAT: lambda v: float(v or 0),
}


def record_from_export(data: Mapping[str, Any]) -> CallRecord:
    """The record of one exported row (a ``to_json()`` object, or a CSV row of ``CSV_COLUMNS``)."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for name, (kind, required) in FIELDS.items():
        raw = _unguard(data.get(name))
        if required and not raw:
            errors.append({"field": name, "error": "required"})
            continue
        try:
            values[name] = CONVERTERS[kind](raw)
        except (TypeError, ValueError) as exc:
            errors.append({"field": name, "error": str(exc)[:80]})
    call_type = _unguard(data.get("type")) or "A"
    direction = _unguard(data.get("direction")) or "unknown"
    if call_type not in _CALL_TYPES:
        errors.append({"field": "type", "error": "expected A or V"})
    if direction not in _DIRECTIONS:
        errors.append({"field": "direction", "error": "expected inbound, outbound or unknown"})
    extra = _extra(data.get("extra"), errors)
    if errors:
        raise InvalidPayload("not an exported hangup call record", details=errors)
    return CallRecord(call_type=cast(CallType, call_type), direction=cast(Direction, direction), extra=extra,
                      **values)


def _extra(value: Any, errors: list[dict[str, Any]]) -> dict[str, str]:
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except ValueError:
            errors.append({"field": "extra", "error": "not JSON"})
            return {}
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append({"field": "extra", "error": "expected an object"})
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}
