"""hangup's own exported call log (``hangup export --format jsonl|csv``) read back into records.

The record is rebuilt exactly as exported (provider, classification and flags included), so an
export imported into another store is the same call log. CSV cells the exporter guarded against
spreadsheet formulas (a leading ``'``) are unguarded here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from hangup.errors import InvalidPayload
from hangup.record_fields import RecordField
from hangup.records import FIELDS, CallRecord
from hangup.store.export import split_list

_GUARDED = ("'=", "'+", "'-", "'@", "'\t", "'\r")
#: Fields an exported row must not leave empty (the others are converted as they come).
_REQUIRED = frozenset({"id", "provider", "provider_call_id"})


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


#: Converters of the exported value (JSON value or CSV text) of a field of each kind, by ``(kind, nullable)``.
CONVERTERS: Mapping[tuple[str, bool], Callable[[Any], Any]] = {
    ("text", False): lambda v: "" if v is None else str(v),
    ("text", True): lambda v: None if v is None or v == "" else str(v),
    ("integer", False): _to_int,
    ("integer", True): _to_opt_int,
    ("boolean", False): _to_bool,
    ("list", False): _to_list,
    ("real", False): lambda v: float(v or 0),
}
#: The converter of each field read by one (a kind without one fails here, when the module is imported).
_CONVERT = {f.name: CONVERTERS[f.kind, f.nullable] for f in FIELDS if f.kind != "map" and not f.choices}


def _expected(choices: tuple[str, ...]) -> str:
    return f"expected {', '.join(choices[:-1])} or {choices[-1]}"


def _choice(f: RecordField, key: str, value: Any, errors: list[dict[str, Any]]) -> Any:
    """The value of a field with choices; missing, its default (the first choice when it has none)."""
    if not value:
        return f.choices[0] if f.required else f.default
    if value not in f.choices:
        errors.append({"field": key, "error": _expected(f.choices)})
    return value


def record_from_export(data: Mapping[str, Any]) -> CallRecord:
    """The record of one exported row (a ``to_json()`` object with ``raw``, or a CSV row of ``CSV_COLUMNS``)."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for f in FIELDS:
        key = f.json_key or f.name  # exports add the fields to_json leaves out under their own names
        if f.kind == "map":
            values[f.name] = _map(data.get(key), key, errors)
            continue
        raw = _unguard(data.get(key))
        if f.name in _REQUIRED and not raw:
            errors.append({"field": key, "error": "required"})
        elif f.choices:
            values[f.name] = _choice(f, key, raw, errors)
        else:
            try:
                values[f.name] = _CONVERT[f.name](raw)
            except (TypeError, ValueError) as exc:
                errors.append({"field": key, "error": str(exc)[:80]})
    if errors:
        raise InvalidPayload("not an exported hangup call record", details=errors)
    return CallRecord(**values)


def _map(value: Any, key: str, errors: list[dict[str, Any]]) -> dict[str, str]:
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except ValueError:
            errors.append({"field": key, "error": "not JSON"})
            return {}
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append({"field": key, "error": "expected an object"})
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}
