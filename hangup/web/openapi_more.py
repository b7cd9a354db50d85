"""The OpenAPI operations beyond the call log: statistics, the dashboard's pages and JSON twins, the emitter's
event input, metrics, the documentation itself, sign-in and the other platforms' callbacks.

Kept apart from ``hangup.web.openapi`` (the call log and the Planet callback, described field by field) because
these are described by their parameters and answers only; ``tests/web/test_openapi.py`` checks that the
document lists every route the app serves, and schemathesis calls each of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hangup.stats import explain
from hangup.stats.buckets import LEVELS
from hangup.stats.dimensions import BREAKDOWNS, DIMENSIONS, ROUTE_DIMENSIONS, TOPS
from hangup.stats.metrics import METRIC_IDS
from hangup.stats.route_table import ORDERS, SORTS
from hangup.stats.service import MAX_MIN_SAMPLES, MAX_ROWS
from hangup.stats.windows import CLOSED_FILTERS, DIMENSION_FILTERS, FORMATS, MAX_FILTER_TEXT, SPAN_RE
from hangup.web.openapi_calls import BY_KEY, CALL_PAGE, INT64, TEXT, TIME, field_schema

_STRING = {"type": "string"}
_OBJECT = {"type": "object"}
_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _ok(description: str, media: str = "application/json") -> dict[str, Any]:
    schema = _OBJECT if media == "application/json" else _STRING
    return {"description": description, "content": {media: {"schema": schema}}}


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "query", "schema": TEXT} for name in names]


def _one_of(values: Iterable[str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _between(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


def _typed(schemas: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": name, "in": "query", "schema": schema} for name, schema in schemas.items()]


_SPAN = {"type": "string", "pattern": SPAN_RE.pattern}
#: The time range, filters and answer format every statistics question takes (``hangup.stats.windows.parse_window``):
#: the call log's parsers, their enums the record's, the statistics-only dimensions, and ``windows.FORMATS``.
_WINDOW = _typed({
    "from": TIME, "to": TIME, "since": TIME, "until": TIME, "range": _SPAN,
    **{name: TEXT for name in ("provider", "route", "destination_country", "destination_prefix", "origin_country")},
    **{name: field_schema(BY_KEY[name]) for name in ("outcome", "ended_by", "type")},
    "call_end_reason": INT64, "terminate": INT64,
    **{name: {**TEXT, "maxLength": MAX_FILTER_TEXT} for name in DIMENSION_FILTERS if name not in CLOSED_FILTERS},
    **{name: field_schema(BY_KEY[name]) for name in CLOSED_FILTERS},
    "format": _one_of(FORMATS),  # a page takes it too (its JSON twin's parameters), and answers HTML
})
_MIN_SAMPLES = {"min_samples": _between(0, MAX_MIN_SAMPLES)}
_ROWS = {"limit": _between(1, MAX_ROWS)}
_ROUTES = {**_MIN_SAMPLES, **_ROWS, "by": _one_of(ROUTE_DIMENSIONS), "sort": _one_of(SORTS), "order": _one_of(ORDERS)}
#: An explanation's own parameters (``hangup.stats.explain.question_from``); ``by`` is a comma-separated list.
_CHANGES = {**_MIN_SAMPLES, "limit": _between(1, explain.MAX_LIMIT), "metric": _one_of(explain.EXPLAINABLE),
            "shift": _SPAN, "baseline_from": TIME, "baseline_to": TIME}
_CHANGES_BY = {"name": "by", "in": "query", "style": "form", "explode": False,
               "schema": {"type": "array", "items": _one_of(BREAKDOWNS)}}
_BREAKDOWN = {**_MIN_SAMPLES, **_ROWS, "by": _one_of(DIMENSIONS)}
_BAD = {"400": _error("A bad parameter; every one is named"), "401": _error("API token required"),
        "403": _error("Wrong API token")}
_PAGE_ERRORS = {"303": {"description": "Sign-in needed (HANGUP_API_TOKEN)"},
                "400": {"description": "A bad parameter, shown on an error page",
                        "content": {"text/html": {"schema": _STRING}}}}
_GUARD = {"403": _error("A host, origin or token that is not accepted"),
          "415": _error("Not application/json (without an API token)")}


def _get(summary: str, operation: str, tag: str, parameters: list[dict[str, Any]],
         responses: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": operation, "tags": [tag], "parameters": parameters,
                    "responses": responses}}


def _stats(name: str, summary: str, own: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    return f"/api/stats/{name}", _get(summary, f"stats{name.title()}", "statistics", [*_WINDOW, *own],
                                      {"200": _ok(summary), **_BAD})


def _page(path: str, summary: str, operation: str, parameters: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A dashboard page and its ``.json`` twin, built from the same data."""
    twin = "/overview.json" if path == "/" else f"{path}.json"
    return {path: _get(summary, operation, "dashboard", parameters,
                       {"200": _ok(summary, "text/html"), **_PAGE_ERRORS}),
            twin: _get(f"{summary} (JSON)", f"{operation}Json", "dashboard", parameters,
                       {"200": _ok(summary), **_BAD})}


def _event(name: str, summary: str) -> dict[str, Any]:
    return {"post": {
        "summary": summary, "operationId": f"event{name.title().replace('-', '')}", "tags": ["emitter"],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _OBJECT}}},
        "responses": {"200": _ok("A repeat of a queued event"), "202": _ok("Queued durably"),
                      "400": _error("A bad field, named"), "401": _error("API token required"),
                      "404": _error("The emitter is off (HANGUP_EMIT_URL)"),
                      "413": _error("The body is too large"), **_GUARD}}}


