"""The call-log JSON API: list, export, one call explained, one call's status, conflicts, quarantine.

Every list takes the filters of ``hangup.store.params`` and pages with an opaque keyset cursor; exports
stream the whole filtered log. The CLI calls the same store functions with the same filters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from hangup import ingest
from hangup.bounds import digits
from hangup.causes.actions import ActionOverrides, call_action
from hangup.errors import NotFound, PayloadError
from hangup.legs import leg_json
from hangup.records import CallRecord
from hangup.stats import timers
from hangup.store.base import CallQuery, Store
from hangup.store.export import csv_lines, jsonl_lines
from hangup.store.params import call_query
from hangup.store.sql import decode_cursor
from hangup.web.dashboard_api import service_of
from hangup.web.responses import JSONBody
from hangup.web.state import AppState

FORMATS = ("json", "csv", "jsonl")
_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


def _store(request: Request) -> Store:
    state: AppState = request.app.state.hangup
    return state.store


def _format(request: Request, default: str) -> str:
    values = request.query_params.getlist("format")
    if len(values) > 1 or (values and values[0] not in FORMATS):
        raise PayloadError("bad format", [{"field": "format", "error": f"expected one of: {', '.join(FORMATS)}"}])
    return values[0] if values else default


async def list_calls(request: Request) -> Response:
    fmt = _format(request, "json")
    query = call_query(request.query_params.multi_items(), allowed_extra=("format",))
    if fmt != "json":
        return _export(_store(request), query, fmt)
    store = _store(request)
    page = await run_in_threadpool(store.query, query)
    actions: ActionOverrides = request.app.state.hangup.actions
    calls = [{**c.to_json(), "action": call_action(c, actions)["action"]} for c in page.calls]
    return JSONBody({"ok": True, "calls": calls, "next_cursor": page.next_cursor})


async def export_csv(request: Request) -> Response:
    return _export(_store(request), call_query(request.query_params.multi_items()), "csv")


async def export_jsonl(request: Request) -> Response:
    return _export(_store(request), call_query(request.query_params.multi_items()), "jsonl")


def _export(store: Store, query: CallQuery, fmt: str) -> Response:
    if query.cursor:
        decode_cursor(query.cursor)  # fail with a 400 now, not half-way through the stream
    records: Iterator[CallRecord] = store.iter_calls(query)
    lines = csv_lines(records) if fmt == "csv" else jsonl_lines(records)
    filename = f"calls.{fmt}"
    return StreamingResponse(lines, media_type=_MEDIA[fmt],
                             headers={"content-disposition": f'attachment; filename="{filename}"'})


async def _found(store: Store, call_id: str) -> CallRecord:
    record = await run_in_threadpool(store.get, call_id)
    if record is None:
        raise NotFound(f"no call {call_id[:80]!r}",
                       [{"field": "id", "error": "no call with this hangup or platform id"}])
    return record


async def call_detail(request: Request) -> Response:
    """``/api/calls/{id}`` and ``/api/calls/{id}/status`` (ids may contain ``/``, so one route serves both)."""
    call_id: str = request.path_params["call_id"]
    store = _store(request)
    if call_id.endswith("/status"):
        record = await _found(store, call_id[: -len("/status")])
        return JSONBody({"ok": True, **ingest.status(record, request.app.state.hangup.actions)})
    record = await _found(store, call_id)
    conflicts = await run_in_threadpool(store.conflicts, record.id)
    legs = await run_in_threadpool(store.legs, record.id)
    body: dict[str, Any] = {"ok": True, **ingest.explain(record, overrides=request.app.state.hangup.actions)}
    body["timer"] = await run_in_threadpool(timers.call_annotation, service_of(request).db, record)
    body["conflicts"] = [_conflict_json(c) for c in conflicts]
    body["legs"] = [leg_json(leg) for leg in legs]
    return JSONBody(body)


def _conflict_json(conflict: Any) -> dict[str, Any]:
    return {"id": conflict.id, "call_id": conflict.call_id, "received_at": conflict.received_at,
            "raw": conflict.raw, "differences": conflict.differences}


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    values = request.query_params.getlist(name)
    if not values:
        return default
    text = values[0]
    number = digits(text, len(str(high)))
    if len(values) > 1 or number is None or not low <= number <= high:
        raise PayloadError(f"bad {name}", [{"field": name, "error": f"expected an integer from {low} to {high}"}])
    return number


def _only(request: Request, *names: str) -> None:
    unknown = [k for k in request.query_params if k not in names]
    if unknown:
        raise PayloadError("unknown parameter", [{"field": k[:64], "error": "unknown parameter"} for k in unknown])


async def list_conflicts(request: Request) -> Response:
    _only(request, "call_id", "limit")
    call_id = request.query_params.get("call_id")
    limit = _int_param(request, "limit", 100, 1, 1000)
    conflicts = await run_in_threadpool(_store(request).conflicts, call_id, limit)
    return JSONBody({"ok": True, "conflicts": [_conflict_json(c) for c in conflicts]})


async def list_quarantine(request: Request) -> Response:
    _only(request, "limit", "before")
    limit = _int_param(request, "limit", 100, 1, 1000)
    before = _int_param(request, "before", 0, 0, 2**62) or None
    entries = await run_in_threadpool(_store(request).quarantined, limit, before)
    return JSONBody({"ok": True, "quarantine": [e.to_json() for e in entries]})


routes: list[BaseRoute] = [
    Route("/api/calls", list_calls, methods=["GET"]),
    Route("/api/calls.csv", export_csv, methods=["GET"]),
    Route("/api/calls.jsonl", export_jsonl, methods=["GET"]),
    Route("/api/calls/{call_id:path}", call_detail, methods=["GET"]),
    Route("/api/conflicts", list_conflicts, methods=["GET"]),
    Route("/api/quarantine", list_quarantine, methods=["GET"]),
]
