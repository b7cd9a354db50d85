"""The OpenAPI 3.1 description of hangup's HTTP interface, maintained by hand next to the handlers.

``tests/web/test_openapi.py`` runs schemathesis against the served document, so a handler that drifts
from it fails the tests.
"""

from __future__ import annotations

from typing import Any, get_args

from hangup import __version__, bounds
from hangup.providers.planet import KEYS, NULLABLE
from hangup.providers.registry import providers
from hangup.records import CallType
from hangup.settings import Settings
from hangup.web.api import FORMATS
from hangup.web.callbacks import callback_paths
from hangup.web.openapi_calls import CALL_FILTERS, CONFLICT, DETAIL, LISTED_CALL, STATUS, TEXT
from hangup.web.openapi_more import more_paths

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_STRING = {"type": "string"}
_INT = {"type": "integer"}
_PLANET_TIME = {"type": "integer", "minimum": 0, "maximum": bounds.MAX_TIME}
_NULL_STRING = {"type": ["string", "null"]}

_PLANET_TYPES: dict[str, dict[str, Any]] = {
    "sid": {"type": "string", "minLength": 36, "maxLength": 36, "pattern": "^[!-~]{36}$",
            "example": "6364e8b3-bdac-436e-9631-0bce2498ce0c"},
    "type": {"type": "string", "enum": list(get_args(CallType))},
    "setup_time": _PLANET_TIME,
    "start_time": _PLANET_TIME,
    "end_time": _PLANET_TIME,
    "duration": {"type": "integer", "minimum": 0, "maximum": bounds.MAX_DURATION},
    "call_end_reason": {"type": "integer", "minimum": bounds.CALL_END_REASON.low,
                        "maximum": bounds.CALL_END_REASON.high, "example": 1004},
    "terminate": {"type": "integer", "minimum": bounds.TERMINATE.low, "maximum": bounds.TERMINATE.high,
                  "example": 16},
    "rel_code": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
    "srcip": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}], "example": "1.2.3.4"},
    "dstip": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}], "example": "1.2.3.5"},
}



def _planet_parameters() -> list[dict[str, Any]]:
    return [
        {"name": key, "in": "query", "required": key not in NULLABLE,
         "schema": _PLANET_TYPES.get(key, {**TEXT, "minLength": 0 if key in NULLABLE else 1})}
        for key in KEYS
    ]


_ACCEPTED = _json("Stored durably (or a repeat of a stored call)", {
    "type": "object", "required": ["ok"],
    "properties": {"ok": {"const": True}, "stored": {"type": "boolean"}, "id": _STRING,
                   "status": {"enum": ["inserted", "duplicate", "conflict", "leg"]},
                   "flags": {"type": "array", "items": _STRING}},
})
_CALLBACK_ERRORS = {
    "400": _error("The request breaks the specification; every bad field is named (kept in the quarantine)"),
    "403": _error("The source address is not allowed"),
    "413": _error("The body is too large"),
    "414": _error("The query string is too long"),
    "503": _error("The store could not commit; the platform should retry"),
}
_API_ERRORS = {"400": _error("A bad filter; every bad parameter is named"), "401": _error("API token required"),
               "403": _error("Wrong API token")}


def _planet_operations() -> dict[str, Any]:
    get = {"summary": "LINE Planet on_call_evt_cb (call event callback)", "operationId": "planetCallback",
           "tags": ["callbacks"], "parameters": _planet_parameters(), "responses": {"200": _ACCEPTED,
                                                                                   **_CALLBACK_ERRORS}}
    form = {"type": "object", "required": [k for k in KEYS if k not in NULLABLE],
            "properties": {k: _PLANET_TYPES.get(k, {**TEXT, "minLength": 0 if k in NULLABLE else 1})
                           for k in KEYS},
            "additionalProperties": TEXT, "propertyNames": TEXT}  # a key with NUL is refused too
    post = {"summary": "The same event, form-encoded", "operationId": "planetCallbackForm", "tags": ["callbacks"],
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}},
            "responses": {"200": _ACCEPTED, **_CALLBACK_ERRORS}}
    return {"get": get, "post": post}


_LIST_OK = _json("One page, newest first", {
    "type": "object", "required": ["ok", "calls", "next_cursor"],
    "properties": {"ok": {"const": True}, "calls": {"type": "array", "items": LISTED_CALL},
                   "next_cursor": _NULL_STRING}})

