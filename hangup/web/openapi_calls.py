"""The JSON schemas of a call as the API shows it: listed, explained (``/api/calls/{id}``, the call's page as
data), its status, its legs.

A call's keys and their types come from the record's one field list (``hangup.records.FIELDS``): a field's kind
gives the type, its nullability whether ``null`` is allowed, its ``choices`` (a ``Literal`` such as
``AnsweredBy``, or the taxonomy's ``StrEnum`` marked ``Choices``) the enum. The explanation's other parts
(the codes, the action, conflicts, the timer) are described here, each under the name of the function that
writes it, their enums taken from the same ``StrEnum``s and ``Literal``s; ``tests/web/test_openapi.py``
validates real answers of every platform against them and fails on a key they do not describe.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, get_args

from hangup import bounds
from hangup.causes.actions import MATCH_KEYS, ActionFrom
from hangup.causes.model import Action
from hangup.ingest import STATUS_FIELDS
from hangup.legs import LEG_EXTRA, LEG_FIELDS
from hangup.record_fields import RecordField
from hangup.records import FIELDS
from hangup.stats.timers import GROUP_FIELDS
from hangup.taxonomy import EndedBy, Fault, Outcome

_STRING = {"type": "string"}
_NULL_STRING = {"type": ["string", "null"]}
_NULL_INT = {"type": ["integer", "null"]}
_NUMBER = {"type": "number"}
_BOOLEAN = {"type": "boolean"}
_STRINGS = {"type": "array", "items": _STRING}
_STRING_MAP = {"type": "object", "additionalProperties": _STRING}
TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}  # any text without NUL
# hangup.bounds: times from 1970 to 2099 (the ISO form's years kept clear of either edge and its offsets)
TIME = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": bounds.MAX_TIME},
                  {"type": "string", "format": "date-time", "pattern": "^(19[89][0-9]|20[0-8][0-9])-"}]}
INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}

#: JSON Schema types of the record's scalar kinds.
_KIND_TYPES = {"text": "string", "integer": "integer", "real": "number", "boolean": "boolean"}
#: The record's fields by their JSON key (``type`` is the field ``call_type``).
BY_KEY: dict[str, RecordField] = {f.json_key: f for f in FIELDS if f.json_key is not None}
_BY_NAME = {f.name: f for f in FIELDS}


def field_schema(f: RecordField) -> dict[str, Any]:
    """The schema of a field's value in ``CallRecord.to_json()``: ``null`` allowed where the field is optional,
    the field's choices as its enum."""
    if f.kind == "list":
        return _STRINGS
    if f.kind == "map":
        return _STRING_MAP
    kind = _KIND_TYPES[f.kind]
    schema: dict[str, Any] = {"type": [kind, "null"] if f.nullable else kind}
    if f.choices:
        schema["enum"] = [*f.choices, None] if f.nullable else list(f.choices)
    return schema


