"""The browser dashboard: overview, breakdowns and the reference of every release code.

Each page is one data function (its ``.json`` twin serves the same dict). Figures come from
``hangup.stats.service`` exactly as ``/api/stats/*`` gives them; the call log and a call's page live in
``dashboard_calls``. Static files (CSS, the chart script and the vendored uPlot) are package data.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hangup.causes import default_catalog
from hangup.stats import explain as changes
from hangup.stats.buckets import DAY, HOUR
from hangup.stats.dimensions import BREAKDOWNS, DIMENSIONS, ROUTE_DIMENSIONS, TOPS, get_dimension
from hangup.stats.metrics import METRICS
from hangup.stats.route_table import descending, route_table
from hangup.stats.service import MAX_ROWS, StatsService
from hangup.stats.windows import Window, call_log_params, calls_link, parse_window
from hangup.web.dashboard_api import explain_answer, int_param, min_samples_of, service_of, timer_insights
from hangup.web.dashboard_calls import routes as call_routes
from hangup.web.dashboard_render import login, login_form, page

#: Range shortcuts offered on every statistics page.
RANGES = (("1h", "1 hour"), ("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days"))
_PAGE_PARAMS = ("metric", "bucket", "by", "q", "scheme", "min_samples", "limit", "sort", "order")


def auto_bucket(window: Window, minute_horizon: int | None = None) -> str:
    """Minutes for a short range whose minute rows are kept, hours up to 8 days, else days."""
    span = window.end - window.start
    if span <= 3 * HOUR and (minute_horizon is None or window.start >= minute_horizon):
        return "minute"
    return "hour" if span <= 8 * DAY else "day"


def _params(request: Request) -> dict[str, str]:
    """The statistics parameters of this request, to carry into links (``range=24h`` by default)."""
    given = {k: v for k, v in request.query_params.items() if k not in _PAGE_PARAMS and v}
    if not any(k in given for k in ("since", "until", "from", "to", "range")):
        given["range"] = "24h"
    return given


def _window(request: Request) -> Window:
    return parse_window(list(_params(request).items()), allowed=_PAGE_PARAMS)


def drill_link(window: Window, dim: str, value: str) -> str:
    """Where a breakdown row leads: the calls it counts when the call log can filter on it, else a drill-down."""
    field = {"user": "from_user_id", "destination": "to_user_id"}.get(dim, dim)
    link = calls_link(window, field, value)
    if link or (value == "" and dim in ("call_end_reason", "terminate")):
        return link
    if dim in TOPS:
        return ""
    return "/breakdowns?" + urlencode({"since": window.start, "until": window.end, **window.filters, dim: value})


def _common(request: Request, window: Window, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "window": window.to_json(),
        "params": _params(request),
        "ranges": [{"id": r, "label": label} for r, label in RANGES],
        "call_log": "/calls?" + urlencode(call_log_params(window)),
    }


async def overview_data(request: Request) -> dict[str, Any]:
    window = _window(request)
    service: StatsService = service_of(request)
    bucket = request.query_params.get("bucket") or auto_bucket(window, service.minute_horizon())
    min_samples = min_samples_of(request)
    data = await run_in_threadpool(service.overview, window, bucket, min_samples)
    for row in data["reasons"]["rows"]:
        row["link"] = drill_link(window, "call_end_reason", row["value"])
    for row in data["outcomes"]["rows"]:
        row["link"] = drill_link(window, "outcome", row["value"])
    for row in data["top_users"]["rows"]:
        row["link"] = drill_link(window, "user", row["value"])
    return {**_common(request, window, "Overview"), **data, "bucket": bucket}


async def breakdowns_data(request: Request) -> dict[str, Any]:
    window = _window(request)
    by = get_dimension(request.query_params.get("by") or "call_end_reason").id
    service: StatsService = service_of(request)
    min_samples = min_samples_of(request)
    limit = int_param(request, "limit", 100, 1, MAX_ROWS) or 100
    table = await run_in_threadpool(service.breakdown, window, by, min_samples, limit)
    for row in table["rows"]:
        row["link"] = drill_link(window, by, row["value"])
    tabs = [{"id": d, "label": DIMENSIONS[d].label} for d in (*BREAKDOWNS, *TOPS)]
    return {**_common(request, window, f"Breakdown by {DIMENSIONS[by].label.lower()}"), "by": by, "tabs": tabs,
            "table": table}


async def routes_data(request: Request) -> dict[str, Any]:
    """Routes and destinations (``hangup.stats.route_table``), sortable, each row leading to its calls."""
    window = _window(request)
    by = request.query_params.get("by") or "route"
    sort = request.query_params.get("sort") or "attempts"
    down = descending(request.query_params.get("order"))
    min_samples = min_samples_of(request)
    limit = int_param(request, "limit", 50, 1, MAX_ROWS) or 50
    table = await run_in_threadpool(route_table, service_of(request), window, by, sort=sort, descending=down,
                                    limit=limit, min_samples=min_samples)
    for row in table["rows"]:
        row["link"] = drill_link(window, by, row["value"])
    tabs = [{"id": d, "label": DIMENSIONS[d].label} for d in ROUTE_DIMENSIONS]
    return {**_common(request, window, f"Routes by {DIMENSIONS[by].label.lower()}"), "by": by, "tabs": tabs,
            "table": table, "sort": sort, "order": "desc" if down else "asc"}
async def changes_data(request: Request) -> dict[str, Any]:
    """What moved a KPI in the range against a baseline (a week earlier unless asked otherwise)."""
    window = parse_window(request.query_params.multi_items(), allowed=changes.PARAMS)
    answer = await run_in_threadpool(explain_answer(request), service_of(request), window)
    metrics = [{"id": m, "label": METRICS[m].label} for m in changes.PARTS]
    return {**_common(request, window, f"What changed: {answer['label']}"), "answer": answer, "metrics": metrics,
            "headline": changes.headline(answer)}


async def timers_data(request: Request) -> dict[str, Any]:
    """Answered calls whose durations pile up on one value: the timer suspected and the calls behind it."""
    window = parse_window(request.query_params.multi_items())
    answer = await run_in_threadpool(timer_insights(request), service_of(request), window)
    return {**_common(request, window, "Timer signatures"), "insights": answer}


async def codes_data(request: Request) -> dict[str, Any]:
    """Every release code hangup knows, optionally narrowed by a search text and a scheme."""
    q = (request.query_params.get("q") or "").strip().casefold()[:100]
    scheme = request.query_params.get("scheme") or ""
    catalog = default_catalog()
    schemes = sorted(catalog.schemes)
    entries = []
    for cause in catalog.entries(scheme if scheme in schemes else None):
        text = f"{cause.ref} {cause.name} {cause.description} {cause.outcome} {cause.fault}".casefold()
        if q and q not in text:
            continue
        entries.append(
            {"ref": cause.ref, "scheme": cause.scheme, "code": cause.code, "name": cause.name,
             "description": cause.description, "outcome": str(cause.outcome), "ended_by": str(cause.ended_by),
             "fault": str(cause.fault), "normal": cause.normal, "next_steps": cause.next_steps,
             "q850": cause.q850, "sip": cause.sip}
        )
    return {"title": "Release codes", "q": q, "scheme": scheme, "schemes": schemes, "codes": entries,
            "count": len(entries)}


overview_html, overview_json = page("overview.html", overview_data)
breakdowns_html, breakdowns_json = page("breakdowns.html", breakdowns_data)
codes_html, codes_json = page("codes.html", codes_data)
routes_html, routes_json = page("routes.html", routes_data)
changes_html, changes_json = page("changes.html", changes_data)
timers_html, timers_json = page("timers.html", timers_data)


async def login_page(request: Request) -> Response:
    """The form (GET) and the sign-in (POST) on one route, so that a 405 there lists both in ``Allow``."""
    return await (login(request) if request.method == "POST" else login_form(request))


routes: list[BaseRoute] = [
    Route("/", overview_html, methods=["GET"]),
    Route("/overview.json", overview_json, methods=["GET"]),
    Route("/breakdowns", breakdowns_html, methods=["GET"]),
    Route("/breakdowns.json", breakdowns_json, methods=["GET"]),
    Route("/routes", routes_html, methods=["GET"]),
    Route("/routes.json", routes_json, methods=["GET"]),
    Route("/changes", changes_html, methods=["GET"]),
    Route("/changes.json", changes_json, methods=["GET"]),
    Route("/timers", timers_html, methods=["GET"]),
    Route("/timers.json", timers_json, methods=["GET"]),
    Route("/codes", codes_html, methods=["GET"]),
    Route("/codes.json", codes_json, methods=["GET"]),
    *call_routes,
    Route("/login", login_page, methods=["GET", "POST"]),
    Mount("/static", app=StaticFiles(packages=[("hangup.web", "static")]), name="static"),
]