#: Paths that do not depend on settings.
_STATIC_PATHS: dict[str, Any] = {
    "/healthz": {"get": {"summary": "The process answers", "operationId": "healthz", "tags": ["health"],
                         "responses": {"200": _json("Up", {"type": "object"})}}},
    "/readyz": {"get": {"summary": "The store can commit a write", "operationId": "readyz",
                        "tags": ["health"], "responses": {"200": _json("Ready", {"type": "object"}),
                                                          "503": _error("Not ready")}}},
    "/api/calls": {"get": {
        "summary": "The call log, filtered, newest first", "operationId": "listCalls", "tags": ["calls"],
        "security": [{"bearer": []}, {}],
        "parameters": [*CALL_FILTERS, {"name": "format", "in": "query",
                                        "schema": {"type": "string", "enum": list(FORMATS)}}],
        "responses": {"200": {**_LIST_OK, "content": {
            **_LIST_OK["content"], "text/csv": {"schema": _STRING},
            "application/x-ndjson": {"schema": _STRING}}}, **_API_ERRORS}}},
    "/api/calls.csv": {"get": {
        "summary": "The filtered call log as CSV (formula-safe)", "operationId": "exportCsv",
        "tags": ["calls"], "parameters": CALL_FILTERS, "security": [{"bearer": []}, {}],
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": _STRING}}},
                      **_API_ERRORS}}},
    "/api/calls.jsonl": {"get": {
        "summary": "The filtered call log as JSON Lines", "operationId": "exportJsonl", "tags": ["calls"],
        "parameters": CALL_FILTERS, "security": [{"bearer": []}, {}],
        "responses": {"200": {"description": "JSON Lines", "content": {
            "application/x-ndjson": {"schema": _STRING}}}, **_API_ERRORS}}},
    "/api/calls/{id}": {"get": {
        "summary": "One call: classification, flags, every code explained, raw request, conflicts, legs",
        "operationId": "getCall", "tags": ["calls"], "security": [{"bearer": []}, {}],
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": _STRING,
                        "description": "hangup id or the platform's call id"}],
        "responses": {"200": _json("The call explained", DETAIL), "404": _error("No such call"),
                      **_API_ERRORS}}},
    "/api/calls/{id}/status": {"get": {
        "summary": "Did the call end normally, and why did it end?", "operationId": "getCallStatus",
        "tags": ["calls"], "security": [{"bearer": []}, {}],
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": _STRING}],
        "responses": {"200": _json("Status", STATUS), "404": _error("No such call"),
                      **_API_ERRORS}}},
    "/api/conflicts": {"get": {
        "summary": "Repeated deliveries whose content differed from the stored call",
        "operationId": "listConflicts", "tags": ["calls"], "security": [{"bearer": []}, {}],
        "parameters": [{"name": "call_id", "in": "query", "schema": _STRING},
                       {"name": "limit", "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
        "responses": {"200": _json("Conflicts, newest first", {
            "type": "object", "required": ["ok", "conflicts"],
            "properties": {"ok": {"const": True}, "conflicts": {"type": "array", "items": CONFLICT}}}),
            **_API_ERRORS}}},
    "/api/quarantine": {"get": {
        "summary": "Rejected requests, kept whole for replay", "operationId": "listQuarantine",
        "tags": ["calls"], "security": [{"bearer": []}, {}],
        "parameters": [{"name": "limit", "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                       {"name": "before", "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2**62}}],
        "responses": {"200": _json("Entries, newest first", {"type": "object"}), **_API_ERRORS}}},
}


def spec(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for an app built with ``settings`` (the Planet path is configurable)."""
    # Behind a secret path segment the callback is left out: the document must not reveal the secret.
    callbacks = {} if settings.callback_secret else {settings.planet_path: _planet_operations()}
    adapters = providers()
    others = {} if settings.callback_secret else {
        path: (name, adapters[name].methods) for path, name in callback_paths(settings, list(adapters)).items()
        if name != "planet"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "hangup", "version": __version__,
                 "description": "Why did this call end? Call-end callbacks in, an explained call log out."},
        "components": {
            "schemas": {"Error": {
                "type": "object", "required": ["ok", "error", "error_id", "status", "details"],
                "properties": {"ok": {"const": False}, "error": _STRING, "error_id": _STRING, "status": _INT,
                               "details": {"type": "array", "items": {"type": "object"}}}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {**callbacks, **_STATIC_PATHS, **more_paths(others, CALL_FILTERS)},
    }