def one_of(values: type[StrEnum]) -> dict[str, Any]:
    """A string that is one of the members of ``values``."""
    return {"type": "string", "enum": [str(v) for v in values]}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object carrying every key of ``properties`` but the ``optional`` ones."""
    return {"type": "object", "required": [k for k in properties if k not in optional], "properties": properties}


#: A call as ``CallRecord.to_json()`` writes it. It writes every key of every call: a value the platform did not
#: report is the field's default ("", 0, an empty list) or, where the field is nullable, ``null``; so every key
#: is required, and the nullable ones allow ``null``.
CALL: dict[str, Any] = _object({key: field_schema(f) for key, f in BY_KEY.items()})
#: A call of the listing and of the explanation: the record and its next ``action`` (``call_action``).
LISTED_CALL: dict[str, Any] = _object({**CALL["properties"], "action": one_of(Action)})

_ACTION_FROM = {"type": "string", "enum": list(get_args(ActionFrom))}
#: ``hangup.ingest.status``: the record fields it shows under its own keys, and the action.
_STATUS: dict[str, Any] = _object({
    **{key: field_schema(_BY_NAME[name]) for key, name in STATUS_FIELDS.items()},
    "action": one_of(Action), "action_from": _ACTION_FROM})
#: ``GET /api/calls/{id}/status``.
STATUS: dict[str, Any] = _object({"ok": {"const": True}, **_STATUS["properties"]})

#: ``hangup.causes.actions.call_action``: the action, where it comes from and the override rule that set it.
_ACTION = _object({
    "action": one_of(Action), "from": _ACTION_FROM, "cause": _STRING,
    "source": _STRING,
    "override": {"anyOf": [{"type": "null"}, _object(
        {"rule": {"type": "integer"}, "cause": _STRING, **dict.fromkeys(MATCH_KEYS, _STRING),
         "action": one_of(Action), "reason": _STRING}, optional=MATCH_KEYS)]}})

#: ``hangup.causes.model.Cause.to_json``: one code the call carried, explained by the catalog.
_CODE = _object({
    "scheme": _STRING, "code": _NULL_INT, "name": _STRING, "ref": _STRING, "description": _STRING,
    "outcome": one_of(Outcome), "ended_by": one_of(EndedBy), "fault": one_of(Fault), "normal": _BOOLEAN,
    "q850": _NULL_INT, "sip": _NULL_INT, "next_steps": _STRING, "action": one_of(Action), "action_source": _STRING,
    "group": _STRING, "aliases": _STRINGS, "source": _STRING, "known": _BOOLEAN, "extra": _STRING_MAP})

#: ``hangup.store.base.Conflict``: a repeated delivery that differed, each fact as [stored, received].
CONFLICT = _object({
    "id": {"type": "integer"}, "call_id": _STRING, "received_at": _NUMBER, "raw": _STRING,
    "differences": {"type": "object", "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2}}})

#: ``hangup.legs.leg_json``: one leg's facts, its platform's native values and its request.
_LEG = _object({
    **{name: field_schema(_BY_NAME[name]) for name in LEG_FIELDS},
    "extra": {"type": "object", "properties": dict.fromkeys(LEG_EXTRA, _STRING), "additionalProperties": False},
    "raw": _STRING})

#: ``hangup.stats.timers.annotation``: the cluster of durations at a timer's value the call falls in, if any.
_TIMER = {"anyOf": [{"type": "null"}, _object({
    **dict.fromkeys(GROUP_FIELDS, _STRING), "seconds": {"type": "integer"}, "calls": {"type": "integer"},
    "expected": _NUMBER, "share": {"type": ["number", "null"]}, "p_value": _NUMBER, "timer": _NULL_STRING,
    "source": _NULL_STRING, "link": _STRING})]}

#: ``hangup.ingest.explain``: the call, its status and action, its flags and codes explained, its request.
_EXPLAINED: dict[str, Any] = {
    "call": LISTED_CALL, "status": _STATUS, "action": _ACTION,
    "flags": {"type": "array", "items": _object({"flag": _STRING, "meaning": _STRING})},
    "codes": {"type": "array", "items": _CODE}, "raw": _STRING}
_LEGS = {"type": "array", "items": _LEG}

#: ``GET /api/calls/{id}``: the explanation with the call's timer cluster, conflicts and legs.
DETAIL: dict[str, Any] = _object({"ok": {"const": True}, **_EXPLAINED, "timer": _TIMER,
                                  "conflicts": {"type": "array", "items": CONFLICT}, "legs": _LEGS})
#: ``GET /calls/{id}.json`` (``hangup.web.dashboard_calls.call_data``): the call's page as data, the explanation
#: with its timeline, legs and timer cluster.
CALL_PAGE: dict[str, Any] = _object({
    "ok": {"const": True}, "title": _STRING, **_EXPLAINED, "legs": _LEGS, "timer": _TIMER,
    "timeline": {"type": "array", "items": _object({
        "step": _STRING, "label": _STRING, "at": {"type": ["number", "null"]}, "note": _STRING})}})


#: The call log's filters (``hangup.store.params.FILTERS``), its enums the record's.
CALL_FILTERS: list[dict[str, Any]] = [
    {"name": "since", "in": "query", "description": "ended_at >= since (Unix seconds or ISO 8601)",
     "schema": TIME},
    {"name": "until", "in": "query", "description": "ended_at < until (Unix seconds or ISO 8601)",
     "schema": TIME},
    *({"name": n, "in": "query", "schema": TEXT} for n in (
        "from_user_id", "to_user_id", "from_service_id", "to_service_id", "releaser", "provider",
        "provider_call_id", "cause")),
    *({"name": n, "in": "query", "schema": field_schema(BY_KEY[n])} for n in ("fault", "type", "outcome",
                                                                                "ended_by")),
    {"name": "call_end_reason", "in": "query", "schema": INT64},
    {"name": "min_duration", "in": "query", "schema": INT64},
    {"name": "max_duration", "in": "query", "schema": INT64},
    {"name": "terminate", "in": "query", "schema": INT64},
    {"name": "normal", "in": "query", "schema": {"type": "boolean"}},
    {"name": "flagged", "in": "query", "schema": {"type": "boolean"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
    {"name": "cursor", "in": "query", "description": "next_cursor of the previous page", "schema": _STRING},
]