def _callback(name: str, methods: tuple[str, ...]) -> dict[str, Any]:
    responses = {"200": _ok("Stored durably, or not a call-end event"),
                 "400": _error("The request breaks the platform's format (kept in the quarantine)"),
                 "401": _error("Missing credentials or signature"), "403": _error("Wrong credentials"),
                 "405": _error("A method the platform does not use"), "413": _error("The body is too large"),
                 "414": _error("The query string is too long"), "503": _error("Not stored; retry")}
    operation = {"summary": f"{name} call-end callback", "tags": ["callbacks"], "responses": responses}
    by_method = {"get": {**operation, "operationId": f"{name}Callback"},
                 "post": {**operation, "operationId": f"{name}CallbackPost",
                          "requestBody": {"content": {"application/json": {"schema": _OBJECT},
                                                      "application/x-www-form-urlencoded": {"schema": _OBJECT}}}}}
    return {method: by_method[method] for method in (m.lower() for m in methods)}


def more_paths(callback_paths: dict[str, tuple[str, tuple[str, ...]]],
               call_filters: list[dict[str, Any]]) -> dict[str, Any]:
    """Every path of the app but the call log's and Planet's; ``callback_paths`` maps each other platform's
    callback path to its adapter name and HTTP methods, ``call_filters`` are the call log's parameters."""
    changes = [*_typed(_CHANGES), _CHANGES_BY]
    paths: dict[str, Any] = dict((
        _stats("summary", "KPIs of a range", _typed(_MIN_SAMPLES)),
        _stats("timeseries", "One metric over time",
               _typed({**_MIN_SAMPLES, "metric": _one_of(METRIC_IDS), "bucket": _one_of(LEVELS)})),
        _stats("breakdown", "KPIs by one dimension", _typed(_BREAKDOWN)),
        _stats("top", "Top failing values", _typed({**_ROWS, "by": _one_of(TOPS)})),
        _stats("routes", "Routes and destinations: KPIs, failure mix, sparkline, last week", _typed(_ROUTES)),
        _stats("explain", "What moved a KPI against a baseline window", changes),
        ("/api/stats/definitions", _get("Every metric and dimension defined", "statsDefinitions", "statistics",
                                        [], {"200": _ok("Definitions"), **_BAD})),
    ))
    paths.update(_page("/", "Overview", "overview", [*_WINDOW, *_typed({**_MIN_SAMPLES, "bucket": _one_of(LEVELS)})]))
    paths.update(_page("/breakdowns", "Breakdowns", "breakdowns", [*_WINDOW, *_typed(_BREAKDOWN)]))
    paths.update(_page("/routes", "Routes and destinations", "routes", [*_WINDOW, *_typed(_ROUTES)]))
    paths.update(_page("/changes", "What changed", "changes", [*_WINDOW, *changes]))
    paths.update(_page("/timers", "Timer signatures", "timers", _WINDOW))
    paths["/api/insights/timers"] = _get("Durations clustering at a timer's value", "timerInsights", "statistics",
                                         _WINDOW, {"200": _ok("Clusters"), **_BAD})
    paths.update(_page("/calls", "The call log", "calls", call_filters))
    codes = _query("q", "scheme")
    paths["/codes"] = _get("Every release code", "codes", "dashboard", codes, {"200": _ok("Codes", "text/html")})
    paths["/codes.json"] = _get("Every release code (JSON)", "codesJson", "dashboard", codes,
                                {"200": _ok("Codes"), **_BAD})
    call_id = [{"name": "id", "in": "path", "required": True, "schema": _STRING}]
    paths["/calls/{id}"] = _get("One call explained", "callPage", "dashboard", call_id, {
        "200": _ok("The call", "text/html"), "404": {"description": "No such call (an error page, or the JSON "
                                                                    "error of an id no route takes)",
                                                     "content": {"text/html": {"schema": _STRING},
                                                                 "application/json": {"schema": _ERROR}}},
        "303": {"description": "Sign-in needed"}})
    paths["/calls/{id}.json"] = _get("One call explained (JSON)", "callPageJson", "dashboard", call_id, {
        "200": {"description": "The call", "content": {"application/json": {"schema": CALL_PAGE}}},
        "404": _error("No such call"), **_BAD})
    paths["/api/events/call-ended"] = _event("call-ended", "A call ended: queue its call-event callback")
    paths["/api/events/call-started"] = _event("call-started", "A call started (closed as orphaned if it never ends)")
    text = "text/plain"
    paths["/metrics"] = _get("Prometheus metrics", "metrics", "health", [], {"200": _ok("Exposition", text)})
    paths["/metrics/emitter"] = _get("The emitter's metrics alone", "emitterMetrics", "health", [],
                                     {"200": _ok("Exposition", text)})
    paths["/openapi.json"] = _get("This document", "openapi", "docs", [], {"200": _ok("OpenAPI 3.1")})
    paths["/docs"] = _get("This document as a page", "docs", "docs", [], {"200": _ok("Docs", "text/html")})
    paths["/login"] = {**_get("The sign-in form", "loginForm", "dashboard", _query("next"),
                              {"200": _ok("Form", "text/html")}),
                       "post": {"summary": "Sign in with the API token (sets a cookie)", "operationId": "login",
                                "tags": ["dashboard"], "requestBody": {"content": {
                                    "application/x-www-form-urlencoded": {"schema": _OBJECT}}},
                                "responses": {"303": {"description": "Signed in; to the page asked for"},
                                              **_GUARD}}}
    for path, (name, methods) in callback_paths.items():
        paths[path] = _callback(name, methods)
    return paths
