"""Dashboard pages of the call log: the filtered list and one call explained.

The list uses the call log's own filter parser (``hangup.store.params``) and store query, as
``/api/calls`` does; a call's page adds a timeline (setup, answer, end) to ``hangup.ingest.explain``,
which ``/api/calls/{id}`` serves, so every release code is shown with its meaning and next steps.
"""

from __future__ import annotations

from typing import Any, get_args

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from hangup import ingest
from hangup.causes import default_catalog
from hangup.errors import NotFound
from hangup.legs import leg_json
from hangup.records import CallRecord, CallType
from hangup.stats import timers
from hangup.stats.labels import duration, value_label
from hangup.store.base import Store
from hangup.store.params import FILTERS, call_query
from hangup.taxonomy import Outcome
from hangup.web.dashboard_api import service_of
from hangup.web.dashboard_render import page
from hangup.web.state import AppState

#: Filters offered in the call log's form: (parameter, label, choices or None for free text).
FORM_FILTERS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("outcome", "Outcome", tuple(str(o) for o in Outcome)),
    ("provider", "Provider", None),
    ("call_end_reason", "Call end reason", None),
    ("terminate", "Terminate", None),
    ("from_user_id", "Caller", None),
    ("to_user_id", "Callee", None),
    ("type", "Type", get_args(CallType)),
    ("normal", "Normal end", ("true", "false")),
)


def _store(request: Request) -> Store:
    state: AppState = request.app.state.hangup
    return state.store


def _row(record: CallRecord) -> dict[str, Any]:
    reason = value_label("call_end_reason", str(record.call_end_reason)) if record.call_end_reason else ""
    return {
        "id": record.id,
        "end_time": record.end_time or int(record.received_at),
        "from": record.from_user_id,
        "to": record.to_user_id,
        "provider": record.provider,
        "route": record.route,
        "to_country": record.to_country,
        "type": record.call_type,
        "duration": record.duration,
        "outcome": record.outcome,
        "ended_by": record.ended_by,
        "reason": reason or value_label("cause", record.cause),
        "normal": record.normal,
        "flags": list(record.flags),
    }


async def calls_data(request: Request) -> dict[str, Any]:
    items = [(k, v) for k, v in request.query_params.multi_items() if v != ""]
    query = call_query(items)
    store = _store(request)
    page_of_calls = await run_in_threadpool(store.query, query)
    total = await run_in_threadpool(store.count, query)
    params = {k: v for k, v in items if k != "cursor"}
    return {
        "title": "Calls",
        "filters": params,
        "form": [{"name": n, "label": label, "choices": list(c) if c else None} for n, label, c in FORM_FILTERS],
        "known_filters": sorted(FILTERS),
        "count": total,
        "calls": [_row(r) for r in page_of_calls.calls],
        "next_cursor": page_of_calls.next_cursor,
    }


def timeline(record: CallRecord) -> list[dict[str, Any]]:
    """Setup -> answer -> end, with the time each step took."""
    steps: list[dict[str, Any]] = []
    if record.setup_time:
        steps.append({"step": "setup", "label": "Call placed", "at": record.setup_time, "note": ""})
    if record.start_time:
        waited = record.start_time - record.setup_time if record.setup_time else None
        note = f"answered after {duration(waited)}" if waited is not None and waited >= 0 else ""
        steps.append({"step": "answer", "label": "Answered", "at": record.start_time, "note": note})
    else:
        steps.append({"step": "answer", "label": "Never answered", "at": None, "note": ""})
    if record.end_time:
        note = f"after {duration(record.duration)} of conversation" if record.answered else ""
        if not record.answered and record.setup_time:
            note = f"{duration(record.end_time - record.setup_time)} after it was placed"
        steps.append({"step": "end", "label": f"Ended by {record.ended_by.replace('_', ' ')}", "at": record.end_time,
                      "note": note})
    steps.append({"step": "received", "label": "Reported to hangup", "at": record.received_at, "note": ""})
    return steps


def _extra_codes(record: CallRecord, known: set[str]) -> list[dict[str, Any]]:
    """Planet's simple and detail codes, explained even when the primary cause is another scheme."""
    refs = []
    if record.call_end_reason is not None:
        refs.append(f"planet:{record.call_end_reason}")
    if record.terminate is not None:
        refs.append(f"planet-terminate:{record.terminate}")
    catalog = default_catalog()
    return [catalog.resolve(ref).to_json() for ref in refs if ref not in known]


async def call_data(request: Request) -> dict[str, Any]:
    call_id: str = request.path_params["call_id"]
    store = _store(request)
    record = await run_in_threadpool(store.get, call_id)
    if record is None:
        raise NotFound(f"no call {call_id[:80]!r}", [{"field": "id", "error": "no call with this id"}])
    explained = ingest.explain(record, overrides=request.app.state.hangup.actions)
    codes = explained["codes"]
    codes.extend(_extra_codes(record, {c["ref"] for c in codes}))
    legs = [leg_json(leg) for leg in await run_in_threadpool(store.legs, record.id)]
    timer = await run_in_threadpool(timers.call_annotation, service_of(request).db, record)
    return {"title": f"Call {record.id}", **explained, "codes": codes, "timeline": timeline(record), "legs": legs,
            "timer": timer}


calls_html, calls_json = page("calls.html", calls_data)
call_html, call_json = page("call.html", call_data)


async def call_page(request: Request) -> Any:
    """``/calls/{id}`` and ``/calls/{id}.json`` (ids may contain dots and slashes, so one route serves both)."""
    call_id: str = request.path_params["call_id"]
    if call_id.endswith(".json"):
        request.scope["path_params"] = {"call_id": call_id[: -len(".json")]}
        return await call_json(request)
    return await call_html(request)


routes: list[BaseRoute] = [
    Route("/calls", calls_html, methods=["GET"]),
    Route("/calls.json", calls_json, methods=["GET"]),
    Route("/calls/{call_id:path}", call_page, methods=["GET"]),
]
